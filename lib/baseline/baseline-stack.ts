import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type * as events from 'aws-cdk-lib/aws-events';
import type { Construct } from 'constructs';
import { cdkBootstrapRoleName } from '../ci/ci-access-stack';
import { deployRegions, type StageConfig } from '../config';
import { forwardingRule } from '../shared/forward-events';
import { ServiceKey } from '../shared/service-key';
import { AccessAnalyzer } from './access-analyzer';
import { AuditTrail, type AuditTrailProps } from './audit-trail';
import { ConfigRecorder } from './config-recorder';
import { EvidenceBucket } from './evidence-bucket';
import { GUARDDUTY_FINDINGS, SECURITY_HUB_FINDINGS } from './findings';
import { type OnCallPlan, OperatorRoles, onCallRoleName } from './operator-roles';
import { SecurityFindings } from './security-findings';
import { ThreatDetection } from './threat-detection';

/** The uploads bucket's logical id in a stage's data stack (pinned by test/data: stateful ids never change). */
export const UPLOADS_BUCKET_LOGICAL_ID = 'UploadsBucketC4B27CC7';

/**
 * The ARN prefix of a stage's uploads bucket. CloudFormation names a bucket without a name
 * `<stack name>-<logical id>-<random>`, lower-cased; the stack is `<stage>-Data`.
 */
export function uploadsBucketArnPrefix(stage: string, partition = 'aws'): string {
  return `arn:${partition}:s3:::${`${stage}-Data-${UPLOADS_BUCKET_LOGICAL_ID}`.toLowerCase()}-`;
}

/**
 * Every region CloudFormation deploys to in the account of `stages` (the stages of one account):
 * each stage's stacks (its edge stack's us-east-1 too), and the registry's source region where the
 * account holds the registry CI pushes to. Sorted.
 */
export function accountDeployRegions(stages: readonly StageConfig[]): string[] {
  const account = stages[0]?.account;
  const regions = stages.flatMap((s) => [...deployRegions(s), ...(s.image.source.account === account ? [s.image.source.region] : [])]);
  return [...new Set(regions)].sort();
}

/** The account's trail, as its home-region baseline stack builds it (baseline.trail). */
export interface TrailPlan {
  readonly retentionDays: number;
  readonly archiveAfterDays: number;
  readonly objectLock: AuditTrailProps['objectLock'];
  /** The stages whose uploads buckets' object-level events the trail records (baseline.trail.uploadsDataEvents). */
  readonly uploadsDataEventStages: readonly string[];
  /** The names of the roles CloudFormation deploys with in the account, one per region its stacks use. */
  readonly deployRoles: readonly string[];
  /** The break-glass roles (names) of the account's stages: the stages share the trail, so each may reach it. */
  readonly breakGlassRoleNames: readonly string[];
}

/** One account and region of the baseline, and what its stack holds (the account's settings: the same in each of its stages). */
export interface BaselinePlan {
  readonly account: string;
  readonly region: string;
  /** The account's home region (its first stage's region): the trail, its alarms and IAM recording live there. */
  readonly homeRegion: string;
  /** The stages that run in the account. */
  readonly stages: readonly string[];
  /** Every region of the account a stage uses. */
  readonly regions: readonly string[];
  /** Keep the trail and recorder buckets when the stack goes (any stage of the account keeps its data). */
  readonly retain: boolean;
  /** The account's trail, in the home region's plan only. @default no trail here */
  readonly trail?: TrailPlan;
  /** A GuardDuty detector, and whether it monitors the runtime of ECS tasks. @default no detector */
  readonly guardDuty?: { readonly runtimeMonitoring: boolean };
  /** Security Hub with AWS Foundational Security Best Practices. */
  readonly securityHub: boolean;
  /** The stack records AWS Config itself (baseline.configRecorder "stack"; not where an organization does). */
  readonly configRecorder: boolean;
  readonly accessAnalyzer: boolean;
  /** The evidence bucket of the account's security incidents, in the home region's plan only. @default no evidence bucket here */
  readonly evidence?: { readonly breakGlassRoleNames: readonly string[] };
  /** The roles people act with (IAM is global: in the home region's plan only). @default no roles */
  readonly operatorRoles?: {
    readonly onCall: readonly OnCallPlan[];
    readonly breakGlass: readonly { readonly roleName: string; readonly principals: readonly string[] }[];
    readonly deployRegions: readonly string[];
  };
}

