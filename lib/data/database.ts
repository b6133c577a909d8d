import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as rds from 'aws-cdk-lib/aws-rds';
import { Construct } from 'constructs';
import { rdsMaxConnections } from '../config/instance-class';
import { acknowledgeAwsManagedPolicy } from '../shared/aws-managed-policy';
import { acknowledgeControls } from '../shared/control-tower-checks';
import { type LogSettings, stageLogGroup } from '../shared/log-group';
import { trustThisAccountOnly } from '../shared/service-trust';
import { DATABASE_SETTINGS } from './database-settings';

export interface DatabaseProps extends LogSettings {
  readonly vpc: ec2.IVpc;
  /**
   * DB instance identifier. It is a physical name on purpose: RDS exports logs to log groups
   * named after it, which this construct creates first so they are encrypted and kept for
   * `logRetention` (RDS would create them unencrypted and forever).
   */
  readonly instanceIdentifier: string;
  /** PostgreSQL "major.minor", e.g. "17.6". */
  readonly engineVersion: string;
  /**
   * Let CloudFormation move the instance to a new major version of `engineVersion` (RDS refuses
   * the update otherwise).
   * @default false
   */
  readonly allowMajorVersionUpgrade?: boolean;
  /** Class without the "db." prefix, e.g. "t4g.micro". */
  readonly instanceClass: string;
  readonly allocatedStorageGiB: number;
  readonly maxAllocatedStorageGiB: number;
  readonly multiAz: boolean;
  readonly deletionProtection: boolean;
  readonly backupRetentionDays: number;
  /** Performance Insights (7 days) and enhanced monitoring every 60 s. */
  readonly enablePerformanceInsights: boolean;
  /** Encrypts storage, snapshots, the master secret and Performance Insights. */
  readonly key: kms.IKey;
}

/** Name of the database created in the instance; the app connects to it. */
export const DATABASE_NAME = 'app';
/**
 * Master user; it owns the database and is the only role that may CREATE EXTENSION on RDS. Only
 * the setup custom resource, the restore verifier (on restored copies) and break-glass use it; the
 * app logs in as its own role with IAM authentication (lambda/database-setup/roles.ts).
 */
export const MASTER_USERNAME = 'postgres';
export const DATABASE_PORT = DATABASE_SETTINGS.port;

/**
 * The stage database's settings, the primary's and the DR region's alike (the pilot light keeps a
 * group with them, so a database restored there runs as the lost one did).
 */
export function databaseParameters(maxConnections: number): Record<string, string> {
  return {
    // Only TLS connections (the default only from PostgreSQL 15; set it explicitly).
    'rds.force_ssl': '1',
    // Statements slower than 1 s, DDL, lock waits and autovacuum runs over 10 s are logged.
    log_min_duration_statement: '1000',
    log_statement: 'ddl',
    log_lock_waits: '1',
    log_autovacuum_min_duration: '10000',
    // Logged statements without their bind values: those are users' data (emails, names,
    // tokens), and the statement logs are kept for the stage's log retention. No AWS page
    // found lists these two as modifiable on RDS for PostgreSQL 17; docs/security.md ("Known
    // gaps") has the check to run before a first deploy.
    log_parameter_max_length: '0',
    log_parameter_max_length_on_error: '0',
    shared_preload_libraries: 'pg_stat_statements',
    // Written out (AWS's formula on the class's memory) so pool sizes and the connections
    // alarm know the limit. Static: a change applies at the next reboot.
    max_connections: String(maxConnections),
  };
}

/**
 * What the app, its releases and operations use of the stage database: the instance, the path to
 * it and the key its storage and master secret are encrypted with. The primary region's `Database`
 * and the database restored in the DR region (lib/dr/restored-database.ts) both provide it, so the
 * tiers built on it are the same in both regions.
 */
export interface StageDatabase extends ec2.IConnectable {
  readonly instance: rds.IDatabaseInstance;
  /** Admits consumers on `port`. */
  readonly connections: ec2.Connections;
  readonly port: number;
  /** The instance's max_connections. */
  readonly maxConnections: number;
  /** Encrypts the storage, the snapshots and the master secret. */
  readonly key: kms.IKey;
  /** A managed policy that lets the roles it is attached to log in as database user `user` with an IAM token. */
  connectPolicy(user: string): iam.ManagedPolicy;
}

/**
 * The managed policy `StageDatabase.connectPolicy` returns, made once per user in `scope` (the
 * database's construct): log in as database user `user` with an IAM token. Scoped to the user on
 * any instance of this account and region (`dbuser:*` / user) rather than to the instance's
 * resource id, which a restore changes: each stage has its own account, whose only instances are
 * the stage database and its restored copies, and only the stage database's security group admits
 * the app.
 */
