import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { PROJECT_ROOT } from '../../lib/shared/paths';

/*
 * The Cost Explorer command of docs/runbooks.md, "The budget alarm fired": its dates come out the
 * same with any `date` (BSD's has no `-d`), and its JMESPath keeps the services above $1 although
 * Cost Explorer returns amounts as strings (a string compared with a number matches nothing). The
 * query runs in python's jmespath, which the AWS CLI uses (installed with moto, requirements-dev.txt).
 */

const runbook = readFileSync(join(PROJECT_ROOT, 'docs', 'runbooks.md'), 'utf8');
const section = /^## The budget alarm fired[^\n]*\n([\s\S]*?)(?=^## )/m.exec(runbook)?.[1] ?? '';
const block = /```bash\n([\s\S]*?)```/.exec(section)?.[1] ?? '';

/** A Cost Explorer answer as the API gives it (MONTHLY, grouped by service). */
const ANSWER = {
  ResultsByTime: [
    {
      TimePeriod: { Start: '2026-12-01', End: '2027-01-01' },
      Groups: [
        { Keys: ['Amazon Elastic Container Service'], Metrics: { UnblendedCost: { Amount: '41.2093', Unit: 'USD' } } },
        { Keys: ['Amazon Simple Notification Service'], Metrics: { UnblendedCost: { Amount: '0.0004', Unit: 'USD' } } },
        { Keys: ['Amazon Relational Database Service'], Metrics: { UnblendedCost: { Amount: '12.5', Unit: 'USD' } } },
      ],
      Estimated: true,
    },
  ],
};

describe('docs/runbooks.md, "The budget alarm fired"', () => {
  test("the month's dates come from portable commands: the first of this month and of the next, in UTC", () => {
    const lines = block.split('\n').filter((l) => /^\s*(start|next)=/.test(l));
    expect(lines).toHaveLength(2);
    expect(block).not.toMatch(/date [^\n]*-d /);
    const out = execFileSync('bash', ['-c', `${lines.join('\n')}\necho "$start $next"`], { encoding: 'utf8' }).trim();
    const [start, next] = out.split(' ');
    const now = new Date();
    const first = (monthOffset: number) => new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + monthOffset, 1)).toISOString().slice(0, 10);
    expect([start, next]).toEqual([first(0), first(1)]);
    expect(block).toContain('Start=$start,End=$next');
  });

  test('the query lists the services above $1 from amounts given as strings', () => {
    const query = /--query '([^']+)'/.exec(block)?.[1];
    expect(query).toBeDefined();
    const result = execFileSync('python3', ['-c', 'import jmespath, json, sys; print(json.dumps(jmespath.search(sys.argv[1], json.load(sys.stdin))))', query!], {
      input: JSON.stringify(ANSWER),
      encoding: 'utf8',
    });
    expect(JSON.parse(result)).toEqual([
      ['Amazon Elastic Container Service', '41.2093'],
      ['Amazon Relational Database Service', '12.5'],
    ]);
  });
});
