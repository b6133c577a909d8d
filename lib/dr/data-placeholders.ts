import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as rds from 'aws-cdk-lib/aws-rds';
import { Construct } from 'constructs';
import { CACHE_PORT } from '../data/cache';
import { DATABASE_PORT, databaseParameters } from '../data/database';
import { httpsOnlySecurityGroup } from '../shared/https-only-group';

export interface DataPlaceholdersProps {
  readonly vpc: ec2.IVpc;
  /** The RDS subnet group's fixed name (pilotLightNames): the failover restores the database into it by name. */
  readonly databaseSubnetGroupName: string;
  /** The ElastiCache subnet group's fixed name (pilotLightNames). */
  readonly cacheSubnetGroupName: string;
  /** The stage database's PostgreSQL `major.minor` (its parameter group's family). */
  readonly engineVersion: string;
  /** Its max_connections, as the primary's parameter group sets it. */
  readonly maxConnections: number;
}

/**
 * Where the data tier lands in the DR region when the primary is lost, made before it is needed:
 * the RDS and ElastiCache subnet groups over the isolated subnets, the database's parameter group
 * (the primary's settings), and the security groups of the
 * database, the cache and the app's tasks. The database admits the app on 5432 and the cache on
 * 6379, nothing else; the app's group lets out only HTTPS and those two paths. The failover
 * restores the database by API into these (it has no template to put them in) and deploys the
 * cache and the app's services with them; a restored instance holds its group and subnet group,
 * so they must outlive any one failover.
 *
 * Nothing here costs anything while idle. The load balancer's path to the tasks is not made here:
 * the DR app tier adds it when it attaches its services to the listener (CDK writes that rule
 * itself then, and the same rule twice would fail the deploy).
 */
export class DataPlaceholders extends Construct {
  readonly databaseSubnetGroup: rds.CfnDBSubnetGroup;
  readonly cacheSubnetGroup: elasticache.CfnSubnetGroup;
  /** The primary's database settings, for the instance the failover restores (a restore takes a group that exists). */
  readonly databaseParameterGroup: rds.ParameterGroup;
  readonly databaseSecurityGroup: ec2.SecurityGroup;
  readonly cacheSecurityGroup: ec2.SecurityGroup;
  /** The app's tasks (web, worker, release tasks) in the DR region. */
  readonly appSecurityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: DataPlaceholdersProps) {
    super(scope, id);
    const { vpc } = props;
    const isolated = vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_ISOLATED }).subnetIds;

    this.databaseSubnetGroup = new rds.CfnDBSubnetGroup(this, 'DatabaseSubnets', {
      dbSubnetGroupName: props.databaseSubnetGroupName,
      dbSubnetGroupDescription: 'Isolated subnets the database is restored into in the DR region',
      subnetIds: isolated,
    });
    const [major] = props.engineVersion.split('.');
    this.databaseParameterGroup = new rds.ParameterGroup(this, 'DatabaseParameters', {
      engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.of(props.engineVersion, major) }),
      description: `PostgreSQL ${major} settings of the database restored in the DR region`,
      parameters: databaseParameters(props.maxConnections),
    });
    this.cacheSubnetGroup = new elasticache.CfnSubnetGroup(this, 'CacheSubnets', {
      cacheSubnetGroupName: props.cacheSubnetGroupName,
      description: 'Isolated subnets the cache is created in in the DR region',
      subnetIds: isolated,
    });

    this.databaseSecurityGroup = new ec2.SecurityGroup(this, 'DatabaseSecurityGroup', {
      vpc,
      description: `PostgreSQL restored in the DR region: admits only the app on ${DATABASE_PORT}`,
      allowAllOutbound: false,
    });
    this.cacheSecurityGroup = new ec2.SecurityGroup(this, 'CacheSecurityGroup', {
      vpc,
      description: `Valkey in the DR region: admits only the app on ${CACHE_PORT}`,
      allowAllOutbound: false,
    });
    this.appSecurityGroup = httpsOnlySecurityGroup(this, 'AppSecurityGroup', {
      vpc,
      description: 'App tasks in the DR region: HTTPS out, the database and the cache',
      httpsTo: 'HTTPS to AWS APIs and the image registry',
    });
    this.appSecurityGroup.connections.allowTo(this.databaseSecurityGroup, ec2.Port.tcp(DATABASE_PORT), 'App tasks to PostgreSQL');
    this.appSecurityGroup.connections.allowTo(this.cacheSecurityGroup, ec2.Port.tcp(CACHE_PORT), 'App tasks to Valkey');
  }
}
