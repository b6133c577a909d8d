import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import {
  type IPolicyValidationContext,
  type IPolicyValidationContextBeta1,
  type IPolicyValidationPlugin,
  type PolicyValidationPluginReport,
  type PolicyViolation,
  Validations,
} from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { PROJECT_ROOT } from './paths';

/** The plugin's name: the namespace of its rule ids in acknowledgements (`ControlTower::<rule>`). */
export const CONTROL_TOWER_PLUGIN = 'ControlTower';

const PACKAGE_DIR = dirname(require.resolve('@cdklabs/cdk-validator-cfnguard/package.json'));
const PACKAGE_VERSION: string = JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8')).version;
const RULES_DIR = join(PACKAGE_DIR, 'rules', 'control-tower', 'cfn-guard');

/** One rule file of the pack and the resource types it reads. */
interface RuleFile {
  readonly path: string;
  readonly types: ReadonlySet<string>;
  readonly text: string;
}

function ruleFiles(dir: string): RuleFile[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.guard'))
    .map((e) => join(e.parentPath, e.name))
    .sort()
    .map((path) => {
      const text = readFileSync(path, 'utf8');
      return { path, text, types: new Set(text.match(/AWS::[A-Za-z0-9]+::[A-Za-z0-9]+/g) ?? []) };
    });
}

export interface ControlTowerChecksProps {
  /**
   * Where results are kept by what decides them (the pack's version, the rule files' text, the
   * resources they read), so an unchanged template is not checked twice on one machine.
   * @default node_modules/.cache/control-tower
   */
  readonly cacheDir?: string;
  /**
   * Runs the rule files on one template and returns the findings (tests inject a failing one).
   * @default the pack's own runner (its cfn-guard binary and result parser)
   */
  readonly runGuard?: (rulePaths: readonly string[], templatePath: string) => PolicyViolation[];
}

function packRunner(rulePaths: readonly string[], templatePath: string): PolicyViolation[] {
  return new CfnGuardValidator({ controlTowerRulesEnabled: false, rules: [...rulePaths] }).validate({ templatePaths: [templatePath] } as IPolicyValidationContextBeta1).violations;
}

/**
 * AWS Control Tower's proactive controls (the cfn-guard rule pack of
 * @cdklabs/cdk-validator-cfnguard) as a CDK validation plugin, run at synth next to cdk-nag.
 * Findings are acknowledged per construct with `acknowledgeControl` (the plugin itself only has a
 * global list of disabled rules, and the rules ignore template-metadata suppressions); every
 * finding is an error, so one acknowledged finding never lets the others through (CDK recomputes
 * a report's success after acknowledgements from the severities alone).
 *
 * Speed: the pack runs each of its 237 rules over the whole template, about 64 s for this app's
 * templates. Each template is checked only by the rules that read a resource type it contains,
 * against only the resources of those types (without their CDK metadata), and the result is
 * cached: the same findings in about 13 s cold and well under a second warm.
 */
export class ControlTowerChecks implements IPolicyValidationPlugin {
  readonly name = CONTROL_TOWER_PLUGIN;
  readonly version = PACKAGE_VERSION;
  private readonly rules = ruleFiles(RULES_DIR);
  private readonly cacheDir: string;
  private readonly runGuard: (rulePaths: readonly string[], templatePath: string) => PolicyViolation[];

  constructor(props: ControlTowerChecksProps = {}) {
    this.cacheDir = props.cacheDir ?? join(PROJECT_ROOT, 'node_modules', '.cache', 'control-tower');
    this.runGuard = props.runGuard ?? packRunner;
  }

  /** The rule ids of the pack, as findings name them (`s3_bucket_logging_enabled_check`). */
  get ruleIds(): string[] {
    return [...new Set(this.rules.flatMap((r) => [...r.text.matchAll(/^rule\s+([a-z0-9_]+_check)\b/gm)].map((m) => m[1])))].sort();
  }

  validate(context: IPolicyValidationContext): PolicyValidationPluginReport {
    const violations = context.templatePaths.flatMap((templatePath) => this.check(templatePath));
    return { success: violations.length === 0, violations };
  }