export function databaseConnectPolicy(scope: Construct, user: string): iam.ManagedPolicy {
  const id = `Connect${user.replace(/[^A-Za-z0-9]/g, '')}`;
  const existing = scope.node.tryFindChild(id) as iam.ManagedPolicy | undefined;
  if (existing) return existing;
  const { region, account, partition } = Stack.of(scope);
  const resource = `arn:${partition}:rds-db:${region}:${account}:dbuser:*/${user}`;
  const policy = new iam.ManagedPolicy(scope, id, {
    description: `Log in to the stage database as ${user} with IAM authentication`,
    statements: [new iam.PolicyStatement({ actions: ['rds-db:connect'], resources: [resource] })],
  });
  Validations.of(policy).acknowledge({
    id: `AwsSolutions-IAM5[Resource::arn:aws:rds-db:${region}:${account}:dbuser:*/${user}]`,
    reason: `Names the database user ${user}; the instance part is * because a restore gives the instance a new resource id, and the stage's account holds no other database (restored copies admit only the restore verifier on the network).`,
  });
  return policy;
}

/**
 * Defines the stage's PostgreSQL instance (RDS, not Aurora) in the isolated subnets: encrypted
 * gp3 storage with autoscaling, TLS forced, slow statements logged and exported to encrypted log
 * groups, automated backups (point-in-time recovery) for the configured days, a final snapshot on
 * deletion or replacement, a master password RDS generates into Secrets Manager and rotates, and
 * IAM database authentication for the app's roles. Nothing may connect until a consumer is
 * admitted through `connections` and, for IAM logins, `grantConnect`.
 */
export class Database extends Construct implements StageDatabase {
  readonly instance: rds.DatabaseInstance;
  readonly connections: ec2.Connections;
  readonly port = DATABASE_PORT;
  /** The instance's max_connections. */
  readonly maxConnections: number;
  /** Encrypts the storage, the snapshots and the master secret. */
  readonly key: kms.IKey;

