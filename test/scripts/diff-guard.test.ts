import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as rds from 'aws-cdk-lib/aws-rds';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { AppStage } from '../../lib/stages/app-stage';
import { main, run } from '../../scripts/diff-guard';
import { readAssembly } from '../../scripts/lib/assembly';
import { guard } from '../../scripts/lib/guard';
import { printed } from '../support/console';
import { synthAssembly } from '../support/synth';
import type { Json } from '../support/template';

let work: string;
let base: string;

/** Synthesizes prod with a code-level change applied, as a pull request would. */
function head(name: string, change: (prod: AppStage) => void, context: Record<string, unknown> = {}): string {
  return synthAssembly(join(work, name), { stages: 'prod', change: ([prod]) => change(prod), variant: name, context });
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'guard-'));
  base = synthAssembly(join(work, 'base'), { stages: 'prod' });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A stack's template in an assembly folder: its manifest entry and file, by display name ("prod/Data"). */
function stackTemplate(dir: string, displayName: string): { file: string; template: Json } {
  const stage = join(dir, `assembly-${displayName.split('/')[0]}`);
  const manifest = JSON.parse(readFileSync(join(stage, 'manifest.json'), 'utf8'));
  const artifact = Object.values(manifest.artifacts as Record<string, { displayName?: string; properties?: { templateFile?: string } }>).find(
    (a) => a.displayName === displayName,
  )!;
  const file = join(stage, artifact.properties!.templateFile!);
  return { file, template: JSON.parse(readFileSync(file, 'utf8')) };
}

/**
 * A head made from the base by editing its templates, as a synthesized change would write them:
 * for what the guard reads of one resource, an edit is the same head without a synthesis. Changes
 * whose effect on other stacks is the point (a replaced resource's readers) are synthesized.
 */
function derived(name: string, edits: Record<string, (template: Json) => void>, from = base): string {
  const dir = join(work, name);
  cpSync(from, dir, { recursive: true });
  for (const [displayName, edit] of Object.entries(edits)) {
    const { file, template } = stackTemplate(dir, displayName);
    edit(template);
    writeFileSync(file, JSON.stringify(template));
  }
  return dir;
}

/** The one resource of a type whose logical id starts with `prefix`. */
function resource(template: Json, type: string, prefix: string): Json {
  const found = Object.entries(template.Resources as Record<string, Json>).filter(([id, r]) => r.Type === type && id.startsWith(prefix));
  expect(found, `${type} ${prefix}`).toHaveLength(1);
  return found[0][1];
}

const dbInstance = (prod: AppStage) => prod.data.database.instance.node.defaultChild as rds.CfnDBInstance;
/** prod with the database port changed (the instance would be replaced), synthesized once for the tests that read it. */
let portHead: string | undefined;
const portChanged = () => {
  portHead ??= head('port', (prod) => {
    dbInstance(prod).port = '5433';
  });
  return portHead;
};

