import { randomUUID } from 'node:crypto';
import { CloudWatchLogsClient, CreateLogGroupCommand, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { CreateEventBusCommand, EventBridgeClient, PutEventsCommand, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, test } from 'vitest';
import { BOOTSTRAP_QUALIFIER, ciRoleNames } from '../../lib/ci/ci-access-stack';
import { parseStageConfig, STAGE_NAMES, STAGES, type StageName } from '../../lib/config';
import { type Moto, startMoto } from '../support/moto';
import { type Json, resources, stageTemplates } from '../support/template';

/**
 * The rules on the protected keys, as data: their patterns and messages, taken from the
 * synthesized ops and DR stacks (the keys' ids, read across stacks, replaced by sample ones), run by
 * moto's EventBridge against CloudTrail's records of KMS calls. Moto delivers to log groups, not
 * SNS topics, so each rule's target here is a log group with the template's input transformer.
 */
const stages = stageTemplates();
/** Moto's account: buses and log groups live there; the events name the stage's own. */
const MOTO_ACCOUNT = '123456789012';

type Outcome = 'deploy' | 'others' | 'none';

interface Case {
  readonly what: string;
  /** Where the call is made: the stage's region or its DR region. */
  readonly where: 'primary' | 'dr';
  readonly eventName: string;
  /** The key passed in the call. */
  readonly keyId: (keys: SampleKeys) => string;
  readonly caller: (ctx: { account: string; region: string; stage: StageName; marker: string }) => Json;
  readonly errorCode?: string;
  readonly expected: Outcome;
}

interface SampleKeys {
  readonly database: string;
  readonly backup: string;
  readonly cache: string;
  readonly dr?: string;
  /** The raw dumps' key, protected where the dump bucket is locked (prod). */
  readonly dumps?: string;
}

/** CloudTrail's userIdentity of a role session. */
const session = (account: string, role: string, marker: string): Json => ({
  type: 'AssumedRole',
  principalId: `AROAEXAMPLE:${marker}`,
  arn: `arn:aws:sts::${account}:assumed-role/${role}/${marker}`,
  accountId: account,
  sessionContext: {
    sessionIssuer: { type: 'Role', principalId: 'AROAEXAMPLE', arn: `arn:aws:iam::${account}:role/${role}`, accountId: account, userName: role },
    attributes: { mfaAuthenticated: 'false' },
  },
});
const cfnExec = (account: string, region: string) => `cdk-${BOOTSTRAP_QUALIFIER}-cfn-exec-role-${account}-${region}`;

const CASES: readonly Case[] = [
  {
    what: 'an administrator rewrites the database key policy',
    where: 'primary',
    eventName: 'PutKeyPolicy',
    keyId: (k) => k.database,
    caller: ({ account, marker }) => session(account, 'Admin', marker),
    expected: 'others',
  },
  {
    what: 'CloudFormation (the deploy role of the region) writes the backup key policy',
    where: 'primary',
    eventName: 'PutKeyPolicy',
    keyId: (k) => k.backup,
    caller: ({ account, region, marker }) => session(account, cfnExec(account, region), marker),
    expected: 'deploy',
  },
  {
    what: 'the CI deploy role tries to rewrite the database key policy and is refused',
    where: 'primary',
    eventName: 'PutKeyPolicy',
    keyId: (k) => k.database,
    caller: ({ account, stage, marker }) => session(account, ciRoleNames(stage).deploy, marker),
    errorCode: 'AccessDeniedException',
    expected: 'others',
  },
  {
    what: 'the root user disables the backup key',
    where: 'primary',
    eventName: 'DisableKey',
    keyId: (k) => k.backup,
    caller: ({ account, marker }) => ({ type: 'Root', principalId: account, arn: `arn:aws:iam::${account}:root`, accountId: account, userName: marker }),
    expected: 'others',
  },
  {
    what: 'an administrator disables the raw dumps key of a locked dump bucket',
    where: 'primary',
    eventName: 'DisableKey',
    keyId: (k) => k.dumps!,
    caller: ({ account, marker }) => session(account, 'Admin', marker),
    expected: 'others',
  },
  {
    what: 'an IAM user schedules the deletion of the database key, naming it by its ARN in upper case',
    where: 'primary',
    eventName: 'ScheduleKeyDeletion',
    keyId: (k) => `arn:aws:kms:eu-west-1:111122223333:key/${k.database}`.toUpperCase(),
    caller: ({ account, marker }) => ({ type: 'IAMUser', principalId: 'AIDAEXAMPLE', arn: `arn:aws:iam::${account}:user/${marker}`, accountId: account, userName: marker }),
    expected: 'others',
  },
  {
    what: 'the break-glass role turns the rotation of the backup key off',
    where: 'primary',
    eventName: 'DisableKeyRotation',
    keyId: (k) => k.backup,
    caller: ({ account, marker }) => session(account, 'webapp-break-glass', marker),
    expected: 'others',
  },
  {
    what: 'an administrator rewrites the policy of the cache key (not protected)',
    where: 'primary',
    eventName: 'PutKeyPolicy',
    keyId: (k) => k.cache,
    caller: ({ account, marker }) => session(account, 'Admin', marker),
    expected: 'none',
  },
  {
    what: 'an administrator enables the database key (nothing to fear)',
    where: 'primary',
    eventName: 'EnableKey',
    keyId: (k) => k.database,
    caller: ({ account, marker }) => session(account, 'Admin', marker),
    expected: 'none',
  },
  {
    what: 'an administrator rewrites the DR key policy in the DR region',
    where: 'dr',
    eventName: 'PutKeyPolicy',
    keyId: (k) => k.dr!,
    caller: ({ account, marker }) => session(account, 'Admin', marker),
    expected: 'others',
  },
  {
    what: 'CloudFormation (the deploy role of the DR region) writes the DR key policy',
    where: 'dr',
    eventName: 'PutKeyPolicy',
    keyId: (k) => k.dr!,
    caller: ({ account, region, marker }) => session(account, cfnExec(account, region), marker),
    expected: 'deploy',
  },
  {
    what: "the stage region's deploy role tries to rewrite the DR key policy (only the DR region's may)",
    where: 'dr',
    eventName: 'PutKeyPolicy',
    keyId: (k) => k.dr!,
    caller: ({ account, stage, marker }) => session(account, cfnExec(account, STAGES[stage].region), marker),
    errorCode: 'AccessDeniedException',
    expected: 'others',
  },
  {
    what: "the DR region's deploy role writes the policy of the database key (only the stage region's may)",
    where: 'primary',
    eventName: 'PutKeyPolicy',
    keyId: (k) => k.database,
    caller: ({ account, stage, marker }) => session(account, cfnExec(account, STAGES[stage].drRegion), marker),
    errorCode: 'AccessDeniedException',
    expected: 'others',
  },
  {
    what: 'an administrator rewrites the policy of another key in the DR region',
    where: 'dr',
    eventName: 'PutKeyPolicy',
    keyId: () => randomUUID(),
    caller: ({ account, marker }) => session(account, 'Admin', marker),
    expected: 'none',
  },
];

/** The logical id of the one resource of `type` whose id starts with `prefix`. */
function logicalId(t: Template, type: string, prefix: string): string {
  const ids = Object.keys(t.findResources(type)).filter((id) => id.startsWith(prefix));
  expect(ids, prefix).toHaveLength(1);
  return ids[0];
}

describe.each(STAGE_NAMES)('%s: calls on the protected keys reach the alarm topic', (name) => {
  const { account, region, drRegion, backup, dumps } = parseStageConfig(STAGES[name]);
  const keys: SampleKeys = {
    database: randomUUID(),
    backup: randomUUID(),
    cache: randomUUID(),
    ...(backup.drCopies ? { dr: randomUUID() } : {}),
    ...(dumps.objectLock !== 'off' ? { dumps: randomUUID() } : {}),
  };
  /** Sample key ids by `<stack name>/<logical id>`: what Ref of each key resolves to. */
  const byRef = new Map<string, string>();
  const templates: Record<string, Template> = {};

  /** The template value with every key reference (a Ref, or a read of another stack's output) replaced by its sample id. */
  const resolve = (node: Json, stack: string): Json => {
    if (Array.isArray(node)) return node.map((n) => resolve(n, stack));
    if (node === null || typeof node !== 'object') return node;
    if ('Ref' in node) {
      const value = byRef.get(`${stack}/${node.Ref}`);
      if (!value) throw new Error(`no sample value for ${stack}/${node.Ref}`);
      return value;
    }
    const read = node['Fn::Join']?.[1]?.[0]?.['Fn::GetStackOutput'];
    if (read) return resolve(templates[read.StackName].toJSON().Outputs[read.OutputName].Value, read.StackName);
    if (Object.keys(node).some((k) => k.startsWith('Fn::'))) throw new Error(`no sample value for ${JSON.stringify(node)} in ${stack}`);
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, resolve(v, stack)]));
  };

  let moto: Moto;
  let events: { primary: EventBridgeClient; dr: EventBridgeClient };
  let logs: CloudWatchLogsClient;
  const suffix = randomUUID().slice(0, 8);
  const bus = { primary: `keys-${name}-${suffix}`, dr: `keys-${name}-dr-${suffix}` };
  const groups: Record<Exclude<Outcome, 'none'>, string> = { deploy: `keys-${name}-deploy-${suffix}`, others: `keys-${name}-others-${suffix}` };

  /** The ops stack's rule whose message links `anchor`. */
  const opsRule = (anchor: string) => {
    const found = resources(stages[name].ops, 'AWS::Events::Rule').filter((r) => JSON.stringify(r.Properties.Targets).includes(`docs/alarms.md#${anchor}`));
    expect(found, anchor).toHaveLength(1);
    return found[0].Properties;
  };

  /** CloudTrail's record of a case's call, as EventBridge delivers it in the key's region. */
  const record = (c: Case, marker: string) => {
    const where = c.where === 'primary' ? region : drRegion;
    const keyId = c.keyId(keys);
    return {
      eventVersion: '1.11',
      userIdentity: c.caller({ account, region: where, stage: name, marker }),
      eventTime: '2026-01-01T00:00:00Z',
      eventSource: 'kms.amazonaws.com',
      eventName: c.eventName,
      awsRegion: where,
      sourceIPAddress: '203.0.113.10',
      userAgent: 'aws-cli/2',
      ...(c.errorCode ? { errorCode: c.errorCode, errorMessage: `not authorized to perform kms:${c.eventName}: explicit deny in a resource-based policy` } : {}),
      requestParameters: {
        keyId,
        ...(c.eventName === 'PutKeyPolicy' ? { policyName: 'default', policy: '{"Version":"2012-10-17","Statement":[]}', bypassPolicyLockoutSafetyCheck: false } : {}),
      },
      responseElements: null,
      eventID: randomUUID(),
      readOnly: false,
      resources: [{ accountId: account, type: 'AWS::KMS::Key', ARN: `arn:aws:kms:${where}:${account}:key/${keyId}` }],
      eventType: 'AwsApiCall',
      managementEvent: true,
      recipientAccountId: account,
      eventCategory: 'Management',
    };
  };

  // A case on a key the stage does not have (the DR key, a locked bucket's dump key) is left out.
  const cases = CASES.filter((c) => (c.where === 'primary' || backup.drCopies) && c.keyId(keys) !== undefined);
  /** Each case's call (its caller's ARN is unique among the cases), and what each log group received. */
  const sent = new Map<Case, Json>();
  const delivered: Record<Exclude<Outcome, 'none'>, string[]> = { deploy: [], others: [] };

  beforeAll(async () => {
    const t = stages[name];
    Object.assign(templates, { [`${name}-Data`]: t.data, [`${name}-Ops`]: t.ops, ...(t.dr ? { [`${name}-Dr`]: t.dr } : {}) });
    byRef.set(`${name}-Data/${logicalId(t.data, 'AWS::KMS::Key', 'DatabaseKey')}`, keys.database);
    byRef.set(`${name}-Data/${logicalId(t.data, 'AWS::KMS::Key', 'BackupKey')}`, keys.backup);
    byRef.set(`${name}-Data/${logicalId(t.data, 'AWS::KMS::Key', 'CacheKey')}`, keys.cache);
    if (keys.dr) byRef.set(`${name}-Dr/BackupKey1226E6A1`, keys.dr);
    // The dump keys of a locked dump bucket are protected too: the raw dumps' key is a case's.
    if (keys.dumps) byRef.set(`${name}-Data/${logicalId(t.data, 'AWS::KMS::Key', 'DumpsKey')}`, keys.dumps);
    for (const id of Object.keys(t.data.findResources('AWS::KMS::Key')).filter((id) => id.startsWith('DumpsAnonymisedKey'))) byRef.set(`${name}-Data/${id}`, randomUUID());
    moto = await startMoto();
    events = { primary: new EventBridgeClient(moto.clientConfig(region)), dr: new EventBridgeClient(moto.clientConfig(drRegion)) };
    logs = new CloudWatchLogsClient(moto.clientConfig(region));
    await events.primary.send(new CreateEventBusCommand({ Name: bus.primary }));
    for (const [outcome, anchor] of [
      ['deploy', 'protected-key-deployed'],
      ['others', 'protected-key-changed'],
    ] as const) {
      const rule = opsRule(anchor);
      await logs.send(new CreateLogGroupCommand({ logGroupName: groups[outcome] }));
      await events.primary.send(
        new PutRuleCommand({ Name: `${outcome}-${suffix}`, EventBusName: bus.primary, EventPattern: JSON.stringify(resolve(rule.EventPattern, `${name}-Ops`)) }),
      );
      await events.primary.send(
        new PutTargetsCommand({
          Rule: `${outcome}-${suffix}`,
          EventBusName: bus.primary,
          Targets: [{ Id: 'topic', Arn: `arn:aws:logs:${region}:${MOTO_ACCOUNT}:log-group:${groups[outcome]}`, InputTransformer: rule.Targets[0].InputTransformer }],
        }),
      );
    }
    if (t.dr) {
      // The DR stack's forwarder, to the bus that stands for the stage region's default bus.
      await events.dr.send(new CreateEventBusCommand({ Name: bus.dr }));
      for (const [index, forwarder] of resources(t.dr, 'AWS::Events::Rule').entries()) {
        await events.dr.send(
          new PutRuleCommand({ Name: `forward-${index}-${suffix}`, EventBusName: bus.dr, EventPattern: JSON.stringify(resolve(forwarder.Properties.EventPattern, `${name}-Dr`)) }),
        );
        await events.dr.send(
          new PutTargetsCommand({
            Rule: `forward-${index}-${suffix}`,
            EventBusName: bus.dr,
            Targets: [{ Id: 'home', Arn: `arn:aws:events:${region}:${MOTO_ACCOUNT}:event-bus/${bus.primary}` }],
          }),
        );
      }
    }

    // Every case's call at once (moto is shared by the run: few calls keep it quick).
    for (const c of cases) sent.set(c, record(c, `case-${randomUUID().slice(0, 8)}`));
    // The same detail from any other source than KMS must match neither rule.
    const impostor = record(cases[0], 'impostor');
    for (const where of ['primary', 'dr'] as const) {
      const entries = [
        ...cases.filter((c) => c.where === where).map((c) => ({ Source: 'aws.kms', Detail: JSON.stringify(sent.get(c)) })),
        ...(where === 'primary' ? [{ Source: 'my.app', Detail: JSON.stringify(impostor) }] : []),
      ].map((e) => ({ ...e, DetailType: 'AWS API Call via CloudTrail', EventBusName: bus[where] }));
      for (let i = 0; i < entries.length; i += 10) {
        const put = await events[where].send(new PutEventsCommand({ Entries: entries.slice(i, i + 10) }));
        expect(put.FailedEntryCount).toBe(0);
      }
    }
    for (const outcome of ['deploy', 'others'] as const) {
      const found = (await logs.send(new FilterLogEventsCommand({ logGroupName: groups[outcome] }))).events ?? [];
      delivered[outcome] = found.map((e) => JSON.parse(e.message!) as string);
    }
  });

  test.each(cases)('$what: $expected', (c) => {
    const call = sent.get(c)!;
    const caller = call.userIdentity.arn as string;
    const got = { deploy: delivered.deploy.filter((m) => m.includes(` by ${caller},`)), others: delivered.others.filter((m) => m.includes(` by ${caller},`)) };
    expect({ deploy: got.deploy.length, others: got.others.length }).toEqual({ deploy: c.expected === 'deploy' ? 1 : 0, others: c.expected === 'others' ? 1 : 0 });
    for (const message of [...got.deploy, ...got.others]) {
      expect(message).toContain(`KMS ${c.eventName} on protected key ${call.requestParameters.keyId} in ${call.awsRegion} by ${caller}`);
      if (c.errorCode) expect(message).toContain(`error code if refused: ${c.errorCode}`);
    }
  });

  test('no message but those of the cases: the same record from another source than KMS matches neither rule', () => {
    expect(delivered.deploy.length + delivered.others.length).toBe(cases.filter((c) => c.expected !== 'none').length);
    expect([...delivered.deploy, ...delivered.others].filter((m) => m.includes('/impostor,'))).toEqual([]);
  });
});