/** Whether a baseline creates anything at all (a baseline turned off everywhere, with no operator roles, has no stack). */
function createsAnything(s: StageConfig['baseline'], stages: readonly StageConfig[]): boolean {
  const roles = stages.some((c) => c.access.onCall.principals.length > 0 || c.access.breakGlass.createRole);
  return s.trail.enabled || s.guardDuty.enabled || s.securityHub || s.configRecorder === 'stack' || s.accessAnalyzer || roles;
}

/** The account's operator roles: an on-call role per stage naming principals, each break-glass role the baseline creates. */
function operatorRolesOf(here: readonly StageConfig[]): BaselinePlan['operatorRoles'] {
  const onCall = here
    .filter((c) => c.access.onCall.principals.length > 0)
    .map((c) => ({ stage: c.name, regions: [...new Set([c.region, c.drRegion])], principals: c.access.onCall.principals }));
  const breakGlass = new Map<string, readonly string[]>();
  for (const c of here) if (c.access.breakGlass.createRole) breakGlass.set(c.backup.breakGlassRoleName, c.access.breakGlass.principals);
  if (onCall.length === 0 && breakGlass.size === 0) return undefined;
  return {
    onCall,
    breakGlass: [...breakGlass].map(([roleName, principals]) => ({ roleName, principals })),
    deployRegions: accountDeployRegions(here),
  };
}

/**
 * The baseline stacks of every stage (all of them, synthesized or not, like the registries): one
 * per account and region a stage uses, its DR region included, so two stages in one account
 * never create a second detector, hub or recorder.
 */
export function baselinePlans(stages: readonly StageConfig[]): BaselinePlan[] {
  const plans: BaselinePlan[] = [];
  for (const account of new Set(stages.map((s) => s.account))) {
    const here = stages.filter((s) => s.account === account);
    const settings = here[0].baseline;
    if (!createsAnything(settings, here)) continue;
    const homeRegion = here[0].region;
    const regions = [...new Set(here.flatMap((s) => [s.region, ...(s.backup.drCopies || s.uploads.replicateToDr ? [s.drRegion] : [])]))];
    const { trail } = settings;
    for (const region of regions) {
      plans.push({
        account,
        region,
        homeRegion,
        stages: here.map((s) => s.name),
        regions,
        retain: here.some((s) => s.retainOnDelete),
        trail:
          trail.enabled && region === homeRegion
            ? {
                retentionDays: trail.retentionDays,
                archiveAfterDays: trail.archiveAfterDays,
                objectLock: trail.objectLock,
                uploadsDataEventStages: trail.uploadsDataEvents ? here.map((s) => s.name) : [],
                deployRoles: accountDeployRegions(here).map((r) => cdkBootstrapRoleName('cfn-exec', account, r)),
                breakGlassRoleNames: [...new Set(here.map((s) => s.backup.breakGlassRoleName))],
              }
            : undefined,
        guardDuty: settings.guardDuty.enabled ? { runtimeMonitoring: settings.guardDuty.runtimeMonitoring } : undefined,
        securityHub: settings.securityHub,
        configRecorder: settings.configRecorder === 'stack',
        accessAnalyzer: settings.accessAnalyzer,
        evidence: region === homeRegion ? { breakGlassRoleNames: [...new Set(here.map((s) => s.backup.breakGlassRoleName))] } : undefined,
        operatorRoles: region === homeRegion ? operatorRolesOf(here) : undefined,
      });
    }
  }
  return plans;
}

/** The name of a baseline stack. */
export function baselineStackName(plan: { account: string; region: string }): string {
  return `Baseline-${plan.account}-${plan.region}`;
}

export interface BaselineStackProps extends StackProps {
  readonly plan: BaselinePlan;
}

/** The outputs the incident runbook (docs/runbooks.md) and its commands read from a baseline stack. */
export const BASELINE_OUTPUTS = {
  evidenceBucket: 'EvidenceBucketName',
  evidenceKey: 'EvidenceKeyArn',
  trailBucket: 'TrailBucketName',
  trailLogGroup: 'TrailLogGroupName',
  detector: 'GuardDutyDetectorId',
} as const;

