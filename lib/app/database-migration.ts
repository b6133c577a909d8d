import { type CfnElement, CustomResource, Duration, Stack } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import type { StageDatabase } from '../data/database';
import { httpsOnlySecurityGroup } from '../shared/https-only-group';
import { type LogSettings, logSettings } from '../shared/log-group';
import { PROJECT } from '../shared/naming';
import { handlerEntry } from '../shared/paths';
import { ProjectFunction } from '../shared/project-function';
import { acknowledgeProviderFindings } from '../shared/provider-findings';
import { APP_CONTAINER, type AppTask } from './app-task';

export interface DatabaseMigrationProps extends LogSettings {
  readonly vpc: ec2.IVpc;
  readonly stage: string;
  readonly cluster: ecs.ICluster;
  /** The migration task: the release image with the migration command, logged in as the migration role. */
  readonly task: AppTask;
  /** The database the migration connects to (its security group admits the task). */
  readonly database: StageDatabase;
  /** The release id the pre-deploy snapshot was taken for. */
  readonly release: string;
  /** Minutes the migration may run before it is stopped and the deploy fails (app.migrationTimeoutMinutes). */
  readonly timeoutMinutes: number;
}

/**
 * Defines the release's database migration: a custom resource (Provider framework, onEvent +
 * isComplete) that runs one ECS task of the release image with the migration command, in the
 * private subnets, as the migration database role, and waits for it to stop. The deploy fails
 * (and CloudFormation rolls the services back) when the task cannot start, exits non-zero or runs
 * past the timeout; the message names the task, the exit code, the stop reason and the last log
 * lines. A release is migrated once per database (recorded in SSM under the instance's resource
 * id, which a restore changes), never on delete and never while the stack rolls back. lambda/database-migration/ has the logic.
 */
export class DatabaseMigration extends Construct {
  readonly resource: CustomResource;
  readonly functions: ProjectFunction[];
  readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: DatabaseMigrationProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { region, account, partition } = stack;

    // The migration task's own group: out to the database and to HTTPS (AWS APIs, the registry).
    this.securityGroup = httpsOnlySecurityGroup(this, 'TaskSecurityGroup', {
      vpc: props.vpc,
      description: 'Migration task: to the database and HTTPS only',
      httpsTo: 'HTTPS to AWS APIs and the image registry',
    });
    this.securityGroup.connections.allowToDefaultPort(props.database, 'Migration task');

