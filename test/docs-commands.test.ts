import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { type AwsCommand, awsCommands } from './support/doc-commands';

/** Checks `aws ...` commands against botocore's models (test/support/aws-cli-check.py): problems by command. */
function awsProblems(commands: readonly { argv: readonly string[]; complete?: boolean }[]): string[][] {
  const run = spawnSync('python3', [join(__dirname, 'support', 'aws-cli-check.py')], {
    input: JSON.stringify(commands.map((c, id) => ({ id, argv: c.argv, complete: c.complete ?? true }))),
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`test/support/aws-cli-check.py failed (python3 with botocore, which moto brings: pip install -r requirements-dev.txt): ${run.stderr}`);
  return (JSON.parse(run.stdout) as { id: number; problems: string[] }[]).map((r) => r.problems);
}

const where = (c: AwsCommand) => `${c.file}:${c.lineNumber}: aws ${c.argv.join(' ')}`;

describe('the aws commands the docs show', () => {
  const all = awsCommands();

  test('each names an operation of the AWS CLI, only options it takes, and a --query that reads what the operation returns', () => {
    expect(all.length).toBeGreaterThan(50);
    const problems = awsProblems(all);
    expect(all.flatMap((c, i) => problems[i].map((p) => `${where(c)}\n  ${p}`))).toEqual([]);
  });

  test('the check finds a wrong service, operation, option, waiter, member, missing option and a string compared with a number', () => {
    const partial = (...argv: string[]) => ({ argv, complete: false });
    const bad = [
      partial('ecz', 'describe-services'),
      partial('ecs', 'describe-service'),
      partial('ecs', 'update-service', '--cluster', 'c', '--desired', '0'),
      partial('ecs', 'wait', 'service-stable', '--cluster', 'c'),
      partial('kms', 'describe-key', '--key-id', 'k', '--query', 'KeyMetadata.[KeyState,CreationDte]'),
      partial('ecs', 'describe-services', '--query', 'services.deployments'),
      partial('ce', 'get-cost-and-usage', '--query', 'ResultsByTime[-1].Groups[?Metrics.UnblendedCost.Amount>`1`]'),
      partial('rds', 'describe-db-snapshots', '--query', "DBSnapshots[?AllocatedStorage=='20']"),
      partial('rds', 'describe-db-snapshots', '--query', 'DBSnapshots[?'),
      { argv: ['elbv2', 'modify-load-balancer-attributes', '--attributes', 'Key=deletion_protection.enabled,Value=false'] },
    ];
    const good = [
      { argv: ['ecs', 'wait', 'services-stable', '--cluster', 'c', '--services', 'a', 'b'] },
      { argv: ['rds', 'modify-db-instance', '--db-instance-identifier', 'x', '--no-deletion-protection'] },
      { argv: ['cloudfront', 'create-invalidation', '--distribution-id', 'd', '--paths', '/x'] },
      partial('ce', 'get-cost-and-usage', '--query', 'ResultsByTime[-1].Groups[?to_number(Metrics.UnblendedCost.Amount)>`1`]'),
      partial('rds', 'describe-db-snapshots', '--max-items', '3', '--query', 'reverse(sort_by(DBSnapshots, &SnapshotCreateTime))[].[DBSnapshotIdentifier,Status]'),
    ];
    const problems = awsProblems([...bad, ...good]);
    expect(problems.slice(0, bad.length).map((p) => p.length)).toEqual(bad.map(() => 1));
    expect(problems.slice(bad.length)).toEqual(good.map(() => []));
    expect(problems[4][0]).toMatch(/KeyMetadata has no member `CreationDte`/);
    expect(problems[6][0]).toMatch(/compares a string with a number/);
    expect(problems[9][0]).toMatch(/needs --load-balancer-arn/);
  });
});