describe('diff-guard on the real app', () => {
  test('an unchanged app passes', () => {
    const { output, exitCode } = run(['--base', base, '--head', derived('same', {})]);
    expect(exitCode).toBe(0);
    expect(output).toBe('OK: no stateful resource is replaced, destroyed or orphaned.');
  });

  test('changes to stateless resources (a function, an alarm threshold) pass', () => {
    const headDir = derived('memory', {
      'prod/Data': (t) => {
        resource(t, 'AWS::Lambda::Function', 'DatabaseSetupHandlerFunction').Properties.MemorySize = 512;
      },
      'prod/Ops': (t) => {
        resource(t, 'AWS::CloudWatch::Alarm', 'DataAlarmsDbCpu').Properties.Threshold = 65;
      },
    });
    expect(run(['--base', base, '--head', headDir])).toEqual({ output: 'OK: no stateful resource is replaced, destroyed or orphaned.', exitCode: 0 });
  });

  test('changing the database port blocks: the instance would be replaced', () => {
    const { output, exitCode } = run(['--base', base, '--head', portChanged()]);
    expect(exitCode).toBe(1);
    expect(output.split('\n')).toEqual([
      'BLOCKED stage prod, stack prod-Data, DatabaseInstanceAA8A5FDE (AWS::RDS::DBInstance): replaced because Port changed',
      // The app and ops stacks read the instance; their reads change with it, so they read the new one.
      expect.stringMatching(/^WARNING stage prod, stack prod-Data, DatabaseInstanceAA8A5FDE \(AWS::RDS::DBInstance\): replaced; prod-App reads it by Fn::GetStackOutput/),
      expect.stringMatching(/^WARNING stage prod, stack prod-Data, DatabaseInstanceAA8A5FDE \(AWS::RDS::DBInstance\): replaced; prod-Ops reads it by Fn::GetStackOutput/),
      expect.stringMatching(/^BLOCKED: 1 stateful resource\(s\) would be replaced, destroyed or orphaned/),
    ]);
  });

  test('flipping storage encryption blocks', () => {
    const { output, exitCode } = run([
      '--base',
      base,
      '--head',
      derived('encryption', {
        'prod/Data': (t) => {
          t.Resources.DatabaseInstanceAA8A5FDE.Properties.StorageEncrypted = false;
        },
      }),
    ]);
    expect(exitCode).toBe(1);
    expect(output).toContain('BLOCKED stage prod, stack prod-Data, DatabaseInstanceAA8A5FDE (AWS::RDS::DBInstance): replaced because StorageEncrypted changed');
  });

  test('renaming the database construct blocks: the old instance would be deleted', () => {
    const { output, exitCode } = run([
      '--base',
      base,
      '--head',
      derived('rename', {
        'prod/Data': (t) => {
          t.Resources.DatabaseInstanceRenamed = t.Resources.DatabaseInstanceAA8A5FDE;
          delete t.Resources.DatabaseInstanceAA8A5FDE;
        },
      }),
    ]);
    expect(exitCode).toBe(1);
    expect(output).toContain('BLOCKED stage prod, stack prod-Data, DatabaseInstanceAA8A5FDE (AWS::RDS::DBInstance): removed from the template: deleted (DeletionPolicy Snapshot)');
  });

  test('a fixed bucket name blocks: the bucket would be replaced (the old one kept, but empty for the app)', () => {
    const headDir = derived('bucket-name', {
      'prod/Data': (t) => {
        t.Resources.UploadsBucketC4B27CC7.Properties.BucketName = 'prod-uploads-fixed';
      },
    });
    const { output, exitCode } = run(['--base', base, '--head', headDir]);
    expect(exitCode).toBe(1);
    expect(output).toContain(
      'BLOCKED stage prod, stack prod-Data, UploadsBucketC4B27CC7 (AWS::S3::Bucket): replaced because BucketName changed (the old one is kept, but the stack moves to a new, empty one)',
    );
  });

  // A data store of a type the guard does not know would leave CloudFormation without a word:
  // every type the app keeps must be one it blocks on. Log groups alone only warn (scripts/lib/guard.ts, STATEFUL_TYPES).
  test('every resource the app retains or snapshots blocks when it leaves the template; a retained log group warns', () => {
    const kept = (r: { DeletionPolicy?: string }) => ['Retain', 'RetainExceptOnCreate', 'Snapshot'].includes(r.DeletionPolicy ?? '');
    const stacks = readAssembly(base);
    const dropped = stacks.map((s) => ({
      ...s,
      template: { ...s.template, Resources: Object.fromEntries(Object.entries(s.template.Resources ?? {}).filter(([, r]) => !kept(r))) },
    }));
    const said = new Map(
      guard(stacks, dropped)
        .findings.filter((f) => f.reason.startsWith('removed from the template:'))
        .map((f) => [`${f.stack}/${f.logicalId}`, f.severity]),
    );
    const keptResources = stacks.flatMap((s) =>
      Object.entries(s.template.Resources ?? {}).flatMap(([id, r]) => (kept(r) ? [{ path: `${s.displayName}/${id}`, type: r.Type }] : [])),
    );
    // The app keeps data in many kinds of resources (the bucket, keys, secrets, vaults, zones, repositories, the database, the cache).
    expect(new Set(keptResources.map((r) => r.type)).size).toBeGreaterThanOrEqual(8);
    const wrong = keptResources
      .map(({ path, type }) => ({ path, type, said: said.get(path) ?? 'nothing', expected: type === 'AWS::Logs::LogGroup' ? 'warning' : 'blocked' }))
      .filter((r) => r.said !== r.expected);
    // A type listed here that holds a user's data, or what such data needs, belongs in DATA_TYPES (scripts/lib/guard.ts).
    expect(wrong).toEqual([]);
  });

  test('removing the data stack (and the app, edge and ops stacks that use it) blocks on the database and on the retained bucket and keys', () => {
    // The stacks leave the stage's manifest, as they would leave a synthesized assembly.
    const headDir = derived('remove-stack', {});
    const manifestFile = join(headDir, 'assembly-prod', 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
    for (const [id, artifact] of Object.entries(manifest.artifacts as Record<string, { displayName?: string }>)) {
      if (['prod/Ops', 'prod/Edge', 'prod/App', 'prod/Data'].includes(artifact.displayName ?? '')) delete manifest.artifacts[id];
    }
    writeFileSync(manifestFile, JSON.stringify(manifest));
    const { output, exitCode } = run(['--base', base, '--head', headDir]);
    expect(exitCode).toBe(1);
    expect(output).toContain(
      'BLOCKED stage prod, stack prod-Data, DatabaseInstanceAA8A5FDE (AWS::RDS::DBInstance): stack removed: the resource would be deleted (DeletionPolicy Snapshot)',
    );
    expect(output).toContain(
      'BLOCKED stage prod, stack prod-Data, CacheReplicationGroupBFE59FF3 (AWS::ElastiCache::ReplicationGroup): stack removed: the resource would be deleted (DeletionPolicy Snapshot)',
    );
    expect(output).toContain(
      'BLOCKED stage prod, stack prod-Data, UploadsBucketC4B27CC7 (AWS::S3::Bucket): stack removed: the resource would be orphaned (DeletionPolicy Retain). Its data stays in the account, outside CloudFormation, but the stage loses it',
    );
    expect(output).toContain('BLOCKED stage prod, stack prod-Data, DatabaseKey7998E78F (AWS::KMS::Key): stack removed: the resource would be orphaned (DeletionPolicy Retain).');
  });

  test('a replaced security group that another stack reads is reported with its readers, which re-read it', () => {
    // The cache's group: protected (the cache sits in it), and read by the app stack.
    const headDir = head('cache-group', (prod) => {
      const group = prod.data.cache.connections.securityGroups[0].node.defaultChild as ec2.CfnSecurityGroup;
      group.groupDescription = 'Valkey: a new description replaces the group';
    });
    const { output, exitCode } = run(['--base', base, '--head', headDir]);
    expect(exitCode).toBe(1);
    expect(output).toContain('BLOCKED stage prod, stack prod-Data, CacheSecurityGroup79A9F160 (AWS::EC2::SecurityGroup): replaced because GroupDescription changed');
    expect(output).toContain(
      'WARNING stage prod, stack prod-Data, CacheSecurityGroup79A9F160 (AWS::EC2::SecurityGroup): replaced; prod-App reads it by Fn::GetStackOutput (PublishOutputFnGetAttCacheSecurityGroup79A9F160GroupId7A4F8F2E) and reads it again on its next deploy (its producer marker changed)',
    );
  });

  test('a replaced resource whose readers would keep the old value blocks', () => {
    // The head app stack is given the base's app template: its reads are unchanged, so they would go stale.
    const headDir = head('stale', (prod) => {
      const group = prod.data.database.connections.securityGroups[0].node.defaultChild as ec2.CfnSecurityGroup;
      group.groupDescription = 'PostgreSQL: a new description replaces the group';
    });
    const appTemplate = readdirSync(join(headDir, 'assembly-prod')).find((f) => f.startsWith('prodApp') && f.endsWith('.template.json'))!;
    copyFileSync(join(base, 'assembly-prod', appTemplate), join(headDir, 'assembly-prod', appTemplate));
    const { output, exitCode } = run(['--base', base, '--head', headDir]);
    expect(exitCode).toBe(1);
    expect(output).toContain(
      'BLOCKED stage prod, stack prod-Data, DatabaseSecurityGroup5C91FDCB (AWS::EC2::SecurityGroup): replaced, and prod-App reads it by Fn::GetStackOutput (PublishOutputFnGetAttDatabaseSecurityGroup5C91FDCBGroupIdD2FD7538) with an unchanged reference: it would keep the old value',
    );
  });

  test('a new VPC block blocks: the VPC, its subnets and the security groups of the database and cache would be replaced', () => {
    const { output, exitCode } = run(['--base', base, '--head', head('vpc-block', () => {}, { 'prod.network.cidr': '10.31.0.0/16' })]);
    expect(exitCode).toBe(1);
    const blocked = output.split('\n').filter((l) => l.startsWith('BLOCKED stage'));
    for (const what of [
      /prod-Network, NetworkVpc7FB7348F \(AWS::EC2::VPC\): replaced because CidrBlock changed/,
      /prod-Network, NetworkVpcIsolatedSubnet1Subnet\w+ \(AWS::EC2::Subnet\): replaced/,
      /prod-Data, DatabaseSecurityGroup5C91FDCB \(AWS::EC2::SecurityGroup\): (possibly )?replaced/,
      /prod-Data, CacheSecurityGroup79A9F160 \(AWS::EC2::SecurityGroup\): (possibly )?replaced/,
    ]) {
      expect(
        blocked.some((l) => what.test(l)),
        String(what),
      ).toBe(true);
    }
  });

  test("a security group no database or cache sits in is not protected (a function's)", () => {
    const headDir = derived('fn-group', {
      'prod/Data': (t) => {
        resource(t, 'AWS::EC2::SecurityGroup', 'DatabaseSetupSecurityGroup').Properties.GroupDescription = 'a new description replaces the group';
      },
    });
    const { output, exitCode } = run(['--base', base, '--head', headDir]);
    expect(exitCode).toBe(0);
    expect(output).not.toContain('BLOCKED');
  });

  test('--allow accepts a named resource, by logical id or by stack path', () => {
    const headDir = portChanged();
    for (const allow of ['DatabaseInstanceAA8A5FDE', 'prod/Data/DatabaseInstanceAA8A5FDE']) {
      const { output, exitCode } = run(['--base', base, '--head', headDir, '--allow', allow]);
      expect(exitCode).toBe(0);
      expect(output).toContain('ALLOWED stage prod, stack prod-Data, DatabaseInstanceAA8A5FDE (AWS::RDS::DBInstance): replaced because Port changed');
    }
    const typo = run(['--base', base, '--head', headDir, '--allow', 'DatabaseInstanceAA8A5FDX']);
    expect(typo.exitCode).toBe(1);
    expect(typo.output).toContain(
      'NOTE --allow DatabaseInstanceAA8A5FDX matched nothing: no blocked resource has that logical id or stack path (a typo, or the change moved). Nothing was allowed by it.',
    );
  });

  test('a bare --allow id that names the same resource in two stages allows neither; the stage path does', () => {
    const twoBase = synthAssembly(join(work, 'two-base'), { stages: 'staging,prod' });
    const portIn = (t: Json) => {
      t.Resources.DatabaseInstanceAA8A5FDE.Properties.Port = '5433';
    };
    const headDir = derived('two-port', { 'staging/Data': portIn, 'prod/Data': portIn }, twoBase);
    const bare = run(['--base', twoBase, '--head', headDir, '--allow', 'DatabaseInstanceAA8A5FDE']);
    expect(bare.exitCode).toBe(1);
    expect(bare.output).toContain(
      'NOTE --allow DatabaseInstanceAA8A5FDE is ambiguous: it names blocked resources in staging, prod. Allow each by its stack path (staging/Data/DatabaseInstanceAA8A5FDE, prod/Data/DatabaseInstanceAA8A5FDE). Nothing was allowed by it.',
    );
    const scoped = run(['--base', twoBase, '--head', headDir, '--allow', 'prod/Data/DatabaseInstanceAA8A5FDE']);
    expect(scoped.exitCode).toBe(1);
    expect(scoped.output).toContain('ALLOWED stage prod, stack prod-Data, DatabaseInstanceAA8A5FDE');
    expect(scoped.output).toContain('BLOCKED stage staging, stack staging-Data, DatabaseInstanceAA8A5FDE');
  });

  test('markdown output is a table for the PR comment', () => {
    const { output } = run(['--base', base, '--head', portChanged(), '--format', 'markdown']);
    expect(output).toContain('| blocked | prod | prod-Data | `DatabaseInstanceAA8A5FDE` | AWS::RDS::DBInstance | replaced because Port changed |');
  });
});

describe('assemblies the guard cannot compare exit 2 with a clear message, never 1', () => {
  const broken = (name: string, spoil: (dir: string) => void) => {
    const dir = join(work, name);
    cpSync(base, dir, { recursive: true });
    spoil(dir);
    return dir;
  };
  const template = (dir: string) => join(dir, 'assembly-prod', readdirSync(join(dir, 'assembly-prod')).find((f) => f.startsWith('prodData') && f.endsWith('.template.json'))!);
  const retarget = (dir: string, templateFile: string) => {
    const path = join(dir, 'assembly-prod', 'manifest.json');
    const manifest = JSON.parse(readFileSync(path, 'utf8'));
    const id = Object.keys(manifest.artifacts).find((k) => manifest.artifacts[k].displayName === 'prod/Data')!;
    manifest.artifacts[id].properties.templateFile = templateFile;
    writeFileSync(path, JSON.stringify(manifest));
  };

  test.each([
    ['a corrupt manifest', (dir: string) => writeFileSync(join(dir, 'manifest.json'), '{"artifacts": '), /is a corrupt cloud assembly: the manifest .*manifest\.json is not JSON/],
    ['a manifest without artifacts', (dir: string) => writeFileSync(join(dir, 'assembly-prod', 'manifest.json'), '{"artifacts": 3}'), /has no artifacts object/],
    ['a missing template', (dir: string) => rmSync(template(dir)), /is an incomplete cloud assembly: the template of prod\/Data .* is missing/],
    ['a template that is not JSON', (dir: string) => writeFileSync(template(dir), '<html>'), /is a corrupt cloud assembly: the template of prod\/Data .* is not JSON/],
    // The review reads a pull request's assembly as untrusted data: no file outside it is read.
    [
      'a manifest naming a template outside the assembly',
      (dir: string) => retarget(dir, '../../../../etc/passwd'),
      /the template of prod\/Data "\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd" lies outside it/,
    ],
    ['a manifest naming an absolute template path', (dir: string) => retarget(dir, '/etc/hostname'), /the template of prod\/Data "\/etc\/hostname" lies outside it/],
    [
      'a template that links outside the assembly',
      (dir: string) => {
        rmSync(template(dir));
        symlinkSync('/etc/hostname', join(dir, 'assembly-prod', 'prodDataLink.template.json'));
        retarget(dir, 'prodDataLink.template.json');
      },
      /"prodDataLink\.template\.json" lies outside it/,
    ],
    [
      'a nested assembly outside the assembly',
      (dir: string) => {
        const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
        m.artifacts['assembly-prod'].properties.directoryName = '..';
        writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
      },
      /the nested assembly of assembly-prod "\.\." lies outside it/,
    ],
  ])('%s', (name, spoil, message) => {
    const dir = broken(name.replace(/\W+/g, '-'), spoil);
    for (const args of [
      ['--base', dir, '--head', base],
      ['--base', base, '--head', dir],
    ]) {
      const { output, exitCode } = run(args);
      expect(exitCode).toBe(2);
      expect(output).toMatch(message);
    }
  });

  test('a head synthesized with fewer stages: the stages differ, not every stack removed', () => {
    const devOnly = synthAssembly(join(work, 'dev-only'), { stages: 'dev' });
    const { output, exitCode } = run(['--base', base, '--head', devOnly]);
    expect(exitCode).toBe(2);
    expect(output).toBe('diff-guard: the assemblies hold different stages (base: prod; head: dev). Synthesize both with the same -c stages (or none).');
  });

  test('the command exits 2 on a corrupt assembly, on stderr, without a stack trace', async () => {
    const dir = broken('cli-corrupt', (d) => writeFileSync(join(d, 'manifest.json'), 'nope'));
    const cli = await printed(() => main(['--base', dir, '--head', base]));
    expect(cli.result).toBe(2);
    expect(cli.stdout).toBe('');
    expect(cli.stderr).toMatch(/^diff-guard: .* is a corrupt cloud assembly/);
    expect(cli.stderr).not.toMatch(/\n\s+at /);
  });

  test('the command exits 1 when blocked and 0 when not, as documented, the verdict on stdout', async () => {
    const exit = async (headDir: string) => {
      const cli = await printed(() => main(['--base', base, '--head', headDir]));
      expect(cli.stderr).toBe('');
      expect(cli.stdout).toMatch(/^(BLOCKED|WARNING|OK)/);
      return cli.result;
    };
    expect(await exit(portChanged())).toBe(1);
    expect(await exit(head('same', () => {}))).toBe(0);
  });
});

describe('bad arguments exit 2 with a clear message', () => {
  test.each([
    [['--head', 'x'], /--base and --head are required/],
    [['--base', '/does/not/exist', '--head', '/does/not/exist'], /\/does\/not\/exist is not a folder/],
    [['--base', 'BASE', '--head', 'EMPTY'], /EMPTY is not a cloud assembly: it has no manifest\.json/],
    [['--base', 'BASE', '--head', 'BASE', '--format', 'html'], /--format must be text or markdown, not "html"/],
    [['--base', 'BASE', '--head', 'BASE', '--frobnicate'], /unknown argument "--frobnicate"/],
    [['--base'], /--base needs a value/],
  ])('%j', (argv, message) => {
    const empty = join(work, 'EMPTY');
    mkdirSync(empty, { recursive: true });
    const args = argv.map((a) => (a === 'BASE' ? base : a === 'EMPTY' ? empty : a));
    const { output, exitCode } = run(args);
    expect(exitCode).toBe(2);
    expect(output.replace(empty, 'EMPTY')).toMatch(message);
  });

  test('the command itself exits with the code and prints to stderr', async () => {
    const cli = await printed(() => main(['--base', base]));
    expect(cli.result).toBe(2);
    expect(cli.stdout).toBe('');
    expect(cli.stderr).toMatch(/diff-guard: --base needs a value|--base and --head are required/);
  });
});