    const handlerGroup = httpsOnlySecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Migration custom resource: calls AWS APIs over HTTPS only',
      httpsTo: 'HTTPS to the ECS, RDS, CloudWatch Logs, SSM and CloudFormation APIs',
    });

    const common = { entry: handlerEntry('database-migration'), vpc: props.vpc, securityGroups: [handlerGroup], timeout: Duration.minutes(1), ...logSettings(props) };
    const onEvent = new ProjectFunction(this, 'Handler', { ...common, handler: 'onEvent', description: `Starts the database migration of a ${props.stage} release` });
    const isComplete = new ProjectFunction(this, 'IsComplete', { ...common, handler: 'isComplete', description: `Waits for the database migration of a ${props.stage} release` });
    this.functions = [onEvent, isComplete];

    const taskDefinition = props.task.taskDefinition;
    // One record per database (named after its resource id, which a restore changes).
    const recordPrefix = `/${PROJECT}/${props.stage}/migrated-releases`;
    const familyArn = `arn:${partition}:ecs:${region}:${account}:task-definition/${taskDefinition.family}:*`;
    const tasks = `arn:${partition}:ecs:${region}:${account}:task/${props.cluster.clusterName}/*`;
    const statements = [
      new iam.PolicyStatement({
        sid: 'RunTheMigrationTask',
        actions: ['ecs:RunTask'],
        resources: [familyArn],
        conditions: { ArnEquals: { 'ecs:cluster': props.cluster.clusterArn } },
      }),
      // The task is tagged with its release as RunTask starts it; no other tagging.
      new iam.PolicyStatement({ sid: 'TagItAtStart', actions: ['ecs:TagResource'], resources: [tasks], conditions: { StringEquals: { 'ecs:CreateAction': 'RunTask' } } }),
      new iam.PolicyStatement({ sid: 'WatchAndStopIt', actions: ['ecs:DescribeTasks', 'ecs:StopTask'], resources: [tasks] }),
      new iam.PolicyStatement({
        sid: 'PassItsRoles',
        actions: ['iam:PassRole'],
        resources: [taskDefinition.taskRole.roleArn, taskDefinition.obtainExecutionRole().roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      }),
      // Built from the name: the log group's Arn attribute ends in ":*", which a stream ARN cannot follow.
      new iam.PolicyStatement({
        sid: 'ReadItsLogs',
        actions: ['logs:GetLogEvents'],
        resources: [`arn:${partition}:logs:${region}:${account}:log-group:${props.task.logGroup.logGroupName}:log-stream:*`],
      }),
      new iam.PolicyStatement({
        sid: 'RecordMigratedReleases',
        actions: ['ssm:GetParameter', 'ssm:PutParameter'],
        resources: [`arn:${partition}:ssm:${region}:${account}:parameter${recordPrefix}/*`],
      }),
      new iam.PolicyStatement({ sid: 'IdentifyTheDatabase', actions: ['rds:DescribeDBInstances'], resources: [props.database.instance.instanceArn] }),
      new iam.PolicyStatement({ sid: 'SeeARollback', actions: ['cloudformation:DescribeStacks'], resources: [stack.stackId] }),
    ];
    for (const fn of this.functions) for (const statement of statements) fn.fn.addToRolePolicy(statement);

    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: onEvent.fn,
      isCompleteHandler: isComplete.fn,
      queryInterval: Duration.seconds(15),
      // The handler stops the task and fails at the configured timeout; this is only the backstop,
      // within the hour CloudFormation waits for a custom resource.
      totalTimeout: Duration.minutes(Math.min(props.timeoutMinutes + 4, 59)),
      vpc: props.vpc,
      vpcSubnets: { subnets: props.vpc.privateSubnets },
      securityGroups: [handlerGroup],
      logGroup: onEvent.logGroup,
    });

    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::DatabaseMigration',
      properties: {
        Stage: props.stage,
        Release: props.release,
        Cluster: props.cluster.clusterName,
        TaskDefinition: taskDefinition.taskDefinitionArn,
        Subnets: props.vpc.privateSubnets.map((s) => s.subnetId).join(','),
        SecurityGroups: this.securityGroup.securityGroupId,
        Container: APP_CONTAINER,
        LogGroup: props.task.logGroup.logGroupName,
        StreamPrefix: props.task.streamPrefix,
        TimeoutMinutes: String(props.timeoutMinutes),
        DbInstanceIdentifier: props.database.instance.instanceIdentifier,
        RecordPrefix: recordPrefix,
      },
    });

    acknowledgeProviderFindings(
      provider,
      this.functions.map((f) => f.fn),
    );
    const wildcards: Record<string, string> = {
      [`arn:aws:ssm:${region}:${account}:parameter${recordPrefix}/*`]:
        "One record per database, named after its RDS resource id (a restore makes a new one); the prefix holds only the stage's migration records.",
      [familyArn.replace(`arn:${partition}:`, 'arn:aws:')]:
        'RunTask names the migration task definition by family; every revision of that one family may run (each release registers a new one).',
      [`arn:aws:ecs:${region}:${account}:task/<${stack.getLogicalId(props.cluster.node.defaultChild as CfnElement)}>/*`]:
        'The migration task is started, watched and stopped in the stage cluster only; its id is not known in advance.',
      [`arn:aws:logs:${region}:${account}:log-group:<${stack.getLogicalId(props.task.logGroup.node.defaultChild as CfnElement)}>:log-stream:*`]:
        "The failure message reads the last lines of the migration task's own log stream, named after the task id.",
    };
    for (const fn of this.functions) fn.acknowledgeWildcards(wildcards);
  }
}
