import { stageResourceName } from '../shared/naming';

/**
 * The fixed names of a stage's pilot light in its DR region, which the failover and preflight
 * find it by (scripts/lib): written once here so the stack and the commands cannot drift apart.
 * No imports beyond naming, so commands load it without the CDK.
 */
export function pilotLightNames(stage: string) {
  return {
    /** The stack (`<stage>-PilotLight`), as `cdk deploy '<stage>/PilotLight'` and its outputs name it. */
    stackName: `${stage}-PilotLight`,
    /** The RDS subnet group a database restored in the DR region goes into. */
    databaseSubnetGroup: stageResourceName(stage, 'dr', 'database'),
    /** The ElastiCache subnet group the DR cache goes into. */
    cacheSubnetGroup: stageResourceName(stage, 'dr', 'cache'),
  } as const;
}