/**
 * The security baseline of one account and region (deployed once there, not per stage; turned
 * off piece by piece where an organisation provides it): in the home region the account's
 * CloudTrail trail with its CIS metric filters; in every region a GuardDuty detector, Security
 * Hub with AWS Foundational Security Best Practices, the AWS Config recorder its controls need
 * and an IAM Access Analyzer. Findings reach the stage's alarm routes through rules in the stage's
 * ops stack; outside the home region a rule here forwards them to the home region's event bus.
 */
export class BaselineStack extends Stack {
  readonly trail?: AuditTrail;
  readonly threatDetection?: ThreatDetection;
  readonly securityFindings?: SecurityFindings;
  readonly recorder?: ConfigRecorder;
  readonly evidence?: EvidenceBucket;
  readonly operatorRoles?: OperatorRoles;

  constructor(scope: Construct, id: string, props: BaselineStackProps) {
    super(scope, id, props);
    const { plan } = props;
    const home = plan.region === plan.homeRegion;
    const removalPolicy = plan.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    if (plan.trail) {
      const { uploadsDataEventStages, ...trail } = plan.trail;
      this.trail = new AuditTrail(this, 'Trail', {
        ...trail,
        dataEventBucketPrefixes: uploadsDataEventStages.map((stage) => uploadsBucketArnPrefix(stage, this.partition)),
        removalPolicy,
      });
    }
    if (plan.guardDuty) this.threatDetection = new ThreatDetection(this, 'ThreatDetection', { runtimeMonitoring: plan.guardDuty.runtimeMonitoring });
    if (plan.configRecorder) {
      const key = new ServiceKey(this, 'RecorderKey', { description: 'AWS Config configuration history of the account', services: ['s3'] }).key;
      this.recorder = new ConfigRecorder(this, 'ConfigRecorder', { includeGlobalTypes: home, key, removalPolicy });
    }
    if (plan.securityHub) {
      this.securityFindings = new SecurityFindings(this, 'SecurityHub');
      // Security Hub's controls read the recorder's configuration items.
      if (this.recorder) this.securityFindings.node.addDependency(this.recorder);
    }
    if (plan.accessAnalyzer) new AccessAnalyzer(this, 'AccessAnalyzer');
    if (plan.operatorRoles) this.operatorRoles = new OperatorRoles(this, 'OperatorRoles', plan.operatorRoles);
    if (plan.evidence) {
      const onCallRoleNames = (plan.operatorRoles?.onCall ?? []).map((p) => onCallRoleName(p.stage));
      this.evidence = new EvidenceBucket(this, 'Evidence', { breakGlassRoleNames: plan.evidence.breakGlassRoleNames, onCallRoleNames });
    }

    const output = (id: string, value: string, description: string) => new CfnOutput(this, id, { value, description });
    if (this.evidence) {
      output(BASELINE_OUTPUTS.evidenceBucket, this.evidence.bucket.bucketName, 'Evidence of security incidents (npm run contain, npm run evidence)');
      output(BASELINE_OUTPUTS.evidenceKey, this.evidence.key.keyArn, 'The key the evidence bucket encrypts with');
    }
    if (this.trail) {
      output(BASELINE_OUTPUTS.trailBucket, this.trail.logBucket.bucketName, "The bucket the account's trail writes its log files to");
      output(BASELINE_OUTPUTS.trailLogGroup, this.trail.logGroup.logGroupName, "The account trail's CloudWatch Logs copy (90 days)");
    }
    if (this.threatDetection) output(BASELINE_OUTPUTS.detector, this.threatDetection.detector.attrId, "This region's GuardDuty detector");

    if (!home && (plan.guardDuty || plan.securityHub)) {
      const forward = (ruleId: string, description: string, eventPattern: events.EventPattern) =>
        forwardingRule(this, ruleId, { description, eventPattern, toRegion: plan.homeRegion });
      if (plan.guardDuty) forward('ForwardGuardDutyFindings', `GuardDuty findings of ${plan.region} to ${plan.homeRegion}, where the stage alarms`, GUARDDUTY_FINDINGS);
      if (plan.securityHub) forward('ForwardSecurityHubFindings', `Security Hub findings of ${plan.region} to ${plan.homeRegion}, where the stage alarms`, SECURITY_HUB_FINDINGS);
    }
  }
}
