import { z } from 'zod';
import { type ProdRule, unique, urlPath } from '../fields';

/** Minutes a traffic shift and its bake may take: CloudFormation holds the deploy (and the release record) until the web service is done. */
export const MAX_SHIFT_MINUTES = 120;

const alarmsNeedData = 'the deployment alarms need 3 one-minute periods of data to fire. Fix: use 5 to 60 minutes';

/** How a release reaches the web service (app.deployment; docs/releases.md). Its need for HTTPS is checked in lib/config/schema.ts. */
export const deployment = z
  .object({
    strategy: z
      .enum(['rolling', 'blueGreen', 'canary', 'linear'], {
        error: 'not a deployment strategy. Fix: use "rolling", "blueGreen", "canary" or "linear"',
      })
      .default('rolling')
      .meta({
        description:
          'how a release reaches the web service: `rolling` replaces tasks in place (100% healthy, 200% max); `blueGreen`, `canary` and `linear` start the new revision beside the old one in the second target group, smoke-test it through the test listener (port 8443), then move production traffic all at once, a canary share first, or in equal steps, with the deployment alarms rolling back during the shift and the bake (docs/releases.md); the worker has no load balancer and always rolls',
        rules: 'not `rolling` in prod; anything but `rolling` needs `https`; shipped: `blueGreen` in staging, `canary` in prod',
      }),
    stepPercent: z
      .number()
      .min(1, 'must be at least 1%. Fix: use 1 to 50')
      .max(50, 'more than half the traffic is no canary. Fix: use 1 to 50')
      // ECS moves traffic in tenths of a percent, and aws-cdk-lib refuses anything else at synth (MustBeCanaryDeploymentStepPercent, MustBeLinearDeploymentStepPercent).
      .refine((p) => Number.isInteger(p * 10), 'ECS shifts traffic in steps of 0.1%. Fix: use at most one decimal, e.g. 10 or 12.5')
      .default(10)
      .meta({
        description: 'canary: the share of production traffic the new revision gets first; linear: the share each step moves',
        rules: '1 to 50 in steps of 0.1 (linear: 10 to 50)',
      }),
    stepMinutes: z
      .number()
      .int()
      .min(5, alarmsNeedData)
      .max(60, 'CloudFormation holds the deploy for the whole shift. Fix: use 5 to 60 minutes')
      .default(10)
      .meta({
        description: 'canary: minutes the canary share runs before the rest moves; linear: minutes between steps',
        rules: `5 to 60; a linear shift plus its bake at most ${MAX_SHIFT_MINUTES} minutes`,
      }),
    bakeMinutes: z
      .number()
      .int()
      .min(5, alarmsNeedData)
      .max(60, 'CloudFormation holds the deploy for the whole bake. Fix: use 5 to 60 minutes')
      .default(10)
      .meta({ description: 'minutes both revisions keep running after all production traffic moved, so an alarm still rolls back at once', rules: '5 to 60' }),
    smokePaths: unique(urlPath, 'path')
      .max(10, 'the smoke test requests each path once within its latency bound; more than 10 would outlast it. Fix: list at most 10 paths')
      .default(() => ['/'])
      .meta({
        description:
          'paths the smoke test requests from the new revision before production traffic moves, besides the readiness path; each must answer 2xx within `smokeLatencyMs`, or the release rolls back',
        rules: 'different absolute paths, at most 10',
      }),
    smokeLatencyMs: z
      .number()
      .int()
      .min(100, 'must be at least 100 ms. Fix: use 100 to 5000')
      .max(5000, 'must be at most 5000 ms. Fix: use 100 to 5000')
      .default(2000)
      .meta({ description: 'milliseconds a smoke-test request may take', rules: '100 to 5000' }),
  })
  .strict()
  .superRefine((deployment, ctx) => {
    if (deployment.strategy !== 'linear') return;
    if (deployment.stepPercent < 10) {
      ctx.addIssue({
        code: 'custom',
        path: ['stepPercent'],
        message: `${deployment.stepPercent}% steps make more than 10 steps, each ${deployment.stepMinutes} minutes, while CloudFormation holds the deploy. Fix: use 10 to 50`,
      });
    }
    const minutes = Math.ceil(100 / deployment.stepPercent) * deployment.stepMinutes + deployment.bakeMinutes;
    if (minutes > MAX_SHIFT_MINUTES) {
      ctx.addIssue({
        code: 'custom',
        path: ['stepMinutes'],
        message: `a linear shift of ${deployment.stepPercent}% every ${deployment.stepMinutes} minutes plus ${deployment.bakeMinutes} minutes of bake takes ${minutes} minutes, over the ${MAX_SHIFT_MINUTES} a release may hold CloudFormation. Fix: larger steps or fewer minutes`,
      });
    }
  })
  .prefault({});

export const prodRules: readonly ProdRule<{ readonly app: { readonly deployment: z.output<typeof deployment> } }>[] = [
  {
    path: ['app', 'deployment', 'strategy'],
    holds: (c) => c.app.deployment.strategy !== 'rolling',
    message: 'prod must shift traffic to a release gradually, behind a smoke test, with automatic rollback. Fix: set app.deployment.strategy: "canary" (or "linear", "blueGreen")',
  },
];
