import { Aws, Fn, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { StageConfig } from '../config';
import { markCrossStackReads } from './cross-stack-reads';

export interface StageStackProps extends StackProps {
  /** The validated configuration of the stage this stack belongs to. */
  readonly config: StageConfig;
}

/**
 * Base of every stack of a stage. It answers `availabilityZones` from the stage config, so a VPC
 * synthesizes offline (the default would ask EC2, which needs credentials), and it turns the
 * stage's retention settings into the CDK values the constructs take.
 */
export abstract class StageStack extends Stack {
  readonly config: StageConfig;

  constructor(scope: Construct, id: string, props: StageStackProps) {
    super(scope, id, props);
    this.config = props.config;
  }

  /** The template, with every cross-stack read marked by its producer's fingerprint (cross-stack-reads.ts). */
  protected override _toCloudFormation(): Record<string, unknown> {
    return markCrossStackReads(this, super._toCloudFormation());
  }

  override get availabilityZones(): string[] {
    const { region, network } = this.config;
    return network.availabilityZones ?? ['a', 'b', 'c'].slice(0, network.azCount).map((letter) => `${region}${letter}`);
  }

  /** Removal policy for stateful resources: kept unless the stage is throw-away. */
  get statefulRemovalPolicy(): RemovalPolicy {
    return this.config.retainOnDelete ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
  }

  /**
   * A suffix unique to this creation of the stack: the last 12 hex digits of the UUID in its stack
   * id. Retained resources with a fixed name (backup vaults) carry it, so a stack deleted and
   * created again makes a new one instead of failing on the name the retained one still holds.
   */
  get creationSuffix(): string {
    return Fn.select(4, Fn.split('-', Fn.select(2, Fn.split('/', Aws.STACK_ID))));
  }

  /** Retention of the stage's log groups (the schema admits only values CloudWatch Logs offers). */
  get logRetention(): logs.RetentionDays {
    return this.config.logRetentionDays as logs.RetentionDays;
  }
}
