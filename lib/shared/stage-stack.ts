import { createHash } from 'node:crypto';
import { Aws, Fn, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { StageConfig } from '../config';
import { crossStackReads, markCrossStackReads, readKey } from './cross-stack-reads';

export interface StageStackProps extends StackProps {
  /** The validated configuration of the stage this stack belongs to. */
  readonly config: StageConfig;
  /**
   * Values to write instead of reading them from another stack (`-c pinnedReads`), by
   * `<stack>/<output>`: what a deploy passes while the primary region is lost. Only stacks outside
   * the primary region take them.
   * @default every read resolved by CloudFormation
   */
  readonly pinnedReads?: ReadonlyMap<string, string>;
}

/** Starts the description of an output that keeps a value read from the primary region (PRIMARY_READ_PREFIX + `<stack>/<output>`). */
export const PRIMARY_READ_PREFIX = 'Read from the primary region at the last deploy, for -c pinnedReads: ';

/**
 * Base of every stack of a stage. It answers `availabilityZones` from the stage config, so a VPC
 * synthesizes offline (the default would ask EC2, which needs credentials), and it turns the
 * stage's retention settings into the CDK values the constructs take.
 */
export abstract class StageStack extends Stack {
  readonly config: StageConfig;
  private readonly pinnedReads: ReadonlyMap<string, string>;

  constructor(scope: Construct, id: string, props: StageStackProps) {
    super(scope, id, props);
    this.config = props.config;
    this.pinnedReads = props.pinnedReads ?? new Map();
  }

  /**
   * The template, with every cross-stack read marked by its producer's fingerprint, or written as
   * its pinned value (cross-stack-reads.ts). A stack outside the primary region (the edge, the
   * pilot light) must deploy when that region is lost, when CloudFormation could not resolve its
   * reads from there: it keeps each value it reads from the primary region as an output, which the
   * failover reads (from a region that answers) and passes back as `-c pinnedReads`.
   */
  protected override _toCloudFormation(): Record<string, unknown> {
    const template = super._toCloudFormation();
    if (this.region !== this.config.region) {
      const outputs = { ...(template.Outputs as Record<string, unknown> | undefined) };
      for (const read of crossStackReads(template.Resources)) {
        if ((read.Region ?? this.region) !== this.config.region) continue;
        const key = readKey(read);
        outputs[`PrimaryRead${createHash('sha256').update(key).digest('hex').slice(0, 12)}`] = {
          Description: `${PRIMARY_READ_PREFIX}${key}`,
          Value: { 'Fn::GetStackOutput': read },
        };
      }
      if (Object.keys(outputs).length > 0) template.Outputs = outputs;
    }
    // Only these stacks take pins: one in the primary region deploys while that region answers,
    // and a pinned value there would stop following its producer.
    return markCrossStackReads(this, template, this.region !== this.config.region ? this.pinnedReads : undefined);
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
