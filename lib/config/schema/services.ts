import { z } from 'zod';
import { FARGATE_SIZES, fargateSizeProblem } from '../fargate';
import type { ProdRule } from '../fields';

const notNegative = 'cannot be negative. Fix: use 0 or more';

/**
 * The Fargate tasks of one ECS service (the web app or the BullMQ worker, same image). `prod` adds
 * what prod's rules (below) ask of a field to its documented rules.
 */
function fargateService(tasks: string, prod: { readonly minCapacity?: string; readonly useSpot?: string; readonly onDemandBase?: string } = {}) {
  const withProd = (rules: string, field: keyof typeof prod) => [rules, prod[field] && `prod: ${prod[field]}`].filter(Boolean).join('; ');
  return z
    .object({
      cpu: z
        .number()
        .int()
        .meta({ description: `CPU units of each ${tasks} task (256 = 0.25 vCPU)`, rules: `a size Fargate offers: ${Object.keys(FARGATE_SIZES).join(', ')}` }),
      memoryLimitMiB: z
        .number()
        .int()
        .meta({ description: `memory of each ${tasks} task, in MiB`, rules: 'a size Fargate offers with `cpu` (256 units: 512, 1024 or 2048)' }),
      desiredCount: z
        .number()
        .int()
        .min(0, notNegative)
        .meta({ description: `${tasks} tasks the service runs when deployed`, rules: '`minCapacity` to `maxCapacity`' }),
      minCapacity: z
        .number()
        .int()
        .min(0, notNegative)
        .meta({ description: `fewest ${tasks} tasks autoscaling keeps`, rules: withProd('0 to `maxCapacity`', 'minCapacity') }),
      maxCapacity: z
        .number()
        .int()
        .min(1, 'must be at least 1. Fix: use 1 or more')
        .max(100)
        .meta({ description: `most ${tasks} tasks autoscaling runs`, rules: '1 to 100' }),
      useSpot: z
        .boolean()
        .meta({ description: `run the ${tasks} tasks on Fargate Spot (cheaper; a task can be reclaimed with two minutes' notice)`, rules: withProd('', 'useSpot') }),
      onDemandBase: z
        .number()
        .int()
        .min(0, notNegative)
        .default(0)
        .meta({
          description: `with \`useSpot\`: this many ${tasks} tasks stay on regular Fargate (ECS places them first), the rest run on Spot`,
          rules: withProd('0 or more', 'onDemandBase'),
        }),
    })
    .strict()
    .superRefine((svc, ctx) => {
      const size = fargateSizeProblem(svc.cpu, svc.memoryLimitMiB);
      if (size) ctx.addIssue({ code: 'custom', path: [size.field], message: size.message });
      if (svc.minCapacity > svc.maxCapacity) {
        ctx.addIssue({
          code: 'custom',
          path: ['minCapacity'],
          message: `minCapacity (${svc.minCapacity}) is above maxCapacity (${svc.maxCapacity}). Fix: lower minCapacity or raise maxCapacity`,
        });
      } else if (svc.desiredCount < svc.minCapacity || svc.desiredCount > svc.maxCapacity) {
        ctx.addIssue({
          code: 'custom',
          path: ['desiredCount'],
          message: `desiredCount must lie between minCapacity (${svc.minCapacity}) and maxCapacity (${svc.maxCapacity}). Fix: set it within that range`,
        });
      }
    });
}

export const web = fargateService('web', { minCapacity: '2 or more', useSpot: 'false' });
export const worker = fargateService('worker', { onDemandBase: '1 or more with `useSpot`' });

type Service = z.output<typeof web>;

export const prodRules: readonly ProdRule<{ readonly web: Service; readonly worker: Service }>[] = [
  {
    path: ['web', 'useSpot'],
    holds: (c) => !c.web.useSpot,
    message: 'prod must not lose web capacity to Spot reclaims mid-request. Fix: set web.useSpot: false',
  },
  {
    path: ['worker', 'onDemandBase'],
    holds: (c) => !c.worker.useSpot || c.worker.onDemandBase >= 1,
    message: 'a Spot reclaim must never stop every prod worker at once. Fix: set worker.onDemandBase: 1 or more (or worker.useSpot: false)',
  },
  {
    path: ['web', 'minCapacity'],
    holds: (c) => c.web.minCapacity >= 2,
    message: 'prod needs at least 2 web tasks so a deploy or an AZ failure keeps serving. Fix: set web.minCapacity: 2 or more',
  },
];
