import { CfnOutput, Duration, Fn, Stack, Validations } from 'aws-cdk-lib';
import * as backup from 'aws-cdk-lib/aws-backup';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { DATABASE_ROLES } from '../../lambda/database-setup/roles';
import { awsManagedRole } from '../shared/aws-managed-policy';
import { httpsOnlySecurityGroup } from '../shared/https-only-group';
import { type LogSettings, logSettings } from '../shared/log-group';
import { PROJECT } from '../shared/naming';
import { handlerEntry } from '../shared/paths';
import { ProjectFunction } from '../shared/project-function';
import { RESTORE_METRICS_NAMESPACE } from '../shared/stage-metrics';

/** The data stack outputs scripts/restore-drill.ts reads. */
export const RESTORE_TESTING_OUTPUTS = [
  'VaultName',
  'RestoreRoleArn',
  'RestoredSecurityGroupId',
  'SubnetGroupName',
  'VerifierFunctionName',
  'DatabaseArn',
  'DatabaseKeyArn',
] as const;
export type RestoreTestingOutput = (typeof RESTORE_TESTING_OUTPUTS)[number];

/** An output's name in the data stack: `RestoreTesting<name>`, fixed (no hash), for the drill to find. */
export function restoreTestingOutputKey(name: RestoreTestingOutput): string {
  return `RestoreTesting${name}`;
}

export interface RestoreTestingProps extends LogSettings {
  readonly vpc: ec2.IVpc;
  readonly stage: string;
  /** When the newest recovery point is restored and verified (RESTORE_SCHEDULES). */
  readonly schedule: keyof typeof RESTORE_SCHEDULES;
  /** The vault whose newest recovery point is restored. */
  readonly vault: backup.IBackupVault;
  readonly databaseArn: string;
  /** The key the database and its recovery points are encrypted with. */
  readonly databaseKey: kms.IKey;
  /** The stage database's subnet group (isolated subnets): restores go there, never to the default VPC. */
  readonly subnetGroupName: string;
  readonly databaseName: string;
  readonly minVectorVersion: string;
  /** What the restored database must contain, besides pgvector and the app's roles. */
  readonly verify: RestoreExpectations;
}

/** What a restored database must contain for the restore to count as verified (lambda/restore-verifier reads it). */
export interface RestoreExpectations {
  /** Tables ("table" or "schema.table") that must exist with at least `minRows` rows. */
  readonly tables: readonly { readonly name: string; readonly minRows: number }[];
  /** A table and vector column to run one nearest-neighbour query on. @default no query */
  readonly vectorQuery?: { readonly table: string; readonly column: string };
}

/** Restore tests start at 06:00 UTC: Mondays (weekly) or on the 1st (monthly). */
export const RESTORE_SCHEDULES = { weekly: 'cron(0 6 ? * MON *)', monthly: 'cron(0 6 1 * ? *)' } as const;
/** Days after which a missing SUCCESSFUL verification counts as stale: the interval plus a day. */
export const MAX_AGE_DAYS = { weekly: 8, monthly: 32 } as const;
/** Prefix AWS Backup gives the instances it restores for tests. */
export const RESTORE_TEST_PREFIX = 'awsbackup-restore-test-';
/** Prefix of the instances scripts/restore-drill.ts restores: `restore-drill-<stage>-<time>`. */
export const DRILL_PREFIX = 'restore-drill-';

/**
 * Defines the proof that backups restore. An AWS Backup restore testing plan restores the newest
 * recovery point of the stage vault on the configured schedule into the stage's isolated subnets,
 * behind a security group that admits only the verifier (metadata overrides: never the default
 * VPC). When the restore job completes, EventBridge invokes the verifier in the VPC, which checks
 * the restored database and reports the result to AWS Backup and CloudWatch; AWS Backup deletes
 * the instance after the validation window. Once a day the verifier also reports whether a
 * successful verification happened within the interval, for the stale alarm.
 */
