import { type CfnElement, CustomResource, Duration, Stack } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { releaseParameter } from '../../lambda/release-record/stored';
import { httpsOnlySecurityGroup } from '../shared/https-only-group';
import { type LogSettings, logSettings } from '../shared/log-group';
import { RELEASE_METRICS_NAMESPACE } from '../shared/naming';
import { handlerEntry } from '../shared/paths';
import { ProjectFunction } from '../shared/project-function';
import { acknowledgeProviderFindings } from '../shared/provider-findings';
import { APP_CONTAINER } from './app-task';

export interface ReleaseRecordProps extends LogSettings {
  readonly vpc: ec2.IVpc;
  readonly stage: string;
  readonly release: string;
  /** The image reference the release deploys. */
  readonly image: string;
  /** The stage's image repository, where the function reads the image's digest. */
  readonly repositoryName: string;
  /** The git commit the assembly was synthesized from. @default none recorded */
  readonly commit?: string;
  /** The release's pre-deploy snapshot id and when that step started (the snapshot custom resource's attributes). */
  readonly snapshotId: string;
  readonly startedAt: string;
  /**
   * The migration's duration, task and start (its custom resource's attributes) and where its task
   * logs (the function reads the names the tool reported there), where there is one.
   */
  readonly migration?: { readonly seconds: string; readonly task: string; readonly startedAt: string; readonly logGroup: logs.ILogGroup; readonly streamPrefix: string };
}

/**
 * Defines the release record: a custom resource that runs once a release has reached both
 * services (it depends on them) and writes the stage's release parameter
 * (`/webapp/<stage>/releases/current`: release id, commit, image digest, migration, snapshot,
 * times, previous release; its history is the release history that rollback and restore read),
 * one metric point (`webapp/Releases`, `Release` and `MigrationSeconds` per stage; the dashboard
 * graphs them) and one EventBridge event (`webapp.release` / "Release Completed") on the
 * account's default bus. A record that cannot be written is logged as an error; it never rolls a
 * healthy release back. lambda/release-record/ has the logic.
 */
export class ReleaseRecord extends Construct {
  readonly resource: CustomResource;
  readonly function: ProjectFunction;

  constructor(scope: Construct, id: string, props: ReleaseRecordProps) {
    super(scope, id);
    const { region, account, partition } = Stack.of(this);
    const securityGroup = httpsOnlySecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Release record: calls the SSM, ECR, CloudWatch and EventBridge APIs over HTTPS only',
      httpsTo: 'HTTPS to the SSM, ECR, CloudWatch and EventBridge APIs',
    });

    this.function = new ProjectFunction(this, 'Handler', {
      entry: handlerEntry('release-record'),
      handler: 'onEvent',
      description: `Records each ${props.stage} release that reached its services`,
      vpc: props.vpc,
      securityGroups: [securityGroup],
      timeout: Duration.minutes(1),
      ...logSettings(props),
    });
    const fn = this.function.fn;
    this.function.publishesMetrics('PublishTheReleaseMetric', RELEASE_METRICS_NAMESPACE);
    fn.addToRolePolicy(
      new iam.PolicyStatement({ sid: 'PublishTheReleaseEvent', actions: ['events:PutEvents'], resources: [`arn:${partition}:events:${region}:${account}:event-bus/default`] }),
    );
    // The stage's one release parameter, read (for the previous release) and written; nothing else in SSM.
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'WriteTheReleaseRecord',
        actions: ['ssm:GetParameter', 'ssm:GetParameterHistory', 'ssm:PutParameter'],
        resources: [`arn:${partition}:ssm:${region}:${account}:parameter${releaseParameter(props.stage)}`],
      }),
    );
    // A stack rollback records the release that runs again, with what ran before it (not the failed one).
    fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'SeeARollback', actions: ['cloudformation:DescribeStacks'], resources: [Stack.of(this).stackId] }));
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadTheImageDigest',
        actions: ['ecr:DescribeImages'],
        resources: [`arn:${partition}:ecr:${region}:${account}:repository/${props.repositoryName}`],
      }),
    );

    if (props.migration) {
      // Built from the name: the log group's Arn attribute ends in ":*", which a stream ARN cannot follow.
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'ReadTheMigrationReport',
          actions: ['logs:GetLogEvents'],
          resources: [`arn:${partition}:logs:${region}:${account}:log-group:${props.migration.logGroup.logGroupName}:log-stream:*`],
        }),
      );
      const stack = Stack.of(this);
      this.function.acknowledgeWildcards({
        [`arn:aws:logs:${region}:${account}:log-group:<${stack.getLogicalId(props.migration.logGroup.node.defaultChild as CfnElement)}>:log-stream:*`]:
          "The record reads the migration tool's report from the migration task's own log stream, named after the task id (read-only).",
      });
    }

    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: fn,
      vpc: props.vpc,
      vpcSubnets: { subnets: props.vpc.privateSubnets },
      securityGroups: [securityGroup],
      logGroup: this.function.logGroup,
    });
    acknowledgeProviderFindings(provider, [fn]);

    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::ReleaseRecord',
      properties: {
        Stage: props.stage,
        Release: props.release,
        Image: props.image,
        ...(props.commit ? { Commit: props.commit } : {}),
        SnapshotId: props.snapshotId,
        StartedAt: props.startedAt,
        ...(props.migration
          ? {
              MigrationSeconds: props.migration.seconds,
              MigrationTask: props.migration.task,
              MigrationStartedAt: props.migration.startedAt,
              MigrationLogGroup: props.migration.logGroup.logGroupName,
              MigrationStreamPrefix: `${props.migration.streamPrefix}/${APP_CONTAINER}`,
            }
          : {}),
      },
    });
  }
}
