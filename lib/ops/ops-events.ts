import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import { Construct } from 'constructs';
import { type AlarmRoutes, routeTopics, type Severity } from '../shared/alarm-set';
import { RELEASE_EVENT } from '../shared/naming';

export interface OpsEventsProps {
  /** The stage's routes (their policies and key admit EventBridge of this account). */
  readonly routes: AlarmRoutes;
  readonly clusterArn: string;
  readonly serviceArns: string[];
  /** DB instance identifier of the stage's database. */
  readonly databaseIdentifier: string;
  /** The cluster the stage's scheduled jobs run in (the dump, its check, the anonymisation). */
  readonly jobsClusterArn: string;
  /** The stage, whose release events (lambda/release-record) the rules read. */
  readonly stage: string;
}

/**
 * A release recorded without its pre-deploy snapshot (-c skipPreDeploySnapshot=true) is a ticket:
 * nothing is broken, but the release has no restore point of its own until someone takes one.
 */
export const RELEASE_WITHOUT_SNAPSHOT_SEVERITY: Severity = 'ticket';

/** RDS event categories worth a person's attention. */
export const RDS_EVENT_CATEGORIES = ['availability', 'failover', 'failure', 'low storage', 'maintenance'];

/** AWS Backup job states that mean no recovery point (or copy) was made. */
export const BACKUP_FAILED_STATES = ['FAILED', 'ABORTED', 'EXPIRED'];

/** An EventBridge rule that sends each matching event to the route of its severity as the one line `message`. */
export function notifyingRule(
  scope: Construct,
  id: string,
  routes: AlarmRoutes,
  props: { readonly description: string; readonly eventPattern: events.EventPattern; readonly message: string; readonly severity: Severity },
): events.Rule {
  const rule = new events.Rule(scope, id, { description: props.description, eventPattern: props.eventPattern });
  // Chat channels post only their custom-notification JSON (Amazon Q Developer in chat
  // applications, "Custom notifications"); emails and pagers read its description as well.
  const message = routes.chat
    ? events.RuleTargetInput.fromObject({ version: '1.0', source: 'custom', content: { description: props.message } })
    : events.RuleTargetInput.fromText(props.message);
  for (const topic of routeTopics(routes, props.severity)) rule.addTarget(new targets.SnsTopic(topic, { message }));
  return rule;
}

/**
 * Defines EventBridge rules that turn AWS events into tickets, each as a
 * readable one-line message: failed ECS deployments and service errors (tasks that cannot be
 * placed or started), service tasks that stopped because a container exited or could not start
 * (not the scheduler's own stops during deploys and scale-in), events of the stage's database
 * (failover, failure, low storage, maintenance, availability), failed AWS Backup and copy
 * jobs in the stage's account and region, and a release recorded without its pre-deploy snapshot.
 */
export class OpsEvents extends Construct {
  readonly rules: events.Rule[] = [];