export class RestoreTesting extends Construct {
  readonly plan: backup.CfnRestoreTestingPlan;
  readonly verifier: ProjectFunction;
  readonly restoredSecurityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: RestoreTestingProps) {
    super(scope, id);
    const { region, account, partition } = Stack.of(this);

    const verifierGroup = httpsOnlySecurityGroup(this, 'VerifierSecurityGroup', {
      vpc: props.vpc,
      description: 'Restore verifier: HTTPS to AWS APIs and PostgreSQL to restored test instances',
      httpsTo: 'HTTPS to the RDS, AWS Backup and CloudWatch APIs',
    });
    this.restoredSecurityGroup = new ec2.SecurityGroup(this, 'RestoredSecurityGroup', {
      vpc: props.vpc,
      description: 'Restored test databases: admit only the restore verifier',
      allowAllOutbound: false,
    });
    this.restoredSecurityGroup.connections.allowFrom(verifierGroup, ec2.Port.tcp(5432), 'Restore verifier');

    const planName = `${PROJECT}_${props.stage}_database`;
    this.plan = new backup.CfnRestoreTestingPlan(this, 'Plan', {
      restoreTestingPlanName: planName,
      scheduleExpression: RESTORE_SCHEDULES[props.schedule],
      startWindowHours: 2,
      recoveryPointSelection: {
        algorithm: 'LATEST_WITHIN_WINDOW',
        includeVaults: [props.vault.backupVaultArn],
        recoveryPointTypes: ['SNAPSHOT'],
        selectionWindowDays: 7,
      },
    });

    const restoreRole = awsManagedRole(this, 'RestoreRole', {
      service: 'backup.amazonaws.com',
      description: `AWS Backup restores test copies of the ${props.stage} database`,
      policyName: 'service-role/AWSBackupServiceRolePolicyForRestores',
      reason:
        "AWSBackupServiceRolePolicyForRestores is the policy AWS maintains for AWS Backup to restore recovery points; this role is used only by the stage's restore testing selection.",
    });
    restoreRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['kms:CreateGrant', 'kms:DescribeKey'], resources: [props.databaseKey.keyArn] }));
    Validations.of(restoreRole).acknowledge({
      id: 'NIST.800.53.R5-IAMNoInlinePolicy',
      reason: 'The one inline statement lets AWS Backup use the database key for the restore; it names only that key.',
    });

    const selection = new backup.CfnRestoreTestingSelection(this, 'Selection', {
      restoreTestingPlanName: planName,
      restoreTestingSelectionName: 'database',
      protectedResourceType: 'RDS',
      protectedResourceArns: [props.databaseArn],
      iamRoleArn: restoreRole.roleArn,
      restoreMetadataOverrides: {
        dbsubnetgroupname: props.subnetGroupName,
        vpcsecuritygroupids: Fn.join('', ['["', this.restoredSecurityGroup.securityGroupId, '"]']),
        // Never reachable from the internet, whatever the recovery point recorded.
        publiclyaccessible: 'false',
      },
      validationWindowHours: 2,
    });
    selection.node.addDependency(this.plan);

    const maxAgeDays = MAX_AGE_DAYS[props.schedule];
    this.verifier = new ProjectFunction(this, 'Handler', {
      entry: handlerEntry('restore-verifier'),
      handler: 'handler',
      description: `Verifies test restores of the ${props.stage} database and that they are not stale`,
      vpc: props.vpc,
      securityGroups: [verifierGroup],
      // Up to 10 minutes for the new master password, then the checks.
      timeout: Duration.minutes(15),
      environment: {
        STAGE: props.stage,
        RESTORE_TESTING_PLAN_ARN: this.plan.attrRestoreTestingPlanArn,
        RESTORE_TESTING_PLAN_NAME: planName,
        DATABASE_NAME: props.databaseName,
        // The roles the app and its migrations need in a restored database. Not the on-call role:
        // backups taken before it existed lack it, and a restore serves without it.
        EXPECTATIONS: JSON.stringify({ minVectorVersion: props.minVectorVersion, ...props.verify, roles: [DATABASE_ROLES.app, DATABASE_ROLES.migrator] }),
        MAX_AGE_DAYS: String(maxAgeDays),
      },
      ...logSettings(props),
    });
    const restoredInstances = `arn:${partition}:rds:${region}:${account}:db:${RESTORE_TEST_PREFIX}*`;
    const drillInstances = `arn:${partition}:rds:${region}:${account}:db:${DRILL_PREFIX}${props.stage}-*`;
    const statements = [
      new iam.PolicyStatement({
        sid: 'ReadAndReportRestoreJobs',
        actions: ['backup:DescribeRestoreJob', 'backup:ListRestoreJobs', 'backup:PutRestoreValidationResult'],
        resources: ['*'],
      }),
      // Its creation time starts the grace period before the first scheduled test.
      new iam.PolicyStatement({ sid: 'ReadThePlan', actions: ['backup:GetRestoreTestingPlan'], resources: [this.plan.attrRestoreTestingPlanArn] }),
      new iam.PolicyStatement({ sid: 'ResetTestInstancePassword', actions: ['rds:DescribeDBInstances', 'rds:ModifyDBInstance'], resources: [restoredInstances, drillInstances] }),
      new iam.PolicyStatement({
        sid: 'PublishResults',
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': RESTORE_METRICS_NAMESPACE } },
      }),
    ];
    for (const statement of statements) this.verifier.fn.addToRolePolicy(statement);
    this.verifier.acknowledgeWildcards({
      '*': 'AWS Backup restore-job actions have no resource-level permissions; cloudwatch:PutMetricData has none and is limited to the webapp/RestoreTesting namespace by condition.',
      [`arn:aws:rds:${region}:${account}:db:${RESTORE_TEST_PREFIX}*`]:
        'AWS Backup names the instances it restores for tests awsbackup-restore-test-<random>; the verifier may read them and reset their master password, nothing else.',
      [`arn:aws:rds:${region}:${account}:db:${DRILL_PREFIX}${props.stage}-*`]:
        'scripts/restore-drill.ts names its restores restore-drill-<stage>-<time>; the verifier may read them and reset their master password, nothing else.',
    });

    // What scripts/restore-drill.ts reads to restore and verify a drill copy like the tests do,
    // under fixed output names (CDK would otherwise append a hash of the construct path).
    const output = (id: RestoreTestingOutput, value: string, description: string) => new CfnOutput(this, id, { key: restoreTestingOutputKey(id), value, description });
    output('DatabaseArn', props.databaseArn, 'The database the drills restore');
    output('DatabaseKeyArn', props.databaseKey.keyArn, "Key a restored copy's managed master secret is encrypted with");
    output('VaultName', props.vault.backupVaultName, 'AWS Backup vault whose newest recovery point drills restore');
    output('RestoreRoleArn', restoreRole.roleArn, 'Role AWS Backup restores test and drill copies with');
    output('RestoredSecurityGroupId', this.restoredSecurityGroup.securityGroupId, 'Security group of restored test and drill copies');
    output('SubnetGroupName', props.subnetGroupName, 'DB subnet group restored copies go to');
    output('VerifierFunctionName', this.verifier.fn.functionName, 'Restore verifier function');

    const target = new targets.LambdaFunction(this.verifier.fn, { retryAttempts: 2 });
    new events.Rule(this, 'RestoreCompleted', {
      description: `Verifies each completed restore job (the verifier ignores jobs of other plans than ${planName})`,
      eventPattern: {
        source: ['aws.backup'],
        detailType: ['Restore Job State Change'],
        // AWS Backup reports `status` on some job events and `state` on others: match both.
        detail: { $or: [{ status: ['COMPLETED'] }, { state: ['COMPLETED'] }] },
      },
      targets: [target],
    });
    new events.Rule(this, 'DailyFreshnessCheck', {
      description: `Reports whether a restore of ${planName} was verified within ${maxAgeDays} days`,
      schedule: events.Schedule.cron({ minute: '0', hour: '7' }),
      targets: [target],
    });
  }
}
