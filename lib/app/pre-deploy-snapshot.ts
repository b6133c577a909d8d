import { createHash } from 'node:crypto';
import { Annotations, type CfnElement, CustomResource, Duration, Lazy, Stack } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { httpsOnlySecurityGroup } from '../shared/https-only-group';
import { type LogSettings, logSettings } from '../shared/log-group';
import { projectTag } from '../shared/naming';
import { handlerEntry } from '../shared/paths';
import { ProjectFunction } from '../shared/project-function';
import { acknowledgeProviderFindings } from '../shared/provider-findings';

export interface PreDeploySnapshotProps extends LogSettings {
  readonly vpc: ec2.IVpc;
  readonly stage: string;
  /** DB instance identifier and ARN of the stage database. */
  readonly databaseIdentifier: string;
  readonly databaseArn: string;
  /** The key the database (and so its snapshots) is encrypted with. */
  readonly databaseKeyArn: string;
  readonly cluster: ecs.ICluster;
  /** The web service's task definition: its running image is recorded as the previous image. */
  readonly webTaskDefinition: ecs.TaskDefinition;
  /** Every task definition of the release; a change to any of them is a new release. */
  readonly taskDefinitions: ecs.TaskDefinition[];
  /** The image reference the release deploys (repository:tag or repository@sha256:...). */
  readonly image: string;
  /** The image tag or digest, the readable part of the release id. */
  readonly imageTag: string;
  /** This tool's snapshots kept per region. */
  readonly keep: number;
  /** Copy each snapshot to this region with this key. */
  readonly dr?: { readonly region: string; readonly keyArn: string };
  /** Skip the snapshot for this deploy (-c skipPreDeploySnapshot=true). */
  readonly isSkipped: boolean;
}

/** Minutes the snapshot waits for a busy database (backing up, modifying, ...) before failing. */
export const DB_WAIT_MINUTES = 20;
/** CloudFormation abandons a custom resource after an hour; the provider gives up well before. */
export const SNAPSHOT_TIMEOUT = Duration.minutes(50);

/**
 * Defines the snapshot taken before every release: a custom resource (Provider framework,
 * onEvent + isComplete) that every ECS service of the stage depends on, so CloudFormation has an
 * available snapshot of the database before it touches a service, and fails the deploy when it
 * cannot get one. Its properties carry the release identity (image tag and a hash of every task
 * definition's settings), so it runs on each release and on nothing else. Snapshots are kept when
 * the resource or the stack is deleted. lambda/pre-deploy-snapshot/ has the logic.
 */
export class PreDeploySnapshot extends Construct {
  readonly resource: CustomResource;
  /** The release id: `<image tag>-<8 hex of the task settings' hash>`. */
  readonly release: string;
  readonly functions: ProjectFunction[];