  constructor(scope: Construct, id: string, props: OpsEventsProps) {
    super(scope, id);
    const field = (path: string) => events.EventField.fromPath(path);
    // Tickets all: what these report either heals itself (a rollback, a failover, a retried job)
    // or shows as a paging alarm when it hurts (tasks below desired, 5xx, the database's alarms).
    const rule = (ruleId: string, description: string, eventPattern: events.EventPattern, message: string) =>
      this.rules.push(notifyingRule(this, ruleId, props.routes, { description, eventPattern, message, severity: 'ticket' }));

    rule(
      'EcsDeploymentFailed',
      'ECS deployment of a stage service failed (circuit breaker or alarm rolled it back)',
      { source: ['aws.ecs'], detailType: ['ECS Deployment State Change'], resources: props.serviceArns, detail: { eventName: ['SERVICE_DEPLOYMENT_FAILED'] } },
      `ECS deployment FAILED for ${field('$.resources[0]')}: ${field('$.detail.reason')} (deployment ${field('$.detail.deploymentId')}). Runbook: docs/alarms.md#ecs-deployment-failed`,
    );
    rule(
      'EcsServiceErrors',
      'ECS reported an error for a stage service (tasks cannot be placed or started)',
      { source: ['aws.ecs'], detailType: ['ECS Service Action'], resources: props.serviceArns, detail: { eventType: ['ERROR'] } },
      `ECS service error ${field('$.detail.eventName')} for ${field('$.resources[0]')}. Runbook: docs/alarms.md#ecs-service-error`,
    );
    rule(
      'EcsTaskStoppedForErrors',
      'A service task of the stage stopped because a container exited or the task could not start',
      {
        source: ['aws.ecs'],
        detailType: ['ECS Task State Change'],
        detail: {
          clusterArn: [props.clusterArn],
          lastStatus: ['STOPPED'],
          stopCode: ['EssentialContainerExited', 'TaskFailedToStart'],
          group: [{ prefix: 'service:' }],
        },
      },
      `ECS task of ${field('$.detail.group')} stopped (${field('$.detail.stopCode')}): ${field('$.detail.stoppedReason')}. Task ${field('$.detail.taskArn')}. Runbook: docs/alarms.md#ecs-task-stopped`,
    );
    // A job's task ends by itself: exit 0 is success, so the rule looks at the exit codes. It
    // catches what no metric can: a job that fails before it publishes, the first night included.
    rule(
      'JobTaskFailed',
      'A scheduled job of the stage (the dump, its restore check, the anonymisation, a restore) failed or could not start',
      {
        source: ['aws.ecs'],
        detailType: ['ECS Task State Change'],
        detail: {
          clusterArn: [props.jobsClusterArn],
          lastStatus: ['STOPPED'],
          $or: [{ stopCode: ['TaskFailedToStart'] }, { containers: { exitCode: [{ 'anything-but': 0 }] } }],
        },
      },
      `Job ${field('$.detail.group')} failed (${field('$.detail.stopCode')}): ${field('$.detail.stoppedReason')}. Task ${field('$.detail.taskArn')}; its log says why. Runbook: docs/alarms.md#job-task-failed`,
    );
    rule(
      'RdsInstanceEvents',
      'Failover, failure, low storage, maintenance and availability events of the stage database',
      {
        source: ['aws.rds'],
        detailType: ['RDS DB Instance Event'],
        detail: { SourceIdentifier: [props.databaseIdentifier], EventCategories: RDS_EVENT_CATEGORIES },
      },
      `RDS event for ${field('$.detail.SourceIdentifier')} (${field('$.detail.EventID')}): ${field('$.detail.Message')}. Runbook: docs/alarms.md#rds-event`,
    );
    rule(
      'BackupJobFailed',
      'An AWS Backup backup or copy job in this account and region failed, aborted or expired',
      {
        source: ['aws.backup'],
        detailType: ['Backup Job State Change', 'Copy Job State Change'],
        // AWS Backup reports `state` on some job events and `status` on others: match both.
        detail: { $or: [{ state: BACKUP_FAILED_STATES }, { status: BACKUP_FAILED_STATES }] },
      },
      `AWS Backup ${field('$.detail-type')}: ${field('$.detail.state')}${field('$.detail.status')} for ${field('$.detail.resourceArn')}: ${field('$.detail.statusMessage')}. Runbook: docs/alarms.md#backup-job-failed`,
    );
    rule(
      'ReleaseWithoutSnapshot',
      `A release of the stage was recorded without its pre-deploy snapshot (-c skipPreDeploySnapshot=true); severity ${RELEASE_WITHOUT_SNAPSHOT_SEVERITY}`,
      { source: [RELEASE_EVENT.source], detailType: [RELEASE_EVENT.detailType], detail: { stage: [props.stage], snapshotSkipped: [true] } },
      `Release ${field('$.detail.release')} of ${props.stage} (${field('$.detail.image')}) was deployed WITHOUT a pre-deploy snapshot at ${field('$.detail.completedAt')}: it has no restore point of its own. Runbook: docs/alarms.md#release-without-snapshot`,
    );
  }
}
