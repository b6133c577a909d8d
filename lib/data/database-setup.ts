import { CustomResource, Duration, Stack } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { setupFingerprint } from '../../lambda/database-setup/fingerprint';
import { httpsOnlySecurityGroup } from '../shared/https-only-group';
import { type LogSettings, logSettings } from '../shared/log-group';
import { handlerEntry } from '../shared/paths';
import { ProjectFunction } from '../shared/project-function';
import { acknowledgeProviderFindings } from '../shared/provider-findings';
import type { StageDatabase } from './database';

export interface DatabaseSetupProps extends LogSettings {
  readonly vpc: ec2.IVpc;
  readonly database: StageDatabase;
  readonly databaseName: string;
  /** PostgreSQL "major.minor": an upgrade re-runs the setup (ALTER EXTENSION vector UPDATE). */
  readonly engineVersion: string;
  /** Lowest acceptable pgvector version. */
  readonly minVersion: string;
  /**
   * Any new value runs the setup once more on the next deploy (-c rerunDatabaseSetup=...), for
   * an operator who repaired the database by hand.
   * @default - runs only when the engine version, the SQL or the connection settings change
   */
  readonly runId?: string;
}

/**
 * Defines the custom resource that sets the stage database up as the master user, over verified
 * TLS: the pgvector extension (CREATE EXTENSION IF NOT EXISTS, ALTER EXTENSION UPDATE, the
 * deployment fails below `minVersion`), then the roles the app and migrations log in as with IAM
 * database authentication (lambda/database-setup/roles.ts). Its properties carry the engine version
 * and a hash of the SQL, so CloudFormation runs it again after an engine upgrade and whenever the
 * SQL changes, not only on the first deploy. Delete does nothing.
 *
 * The master secret is looked up from the instance on every run (a restored instance has a new
 * one). The function reaches RDS and Secrets Manager through the NAT gateways every stage has:
 * it runs a few seconds per deploy, which does not justify an interface endpoint's hourly cost.
 */
export class DatabaseSetup extends Construct {
  /** Installed pgvector version, e.g. "0.8.0". */
  readonly version: string;
  readonly handler: ProjectFunction;

  constructor(scope: Construct, id: string, props: DatabaseSetupProps) {
    super(scope, id);
    const { region, account, partition } = Stack.of(this);
    const { instance } = props.database;
    // Out: the database's security group on its port, and HTTPS (the RDS, Secrets Manager,
    // CloudFormation and Lambda APIs, through the NAT gateways). A security group cannot name the
    // AWS APIs without interface endpoints, at about $7 a month each per AZ: not worth it for a
    // function that runs seconds per deploy, now that it connects only to its configured
    // database and trusts only the RDS CAs.
    const securityGroup = httpsOnlySecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Database setup custom resource: reaches the database, RDS and Secrets Manager',
      httpsTo: 'HTTPS to the RDS, Secrets Manager, CloudFormation and Lambda APIs',
    });
    props.database.connections.allowDefaultPortFrom(securityGroup, 'Database setup custom resource');

    this.handler = new ProjectFunction(this, 'Handler', {
      entry: handlerEntry('database-setup'),
      handler: 'onEvent',
      description: 'Sets up the stage database: pgvector and the app and migration roles',
      vpc: props.vpc,
      securityGroups: [securityGroup],
      timeout: Duration.minutes(2),
      ...logSettings(props),
      // The one database it sets up: the handler refuses an event naming another.
      environment: {
        DATABASE_INSTANCE: instance.instanceIdentifier,
        DATABASE_HOST: instance.dbInstanceEndpointAddress,
        DATABASE_PORT: String(props.database.port),
        DATABASE_NAME: props.databaseName,
      },
    });
    // RDS names the secrets it manages rds!db-<uuid>; which one is the instance's is read from the
    // instance at run time (it changes when the instance is restored).
    const managedSecrets = `arn:${partition}:secretsmanager:${region}:${account}:secret:rds!db-*`;
    const statements = [
      new iam.PolicyStatement({ sid: 'FindTheMasterSecret', actions: ['rds:DescribeDBInstances'], resources: [instance.instanceArn] }),
      new iam.PolicyStatement({ sid: 'ReadTheMasterSecret', actions: ['secretsmanager:GetSecretValue'], resources: [managedSecrets] }),
      new iam.PolicyStatement({
        sid: 'DecryptTheMasterSecret',
        actions: ['kms:Decrypt'],
        resources: [props.database.key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${region}.amazonaws.com` } },
      }),
    ];
    for (const statement of statements) this.handler.fn.addToRolePolicy(statement);
    this.handler.acknowledgeWildcards({
      [`arn:aws:secretsmanager:${region}:${account}:secret:rds!db-*`]:
        'The secrets RDS manages are named rds!db-<uuid>, and a restore gives the instance a new one. Each stage has its own account, whose only RDS-managed secrets belong to the stage database and its restored copies; only GetSecretValue is allowed.',
    });

    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: this.handler.fn,
      vpc: props.vpc,
      vpcSubnets: { subnets: props.vpc.privateSubnets },
      securityGroups: [securityGroup],
      logGroup: this.handler.logGroup,
    });

    const resource = new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::DatabaseSetup',
      properties: {
        DbInstanceIdentifier: instance.instanceIdentifier,
        Host: instance.dbInstanceEndpointAddress,
        Port: String(props.database.port),
        DatabaseName: props.databaseName,
        MinVersion: props.minVersion,
        EngineVersion: props.engineVersion,
        SetupHash: setupFingerprint(props.databaseName),
        ...(props.runId ? { RunId: props.runId } : {}),
      },
    });
    this.version = resource.getAttString('Version');

    acknowledgeProviderFindings(provider, [this.handler.fn]);
  }
}
