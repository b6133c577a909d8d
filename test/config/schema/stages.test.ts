import { describe, expect, test } from 'vitest';
import { LISTS_WITH_REPEATS, PROD_RULES, parseStageConfig, STAGE_NAMES, STAGES, type StageName } from '../../../lib/config';
import { listPaths } from '../../../lib/config/context-keys';
import { at, errorOf, escaped, type Patch, variant } from './stage-variant';

describe('shipped stage definitions', () => {
  test.each(STAGE_NAMES)('%s is valid', (name) => {
    const config = parseStageConfig(STAGES[name]);
    expect(config.name).toBe(name);
  });

  test('sizing follows the documented defaults', () => {
    const dev = parseStageConfig(STAGES.dev);
    expect(dev.web).toMatchObject({ cpu: 256, memoryLimitMiB: 512, desiredCount: 1, useSpot: true });
    expect(dev.database).toMatchObject({ instanceClass: 't4g.micro', multiAz: false });
    const prod = parseStageConfig(STAGES.prod);
    expect(prod.web).toMatchObject({ cpu: 1024, memoryLimitMiB: 2048, minCapacity: 2, maxCapacity: 10, useSpot: false });
    expect(prod.database).toMatchObject({ multiAz: true, deletionProtection: true });
    expect(prod.network.azCount).toBe(3);
    const staging = parseStageConfig(STAGES.staging);
    // staging is prod's shape at about 80% of its capacity
    expect(staging.web.maxCapacity / prod.web.maxCapacity).toBeCloseTo(0.8, 1);
  });
});

describe('a stage with several problems', () => {
  test('every problem of a stage is reported at once', () => {
    const message = errorOf(variant('prod', { database: { multiAz: false, deletionProtection: false } }));
    expect(message).toMatch(/^Invalid stage configuration \(2 problems\):/);
  });

  test("prod's rules each name a field once and are reported in their order, tier by tier", () => {
    const order = PROD_RULES.map((rule) => rule.path.join('.'));
    expect(new Set(order).size).toBe(order.length);
    // dev as prod breaks most of them: its report lists them in that order.
    const message = errorOf(variant('dev', { name: 'prod' }));
    const reported = message
      .split('\n')
      .flatMap((line) => PROD_RULES.filter((rule) => line.includes(`field "${rule.path.join('.')}"`) && line.includes(rule.message)).map((rule) => rule.path.join('.')));
    expect(reported.length).toBeGreaterThan(10);
    expect(reported).toEqual(order.filter((path) => reported.includes(path)));
  });
});

describe('every list names each entry once', () => {
  /** An entry for the lists no shipped stage fills. */
  const SAMPLES: Record<string, unknown> = {
    'network.availabilityZones': 'eu-west-1a',
    'alarms.httpsEndpoints': 'https://events.example.com/hook',
    'backup.verify.tables': { name: 'documents', minRows: 1 },
    'access.breakGlass.principals': 'sso:PlatformAdmin',
  };
  const shipped = Object.fromEntries(STAGE_NAMES.map((name) => [name, parseStageConfig(STAGES[name])]));
  const fieldOf = (config: unknown, path: string) => path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], config);

  test('the schema has lists, and the ones whose entries may repeat are commands', () => {
    expect(listPaths().length).toBeGreaterThan(10);
    for (const path of LISTS_WITH_REPEATS) {
      expect(listPaths()).toContain(path);
      expect(path).toMatch(/Command$/);
    }
  });

  // Found by walking the schema: a list added without unique() fails here.
  test.each(listPaths().filter((path) => !LISTS_WITH_REPEATS.includes(path)))('%s refuses an entry listed twice', (path) => {
    const stage = STAGE_NAMES.find((name) => ((fieldOf(shipped[name], path) as unknown[] | undefined) ?? []).length > 0) ?? 'dev';
    const entry = (fieldOf(shipped[stage], path) as unknown[] | undefined)?.[0] ?? SAMPLES[path];
    expect(entry, `no stage lists ${path}: add an entry for it to SAMPLES`).toBeDefined();
    const message = errorOf(variant(stage, at(path, [entry, structuredClone(entry)])));
    expect(message).toMatch(new RegExp(`stage "${stage}", field "${escaped(path)}\\.1", value .*: .* is listed twice: each .+ once\\. Fix: remove the second one`));
  });
});

describe('every validation aws-cdk-lib runs on a value from the configuration is met by the schema first', () => {
  // Each row: aws-cdk-lib's rule (its error id), the stage, the change for a value, the field, a value it refuses, the nearest it takes.
  const rules: [string, StageName, (v: number) => Patch, string, number, number][] = [
    ['aws-ecs MustBeCanaryDeploymentStepPercent: a multiple of 0.1', 'prod', (v) => ({ app: { deployment: { stepPercent: v } } }), 'app.deployment.stepPercent', 10.55, 10.5],
    [
      'aws-ecs MustBeLinearDeploymentStepPercent: a multiple of 0.1, at least 3',
      'staging',
      (v) => ({ app: { deployment: { strategy: 'linear', stepPercent: v } } }),
      'app.deployment.stepPercent',
      33.33,
      33.3,
    ],
    ['aws-ecs MustBeCanaryDeploymentStepBakeTime: whole minutes', 'prod', (v) => ({ app: { deployment: { stepMinutes: v } } }), 'app.deployment.stepMinutes', 5.5, 5],
    ['aws-applicationautoscaling MinCapacity: min <= max', 'staging', (v) => ({ web: { minCapacity: v, desiredCount: v } }), 'web.minCapacity', 9, 8],
    ['aws-applicationautoscaling MinCapacityCannotNegative', 'dev', (v) => ({ worker: { minCapacity: v } }), 'worker.minCapacity', -1, 0],
    [
      'aws-backup BackupEnforcesHourCoolingPeriod: changeableFor >= 72 hours',
      'prod',
      (v) => ({ backup: { vaultLock: { mode: 'compliance', changeableForDays: v } } }),
      'backup.vaultLock.changeableForDays',
      2,
      3,
    ],
    ['aws-backup ShortestMinimumRetentionPeriodSpecify: minRetention >= 1 day', 'dev', (v) => ({ backup: { planRetentionDays: v } }), 'backup.planRetentionDays', 0, 1],
    ['aws-s3 MustBeObjectLockRetention: at most 100 years', 'prod', (v) => ({ baseline: { trail: { retentionDays: v } } }), 'baseline.trail.retentionDays', 36501, 36500],
    ['aws-logs RetentionDaysPositive', 'dev', (v) => ({ logRetentionDays: v }), 'logRetentionDays', 0, 1],
  ];

  test.each(rules)('%s', (_rule, stage, set, field, refused, taken) => {
    const message = errorOf(variant(stage, set(refused)));
    expect(message).toMatch(new RegExp(`stage "${stage}", field "${escaped(field)}", value ${escaped(String(refused))}: .*Fix: `));
    expect(() => parseStageConfig(variant(stage, set(taken)))).not.toThrow();
  });
});