  private check(templatePath: string): PolicyViolation[] {
    const template = JSON.parse(readFileSync(templatePath, 'utf8')) as { Resources?: Record<string, { Type: string; Metadata?: unknown }> };
    const resources = template.Resources ?? {};
    const present = new Set(Object.values(resources).map((r) => r.Type));
    const rules = this.rules.filter((r) => [...r.types].some((t) => present.has(t)));
    if (rules.length === 0) return [];
    const read = new Set(rules.flatMap((r) => [...r.types]));
    const slim: Record<string, unknown> = {};
    for (const [id, { Metadata: _metadata, ...resource }] of Object.entries(resources)) if (read.has(resource.Type)) slim[id] = resource;
    // Some rules accept a Ref or GetAtt only when it names a resource of the template: the
    // resources the kept ones point at stay, as their type alone.
    const kept = JSON.stringify(slim);
    for (const [, id] of kept.matchAll(/"(?:Ref|Fn::GetAtt)":\[?"([A-Za-z0-9]+)"/g)) {
      if (!(id in slim) && resources[id]) slim[id] = { Type: resources[id].Type };
    }
    const body = JSON.stringify({ Resources: slim });
    const key = createHash('sha256')
      .update(PACKAGE_VERSION)
      .update(rules.map((r) => r.text).join('\0'))
      .update(body)
      .digest('hex');
    const cached = join(this.cacheDir, `${key}.json`);
    let found: PolicyViolation[];
    try {
      found = JSON.parse(readFileSync(cached, 'utf8'));
    } catch {
      mkdirSync(this.cacheDir, { recursive: true });
      const input = join(this.cacheDir, `${key}.template.json`);
      writeFileSync(input, body);
      try {
        found = this.runGuard(
          rules.map((r) => r.path),
          input,
        ).map((v) => ({ ...v, violatingResources: v.violatingResources.map((r) => ({ ...r, templatePath: '' })) }));
        writeFileSync(cached, JSON.stringify(found));
      } catch (error) {
        // CDK turns a plugin that throws into a report it does not print and synth passes: a
        // check that could not run is a finding instead (and is not cached).
        found = [
          {
            ruleName: 'control-tower-checks-failed',
            description: `The Control Tower checks could not run on this template: ${(error as Error).message.trim()}`,
            fix: `Run cfn-guard on ${input} with the rules of ${RULES_DIR} to see which rule fails`,
            violatingResources: [{ resourceLogicalId: Object.keys(slim)[0], templatePath: '', locations: [] }],
          },
        ];
      }
    }
    return found.map((v) => ({ ...v, severity: 'error', violatingResources: v.violatingResources.map((r) => ({ ...r, templatePath })) }));
  }
}

/**
 * Acknowledges one Control Tower control on a construct (and what it contains), with the reason
 * it does not apply or is accepted. An empty reason is refused: every exception says why.
 */
export function acknowledgeControl(scope: IConstruct, rule: string, reason: string): void {
  if (reason.trim().length < 20) throw new Error(`acknowledging ${rule} on ${scope.node.path}: give the reason it does not apply (a sentence, not "${reason}")`);
  Validations.of(scope).acknowledge({ id: `${CONTROL_TOWER_PLUGIN}::${rule}`, reason });
}

/** acknowledgeControl for several controls on one construct. */
export function acknowledgeControls(scope: IConstruct, reasons: Readonly<Record<string, string>>): void {
  for (const [rule, reason] of Object.entries(reasons)) acknowledgeControl(scope, rule, reason);
}

/** Reasons shared by every bucket of one kind, so each bucket site says which kind it is. */
export const BUCKET_CONTROLS = {
  /** Buckets that only AWS services write to (logs, recordings): nothing to notify about. */
  serviceWritten: {
    s3_event_notifications_enabled_check: 'Only an AWS service writes to this bucket; no consumer acts on its new objects, and CloudTrail records the writes.',
  },
  /** Server access-log buckets: SSE-S3, and not logged into themselves. */
  accessLogs: {
    s3_bucket_default_encryption_kms_check: 'S3 delivers server access logs only into buckets with SSE-S3 default encryption, not SSE-KMS.',
    s3_bucket_logging_enabled_check: 'This bucket receives server access logs; logging it into itself would log every delivery.',
    s3_bucket_object_lock_enabled_check: 'Access logs expire on schedule; locking them would only keep them past it. The trail is the tamper-proof record.',
  },
} as const;
