import { CfnOutput } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type { Construct } from 'constructs';
import type { StageDatabase } from '../data/database';
import { type LogSettings, logSettings } from '../shared/log-group';
import { DatabaseMigration } from './database-migration';
import { PreDeploySnapshot } from './pre-deploy-snapshot';
import { ReleaseRecord } from './release-record';
import type { ReleaseTasks } from './release-tasks';

export interface ReleaseStepsProps extends LogSettings {
  readonly vpc: ec2.IVpc;
  readonly stage: string;
  readonly cluster: ecs.Cluster;
  /** The release's task definitions: the release id hashes them all; the migration runs its own. */
  readonly tasks: ReleaseTasks;
  /** The services the release reaches (web first: the snapshot records the image it runs). */
  readonly services: readonly ecs.FargateService[];
  readonly database: StageDatabase;
  /** The image reference the release deploys (repository:tag or repository@sha256:...). */
  readonly image: string;
  /** The image tag or digest, the readable part of the release id. */
  readonly imageTag: string;
  /** Pre-deploy snapshots kept per region. */
  readonly snapshotsKept: number;
  /** Copy each pre-deploy snapshot to this region with this key. @default not copied */
  readonly snapshotCopy?: { readonly region: string; readonly keyArn: string };
  /** Skip the snapshot for this deploy (-c skipPreDeploySnapshot=true). */
  readonly skipSnapshot: boolean;
  /** The git commit the assembly is synthesized from (-c commit), which the release record keeps. @default none recorded */
  readonly commit?: string;
  /** The stage's image repository, where the record reads the image's digest. */
  readonly repositoryName: string;
  /** Minutes a migration may run before it is stopped and the deploy fails. */
  readonly migrationTimeoutMinutes: number;
}

/**
 * The steps of every release around the services, in the order CloudFormation runs them: the
 * pre-deploy snapshot of the database, then the schema migration (where releases migrate: after
 * the snapshot, so a half-applied migration can be undone from it), then the services, then the
 * release record once both services run the release (CloudFormation waits for them to be stable).
 *
 * Not a construct: it builds into the given scope (the app stack), where the three custom
 * resources and their functions have their logical ids; a construct of its own would put them
 * under a new path and replace them.
 */
export class ReleaseSteps {
  /** The snapshot every service waits for before this release reaches it. */
  readonly preDeploySnapshot: PreDeploySnapshot;
  /** The release's schema migration, where releases migrate. */
  readonly migration?: DatabaseMigration;
  /** The record of each release that reached both services (the stage's release parameter, a metric and an event). */
  readonly releaseRecord: ReleaseRecord;

  constructor(
    private readonly scope: Construct,
    props: ReleaseStepsProps,
  ) {
    const { vpc, stage, cluster, tasks, services, database } = props;
    const logs = logSettings(props);
    const snapshot = new PreDeploySnapshot(scope, 'PreDeploySnapshot', {
      vpc,
      stage,
      databaseIdentifier: database.instance.instanceIdentifier,
      databaseArn: database.instance.instanceArn,
      databaseKeyArn: database.key.keyArn,
      cluster,
      webTaskDefinition: tasks.web.taskDefinition,
      taskDefinitions: tasks.all.map((t) => t.taskDefinition),
      image: props.image,
      imageTag: props.imageTag,
      keep: props.snapshotsKept,
      dr: props.snapshotCopy,
      isSkipped: props.skipSnapshot,
      ...logs,
    });
    // The capacity providers must be associated with the cluster before a service names one;
    // CloudFormation does not know that on its own (the snapshot hid it, except with -c
    // skipPreDeploySnapshot). The association is created at synth, so the dependency is on the
    // whole cluster construct, which CDK expands to every resource in it then.
    for (const service of services) {
      service.node.addDependency(snapshot.resource);
      service.node.addDependency(cluster);
    }
    this.preDeploySnapshot = snapshot;

    // New code serves only a migrated schema: every service waits for the migration.
    if (tasks.migration) {
      const migration = new DatabaseMigration(scope, 'Migration', {
        vpc,
        stage,
        cluster,
        task: tasks.migration,
        database,
        release: snapshot.release,
        timeoutMinutes: props.migrationTimeoutMinutes,
        ...logs,
      });
      migration.resource.node.addDependency(snapshot.resource);
      migration.resource.node.addDependency(cluster);
      for (const service of services) service.node.addDependency(migration.resource);
      this.migration = migration;
    }

    this.releaseRecord = new ReleaseRecord(scope, 'ReleaseRecord', {
      vpc,
      stage,
      release: snapshot.release,
      image: props.image,
      repositoryName: props.repositoryName,
      commit: props.commit,
      snapshotId: snapshot.resource.getAttString('SnapshotId'),
      startedAt: snapshot.resource.getAttString('StartedAt'),
      migration: this.migration
        ? {
            seconds: this.migration.resource.getAttString('DurationSeconds'),
            task: this.migration.resource.getAttString('TaskArn'),
            startedAt: this.migration.resource.getAttString('StartedAt'),
            logGroup: tasks.migration!.logGroup,
            streamPrefix: tasks.migration!.streamPrefix,
          }
        : undefined,
      ...logs,
    });
    for (const service of services) this.releaseRecord.resource.node.addDependency(service);
  }

  /** The snapshot functions' log groups, by name (CloudFormation generates them); called where the stack lists its outputs. */
  addOutputs(): void {
    const [start, poll] = this.preDeploySnapshot.functions;
    new CfnOutput(this.scope, 'PreDeploySnapshotLogGroup', { value: start.logGroup.logGroupName, description: 'Logs of the pre-deploy snapshots: starting one' });
    new CfnOutput(this.scope, 'PreDeploySnapshotPollLogGroup', {
      value: poll.logGroup.logGroupName,
      description: 'Logs of the pre-deploy snapshots: waiting for one, copying, pruning',
    });
  }
}
