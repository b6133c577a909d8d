import type { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import { STAGE_NAMES } from '../../lib/config';
import { DEV_OPERATIONS_OVERRIDES, type StageTemplates, stackOutput, synthStage } from '../support/synth';
import { type Json, stageTemplates } from '../support/template';

const stages = stageTemplates();

function snapshotResource(t: Template): { id: string; props: Record<string, Json> } {
  const found = Object.entries(t.findResources('Custom::PreDeploySnapshot'));
  expect(found).toHaveLength(1);
  return { id: found[0][0], props: found[0][1].Properties };
}

/** The statements of the snapshot functions' policies. */
function statements(t: Template): Json[] {
  return Object.entries(t.findResources('AWS::IAM::Policy'))
    .filter(([id]) => /^PreDeploySnapshot(Handler|IsComplete)Function/.test(id))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
}

describe.each(STAGE_NAMES)('%s pre-deploy snapshot', (name) => {
  test('every ECS service of the stage waits for it', () => {
    const { app } = stages[name];
    const { id } = snapshotResource(app);
    const services = Object.values(app.findResources('AWS::ECS::Service'));
    expect(services).toHaveLength(2);
    for (const service of services) expect(service.DependsOn).toContain(id);
  });

  test('its properties carry the release, the database, the running web family and the DR copy settings', () => {
    const { stage } = stages[name];
    const { config } = stage;
    const { props } = snapshotResource(stages[name].app);
    expect(props).toMatchObject({
      Stage: name,
      Release: expect.stringMatching(new RegExp(`^${config.image.tag.replace(/\./g, '\\.')}-[0-9a-f]{8}$`)),
      Image: `${config.image.repositoryName}:${config.image.tag}`,
      StackName: `${name}-App`,
      Keep: String(config.backup.preDeploySnapshotsKept),
      DbWaitMinutes: '20',
      DbInstanceIdentifier: stackOutput(expect.objectContaining({ StackName: `${name}-Data` })),
      Cluster: { Ref: expect.stringMatching(/^Cluster/) },
    });
    expect(props.WebTaskFamily).toMatch(/WebTask/);
    expect(props.Skip).toBeUndefined();
    if (config.backup.drCopies) {
      expect(props.DrRegion).toBe(config.drRegion);
      expect(props.DrKmsKeyArn).toEqual(stackOutput(expect.objectContaining({ StackName: `${name}-Dr`, Region: config.drRegion })));
    } else {
      expect(props.DrRegion).toBeUndefined();
    }
  });

  test('its functions may snapshot only this database, delete only their own tagged snapshots, and use only the two snapshot keys', () => {
    const { config } = stages[name].stage;
    const all = statements(stages[name].app);
    const bySid = (sid: string) => all.filter((s: Json) => s.Sid === sid);
    const actions = new Set(all.flatMap((s: Json) => [s.Action].flat()));
    expect([...actions].filter((a) => (a as string).endsWith('*'))).toEqual([]);
    const ownPattern = `arn:aws:rds:${config.region}:${config.account}:snapshot:predeploy-${name}-*`;
    const databaseArn = { 'Fn::Join': ['', [`arn:aws:rds:${config.region}:${config.account}:db:`, stackOutput(expect.objectContaining({ StackName: `${name}-Data` }))]] };
    for (const s of bySid('SnapshotTheDatabase')) {
      expect(s.Action).toBe('rds:CreateDBSnapshot');
      expect(s.Resource).toHaveLength(2);
      expect(s.Resource).toEqual(expect.arrayContaining([databaseArn, ownPattern]));
    }
    for (const sid of ['PruneOwnSnapshots', ...(config.backup.drCopies ? ['PruneOwnDrCopies'] : [])]) {
      const [s] = bySid(sid);
      expect(s.Action).toBe('rds:DeleteDBSnapshot');
      expect(s.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/webapp:pre-deploy-snapshot': 'true', 'aws:ResourceTag/webapp:stage': name } });
      expect(s.Resource).toMatch(new RegExp(`:snapshot:predeploy-${name}-\\*$`));
    }
    const kms = bySid('UseTheSnapshotKeys');
    if (config.backup.drCopies) {
      expect(kms[0].Action).toEqual(['kms:CreateGrant', 'kms:DescribeKey']);
      const stacks = (kms[0].Resource as Json[]).map((r) => r['Fn::Join'][1][0]['Fn::GetStackOutput'].StackName).sort();
      expect(stacks).toEqual([`${name}-Data`, `${name}-Dr`]);
    } else {
      expect(kms).toEqual([]);
      expect(all.some((s: Json) => [s.Action].flat().includes('rds:CopyDBSnapshot'))).toBe(false);
    }
    const [list] = bySid('ReadTheRunningRelease');
    expect(list.Condition).toEqual({ ArnEquals: { 'ecs:cluster': { 'Fn::GetAtt': [expect.stringMatching(/^Cluster/), 'Arn'] } } });
  });

  test("the provider polls every 30 s and gives up after 50 minutes, inside CloudFormation's hour", () => {
    const [machine] = Object.values(stages[name].app.findResources('AWS::StepFunctions::StateMachine'));
    const definition = JSON.stringify(machine.Properties.DefinitionString);
    expect(definition).toContain('\\"IntervalSeconds\\":30');
    expect(definition).toContain('\\"MaxAttempts\\":100');
  });

  test("its functions run Node.js 24 on ARM64 and log to the stage's encrypted log group", () => {
    const fns = Object.entries(stages[name].app.findResources('AWS::Lambda::Function')).filter(([id]) => /^PreDeploySnapshot(Handler|IsComplete)Function/.test(id));
    expect(fns).toHaveLength(2);
    for (const [, fn] of fns) {
      expect(fn.Properties).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], LoggingConfig: { LogGroup: { Ref: expect.stringMatching(/^PreDeploySnapshot/) } } });
    }
  });
});

describe('release identity', () => {
  const release = (t: StageTemplates) => snapshotResource(t.app).props.Release as string;

  test('is the same on every synth, and new when the image or a task setting changes, not otherwise', () => {
    const base = release(stages.dev);
    // The ops tests synthesize this variant too; a worker running both synthesizes it once.
    expect(release(synthStage('dev', DEV_OPERATIONS_OVERRIDES))).toBe(base);
    const image = release(synthStage('dev', { imageTag: 'v9.9.9' }));
    expect(image).toMatch(/^v9\.9\.9-[0-9a-f]{8}$/);
    expect(image.slice(-8)).not.toBe(base.slice(-8)); // the tag is part of the container definitions too
    const memory = release(synthStage('dev', { 'dev.web.memoryLimitMiB': 1024 }));
    expect(memory).not.toBe(base);
    expect(memory.slice(0, -9)).toBe(base.slice(0, -9));
  });

  test('-c skipPreDeploySnapshot=true passes Skip and warns at synth', () => {
    const skipped = synthStage('dev', { skipPreDeploySnapshot: 'true' });
    expect(snapshotResource(skipped.app).props.Skip).toBe('true');
    expect(skipped.stage.app.warnings.filter((w) => /No snapshot of .* is taken before this deploy/.test(w))).toHaveLength(1);
  });
});