  constructor(scope: Construct, id: string, props: DatabaseProps) {
    super(scope, id);
    this.maxConnections = rdsMaxConnections(props.instanceClass);
    this.key = props.key;
    const [major] = props.engineVersion.split('.');
    const engine = rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.of(props.engineVersion, major) });

    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: `PostgreSQL ${props.instanceIdentifier}: admits only the consumers granted on 5432`,
      allowAllOutbound: false,
    });

    // One group per major version (its family): a changed description replaces the group, and a
    // new group with static parameters (max_connections, shared_preload_libraries) makes
    // CloudFormation reboot the instance. So it names the major only and a minor upgrade keeps the
    // group; a major upgrade replaces it with the new family's, in the same instance update.
    const parameterGroup = new rds.ParameterGroup(this, 'Parameters', {
      engine,
      description: `PostgreSQL ${major} settings for ${props.instanceIdentifier}`,
      parameters: databaseParameters(this.maxConnections),
    });

    const exported = [...DATABASE_SETTINGS.logExports];
    const logGroups = exported.map((type) => stageLogGroup(this, `${type[0].toUpperCase()}${type.slice(1)}Logs`, props, `/aws/rds/instance/${props.instanceIdentifier}/${type}`));

    this.instance = new rds.DatabaseInstance(this, 'Instance', {
      engine,
      instanceIdentifier: props.instanceIdentifier,
      instanceType: new ec2.InstanceType(props.instanceClass),
      vpc: props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroups: [securityGroup],
      publiclyAccessible: false,
      databaseName: DATABASE_NAME,
      port: DATABASE_PORT,
      // RDS generates the master password into Secrets Manager (encrypted with the database key)
      // and rotates it itself every 7 days: no rotation function to run or to reach the VPC. Its
      // ARN is not handed around: a restored instance gets a new secret, and consumers look it up.
      credentials: rds.Credentials.fromUsername(MASTER_USERNAME, { encryptionKey: props.key }),
      manageMasterUserPassword: true,
      // The app's roles log in with short-lived IAM tokens, so no container holds a password
      // that a rotation could invalidate.
      iamAuthentication: true,
      parameterGroup,
      storageType: rds.StorageType.GP3,
      allocatedStorage: props.allocatedStorageGiB,
      maxAllocatedStorage: props.maxAllocatedStorageGiB,
      storageEncrypted: true,
      storageEncryptionKey: props.key,
      multiAz: props.multiAz,
      deletionProtection: props.deletionProtection,
      backupRetention: Duration.days(props.backupRetentionDays),
      preferredBackupWindow: DATABASE_SETTINGS.backupWindow,
      preferredMaintenanceWindow: DATABASE_SETTINGS.maintenanceWindow,
      copyTagsToSnapshot: true,
      // The engine minor is pinned in config; upgrades are a reviewed change, not a surprise.
      autoMinorVersionUpgrade: false,
      // Written only while a major upgrade is under way, so the templates of every other deploy stay as they were.
      allowMajorVersionUpgrade: props.allowMajorVersionUpgrade || undefined,
      caCertificate: rds.CaCertificate.of(DATABASE_SETTINGS.caCertificate),
      cloudwatchLogsExports: exported,
      enablePerformanceInsights: props.enablePerformanceInsights,
      performanceInsightEncryptionKey: props.enablePerformanceInsights ? props.key : undefined,
      monitoringInterval: props.enablePerformanceInsights ? Duration.seconds(DATABASE_SETTINGS.monitoringIntervalSeconds) : undefined,
      // A final snapshot is taken whenever CloudFormation deletes or replaces the instance.
      removalPolicy: RemovalPolicy.SNAPSHOT,
    });
    for (const group of logGroups) this.instance.node.addDependency(group);
    acknowledgeControls(this.instance, {
      rds_instance_automatic_minor_version_upgrade_enabled_check:
        'The engine minor is pinned in config and upgraded by a reviewed change: the database setup re-checks pgvector after each upgrade (extension versions do not follow the engine).',
      rds_instance_default_admin_check:
        'The master user is "postgres" since the first deploy and only the database setup uses it (the app logs in as its own roles with IAM tokens); renaming it replaces the instance.',
      rds_instance_no_default_ports_check:
        'Port 5432 is admitted only from named security groups in isolated subnets; a different port hides nothing there and changing it replaces the instance.',
      ...(props.backupRetentionDays < 7
        ? {
            rds_instance_backup_enabled_check: `Automated backups are on, kept ${props.backupRetentionDays} days by this stage's config (database.backupRetentionDays); staging and prod keep 7 and more.`,
          }
        : {}),
      ...(!props.deletionProtection
        ? { rds_instance_deletion_protection_enabled_check: 'A throw-away stage by config (database.deletionProtection); the schema requires it in prod.' }
        : {}),
      ...(!props.multiAz ? { rds_instance_multi_az_support_check: "Single-AZ by this stage's config (database.multiAz); the schema requires Multi-AZ in prod." } : {}),
      ...(!props.enablePerformanceInsights
        ? {
            rds_instance_enhanced_monitoring_enabled_check:
              'Enhanced monitoring comes with database.enablePerformanceInsights, on in prod; CloudWatch metrics and alarms watch this stage.',
          }
        : {}),
    });

    // The instance's own Connections carry its port as a CloudFormation token, which security
    // checks cannot read; the port is fixed, so say it.
    this.connections = new ec2.Connections({ securityGroups: [securityGroup], defaultPort: ec2.Port.tcp(DATABASE_PORT) });
    // A repair copy (npm run restore, alongside or from a dump) runs in this same group. Copying
    // rows back with postgres_fdw or dblink has this instance connect out to the copy on 5432
    // (docs/disaster-recovery.md, "Repairing from a copy"): the group reaches itself on that port
    // and nowhere else, so the instance can reach nothing but a database of its own group.
    this.connections.allowInternally(ec2.Port.tcp(DATABASE_PORT), 'Repair copies: postgres_fdw/dblink from the stage database to a copy restored in this group');

    this.acknowledgeFindings(props);
  }

  /** A managed policy that lets the roles it is attached to log in as database user `user` (databaseConnectPolicy). */
  connectPolicy(user: string): iam.ManagedPolicy {
    return databaseConnectPolicy(this, user);
  }

  private acknowledgeFindings(props: DatabaseProps): void {
    const resource = this.instance.node.defaultChild!;
    const { stackName } = Stack.of(this);
    Validations.of(resource).acknowledge({
      id: 'AwsSolutions-RDS11',
      reason:
        'A non-default port adds nothing here: the instance sits in isolated subnets, its security group admits only named consumers, and connections need TLS and credentials.',
    });
    if (!props.multiAz) {
      for (const id of ['AwsSolutions-RDS3', 'NIST.800.53.R5-RDSMultiAZSupport']) {
        Validations.of(resource).acknowledge({
          id,
          reason: `Single-AZ is the configured choice for ${stackName} (a throw-away or cost-bound stage); prod is required by the config schema to run Multi-AZ.`,
        });
      }
    }
    if (!props.deletionProtection) {
      for (const id of ['AwsSolutions-RDS10', 'NIST.800.53.R5-RDSInstanceDeletionProtectionEnabled']) {
        Validations.of(resource).acknowledge({
          id,
          reason: `Deletion protection is off by configuration in ${stackName} so the stage can be torn down; a final snapshot is still taken, and prod is required by the config schema to protect its database.`,
        });
      }
    }
    if (!props.enablePerformanceInsights) {
      Validations.of(resource).acknowledge({
        id: 'NIST.800.53.R5-RDSEnhancedMonitoringEnabled',
        reason: `Enhanced monitoring and Performance Insights are off by configuration in ${stackName} (cost); prod turns them on. Basic CloudWatch metrics and the exported logs remain.`,
      });
    }
    if (props.enablePerformanceInsights) {
      const monitoringRole = this.instance.node.findChild('MonitoringRole') as iam.Role;
      // RDS documents aws:SourceAccount (and the instance's ARN) in the enhanced-monitoring role's
      // trust; the account alone, since a restored copy (npm run restore-database) uses the role too.
      trustThisAccountOnly(monitoringRole);
      acknowledgeAwsManagedPolicy(
        monitoringRole,
        'service-role/AmazonRDSEnhancedMonitoringRole',
        'AmazonRDSEnhancedMonitoringRole is the policy AWS maintains for the enhanced-monitoring agent; it only writes to the RDSOSMetrics log group.',
      );
    }
  }
}