  constructor(scope: Construct, id: string, props: PreDeploySnapshotProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { region, account, partition } = stack;

    const securityGroup = httpsOnlySecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Pre-deploy snapshot: calls the RDS and ECS APIs over HTTPS only',
      httpsTo: 'HTTPS to the RDS and ECS APIs',
    });

    const entry = handlerEntry('pre-deploy-snapshot');
    const common = {
      entry,
      vpc: props.vpc,
      securityGroups: [securityGroup],
      timeout: Duration.minutes(2),
      environment: props.dr ? { DR_REGION: props.dr.region } : undefined,
      ...logSettings(props),
    };
    const onEvent = new ProjectFunction(this, 'Handler', { ...common, handler: 'onEvent', description: `Starts the pre-deploy snapshot of the ${props.stage} database` });
    const isComplete = new ProjectFunction(this, 'IsComplete', {
      ...common,
      handler: 'isComplete',
      description: `Waits for the pre-deploy snapshot of the ${props.stage} database, copies and prunes`,
    });
    this.functions = [onEvent, isComplete];

    const rdsArn = (where: string, resource: string) => `arn:${partition}:rds:${where}:${account}:${resource}`;
    const own = (where: string) => rdsArn(where, `snapshot:predeploy-${props.stage}-*`);
    const ownTagged = { StringEquals: { [`aws:ResourceTag/${projectTag('pre-deploy-snapshot')}`]: 'true', [`aws:ResourceTag/${projectTag('stage')}`]: props.stage } };
    const statements = [
      new iam.PolicyStatement({ sid: 'ReadTheDatabase', actions: ['rds:DescribeDBInstances'], resources: [props.databaseArn] }),
      new iam.PolicyStatement({ sid: 'ListSnapshots', actions: ['rds:DescribeDBSnapshots'], resources: [props.databaseArn, rdsArn(region, 'snapshot:*')] }),
      new iam.PolicyStatement({ sid: 'SnapshotTheDatabase', actions: ['rds:CreateDBSnapshot'], resources: [props.databaseArn, own(region)] }),
      new iam.PolicyStatement({ sid: 'TagOwnSnapshots', actions: ['rds:AddTagsToResource'], resources: [own(region)] }),
      new iam.PolicyStatement({ sid: 'PruneOwnSnapshots', actions: ['rds:DeleteDBSnapshot'], resources: [own(region)], conditions: ownTagged }),
      new iam.PolicyStatement({
        sid: 'ReadTheRunningRelease',
        actions: ['ecs:ListServices'],
        resources: ['*'],
        conditions: { ArnEquals: { 'ecs:cluster': props.cluster.clusterArn } },
      }),
      new iam.PolicyStatement({
        sid: 'ReadTheServices',
        actions: ['ecs:DescribeServices'],
        resources: [`arn:${partition}:ecs:${region}:${account}:service/${props.cluster.clusterName}/*`],
      }),
      new iam.PolicyStatement({ sid: 'ReadTaskDefinitions', actions: ['ecs:DescribeTaskDefinition'], resources: ['*'] }),
    ];
    if (props.dr) {
      const dr = props.dr.region;
      statements.push(
        new iam.PolicyStatement({ sid: 'CopyToTheDrRegion', actions: ['rds:CopyDBSnapshot'], resources: [own(region), own(dr)] }),
        new iam.PolicyStatement({ sid: 'TagOwnDrCopies', actions: ['rds:AddTagsToResource'], resources: [own(dr)] }),
        new iam.PolicyStatement({ sid: 'ListDrCopies', actions: ['rds:DescribeDBSnapshots'], resources: [rdsArn(dr, `db:${props.databaseIdentifier}`), rdsArn(dr, 'snapshot:*')] }),
        new iam.PolicyStatement({ sid: 'PruneOwnDrCopies', actions: ['rds:DeleteDBSnapshot'], resources: [own(dr)], conditions: ownTagged }),
        // RDS re-encrypts the copy with the DR key and reads the source with the database key.
        new iam.PolicyStatement({ sid: 'UseTheSnapshotKeys', actions: ['kms:CreateGrant', 'kms:DescribeKey'], resources: [props.dr.keyArn, props.databaseKeyArn] }),
      );
    }
    for (const fn of this.functions) for (const statement of statements) fn.fn.addToRolePolicy(statement);

    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: onEvent.fn,
      isCompleteHandler: isComplete.fn,
      queryInterval: Duration.seconds(30),
      totalTimeout: SNAPSHOT_TIMEOUT,
      vpc: props.vpc,
      vpcSubnets: { subnets: props.vpc.privateSubnets },
      securityGroups: [securityGroup],
      logGroup: onEvent.logGroup,
    });

    this.release = Lazy.string({ produce: () => `${props.imageTag}-${settingsHash(stack, props.taskDefinitions)}` });
    if (props.isSkipped) {
      Annotations.of(this).addWarningV2(
        'app:preDeploySnapshotSkipped',
        `No snapshot of ${props.databaseIdentifier} is taken before this deploy (-c skipPreDeploySnapshot=true). Use it only in an emergency; docs/disaster-recovery.md.`,
      );
    }
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::PreDeploySnapshot',
      properties: {
        Stage: props.stage,
        DbInstanceIdentifier: props.databaseIdentifier,
        Release: this.release,
        Image: props.image,
        StackName: stack.stackName,
        Cluster: props.cluster.clusterName,
        WebTaskFamily: props.webTaskDefinition.family,
        Keep: String(props.keep),
        DbWaitMinutes: String(DB_WAIT_MINUTES),
        ...(props.dr ? { DrRegion: props.dr.region, DrKmsKeyArn: props.dr.keyArn } : {}),
        ...(props.isSkipped ? { Skip: 'true' } : {}),
      },
    });

    this.acknowledgeFindings(provider, props);
  }

  private acknowledgeFindings(provider: cr.Provider, props: PreDeploySnapshotProps): void {
    acknowledgeProviderFindings(
      provider,
      this.functions.map((f) => f.fn),
    );
    const stack = Stack.of(this);
    const { region, account } = stack;
    const cluster = `<${stack.getLogicalId(props.cluster.node.defaultChild as CfnElement)}>`;
    const wildcards: Record<string, string> = {
      '*': 'ecs:ListServices is limited to the stage cluster by the ecs:cluster condition, and ecs:DescribeTaskDefinition has no resource-level permissions.',
      [`arn:aws:ecs:${region}:${account}:service/${cluster}/*`]: 'The services of the stage cluster are read (never changed) to find the image the web service runs.',
    };
    for (const where of [region, ...(props.dr ? [props.dr.region] : [])]) {
      wildcards[`arn:aws:rds:${where}:${account}:snapshot:*`] =
        "Listing the database's snapshots is authorized on snapshot ARNs, whose names are not known in advance; it is read-only.";
      wildcards[`arn:aws:rds:${where}:${account}:snapshot:predeploy-${props.stage}-*`] =
        "The tool names its snapshots predeploy-<stage>-<release>-<time> (DR copies keep the name); deleting one also requires the tool's own tags.";
    }
    for (const fn of this.functions) fn.acknowledgeWildcards(wildcards);
  }
}

/** The first 8 hex digits of a hash over the task definitions' settings, as CloudFormation will see them. */
function settingsHash(stack: Stack, taskDefinitions: ecs.TaskDefinition[]): string {
  const settings = taskDefinitions.map((td) => {
    const cfn = td.node.defaultChild as ecs.CfnTaskDefinition;
    return {
      family: cfn.family,
      containerDefinitions: cfn.containerDefinitions,
      cpu: cfn.cpu,
      memory: cfn.memory,
      runtimePlatform: cfn.runtimePlatform,
      volumes: cfn.volumes,
      ephemeralStorage: cfn.ephemeralStorage,
      taskRoleArn: cfn.taskRoleArn,
      executionRoleArn: cfn.executionRoleArn,
    };
  });
  return createHash('sha256')
    .update(JSON.stringify(stack.resolve(settings)))
    .digest('hex')
    .slice(0, 8);
}
