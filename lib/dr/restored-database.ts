import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { DATABASE_PORT, databaseConnectPolicy, type StageDatabase } from '../data/database';

export interface RestoredDatabaseProps {
  /** The restored instance's identifier (pilotLightNames().databaseIdentifier). */
  readonly instanceIdentifier: string;
  /**
   * The SSM parameter (in this stack's region) that holds the instance's endpoint address: the
   * failover writes it after the restore, and CloudFormation reads it at each deploy.
   */
  readonly endpointParameterName: string;
  /** The security group the instance was restored into (the pilot light's database group). */
  readonly securityGroup: ec2.ISecurityGroup;
  /** The key the restored storage and its RDS-managed master secret are encrypted with (the DR backup key). */
  readonly key: kms.IKey;
  /** Its max_connections, as the parameter group it was restored with sets it. */
  readonly maxConnections: number;
}

/**
 * The stage database as the failover restores it in the DR region (by API, from the replicated
 * automated backups: there is no template for it to live in), imported by its identifier with
 * the endpoint the failover recorded. It gives the DR app tier the same `StageDatabase` the
 * primary's `Database` gives the app stack: the path through its security group on 5432, the key,
 * and the same IAM login policies, so the app's tasks and the database setup are built alike in
 * both regions.
 */
export class RestoredDatabase extends Construct implements StageDatabase {
  readonly instance: rds.IDatabaseInstance;
  readonly connections: ec2.Connections;
  readonly port = DATABASE_PORT;
  readonly maxConnections: number;
  readonly key: kms.IKey;

  constructor(scope: Construct, id: string, props: RestoredDatabaseProps) {
    super(scope, id);
    this.key = props.key;
    this.maxConnections = props.maxConnections;
    this.instance = rds.DatabaseInstance.fromDatabaseInstanceAttributes(this, 'Instance', {
      instanceIdentifier: props.instanceIdentifier,
      // An endpoint is known only once the instance exists: a template parameter CloudFormation
      // fills from SSM at each deploy, so the template itself does not change with a new restore.
      instanceEndpointAddress: ssm.StringParameter.valueForStringParameter(this, props.endpointParameterName),
      port: DATABASE_PORT,
      securityGroups: [props.securityGroup],
    });
    this.connections = new ec2.Connections({ securityGroups: [props.securityGroup], defaultPort: ec2.Port.tcp(DATABASE_PORT) });
  }

  connectPolicy(user: string): iam.ManagedPolicy {
    return databaseConnectPolicy(this, user);
  }
}
