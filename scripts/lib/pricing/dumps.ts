import type { CostLine, PricingModule, Props, Resources } from './module';

/** How many times a month an EventBridge Scheduler cron expression fires: daily unless it names one day of the week (weekly). */
export function runsPerMonth(expression: string): number {
  const fields = /^cron\((.*)\)$/.exec(expression)?.[1].split(' ');
  if (fields?.length !== 6) return 0;
  const [, , dayOfMonth, , dayOfWeek] = fields;
  if (/^[A-Z]{3}$|^[1-7]$/.test(dayOfWeek)) return 52 / 12;
  if (dayOfMonth !== '*' && dayOfMonth !== '?' && /^\d+$/.test(dayOfMonth)) return 1;
  return 365 / 12;
}

/** The text of a template value: literal strings joined, references dropped. */
function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(textOf).join('');
  if (value && typeof value === 'object') {
    const join = (value as Record<string, unknown>)['Fn::Join'];
    if (Array.isArray(join)) return textOf(join[1]);
  }
  return '';
}

function taskDefinitionByFamily(family: string, resources: Resources): Props | undefined {
  return Object.values(resources).find((r) => r.Type === 'AWS::ECS::TaskDefinition' && (r.Properties as Props | undefined)?.Family === family)?.Properties as Props | undefined;
}

/**
 * A schedule that starts an ECS task (the dump job's nightly dump, weekly check and anonymisation):
 * each run's Fargate time, `dumpTaskMinutes` long, at the size of its task definition. The
 * schedules themselves are within EventBridge Scheduler's free 14 million invocations a month.
 */
export const scheduledTasks: PricingModule = {
  resourceTypes: ['AWS::Scheduler::Schedule'],
  price({ id, props: p }, { prices, usage, resources }) {
    const target = p.Target as Props | undefined;
    const family = /"TaskDefinition":"([^"]+)"/.exec(textOf(target?.Input))?.[1];
    if (!family) return { lines: [{ category: 'Dumps', item: `Schedule ${id}`, quantity: 'no ECS task', monthlyUsd: 0 }] };
    const task = taskDefinitionByFamily(family, resources);
    if (!task) return { notPriced: `task definition ${family} not in this stack` };
    const runs = runsPerMonth(String(p.ScheduleExpression));
    const vcpu = Number(task.Cpu) / 1024;
    const gb = Number(task.Memory) / 1024;
    const hours = (runs * usage.dumpTaskMinutes) / 60;
    const rate = prices.fargate.arm64VcpuHour * vcpu + prices.fargate.arm64GbHour * gb;
    const line: CostLine = {
      category: 'Dumps',
      item: `Fargate runs of ${id}`,
      quantity: `${Math.round(runs * 10) / 10} runs x ${usage.dumpTaskMinutes} min x ${vcpu} vCPU / ${gb} GB ARM`,
      monthlyUsd: hours * rate,
    };
    return { lines: [line] };
  },
};

/** The lifecycle rule that marks a bucket of dumps (lib/data/dump-bucket.ts), and the days it keeps them. */
export function dumpRetentionDays(bucket: Props): number | undefined {
  const rules = ((bucket.LifecycleConfiguration as Props | undefined)?.Rules ?? []) as { Id?: string; ExpirationInDays?: number }[];
  return rules.find((r) => r.Id === 'expire-dumps')?.ExpirationInDays;
}
