import { describe } from 'vitest';
import { accepts, type Patch, rejects } from './stage-variant';

describe('web and worker services', () => {
  describe('refuses a bad definition, naming stage, field, value and fix', () => {
    rejects([
      {
        what: 'min tasks above max',
        stage: 'staging',
        patch: { web: { minCapacity: 9 } },
        field: 'web.minCapacity',
        value: '9',
        fix: /minCapacity \(9\) is above maxCapacity \(8\)\. Fix: lower minCapacity or raise maxCapacity/,
      },
      {
        what: 'desired count outside min..max',
        stage: 'dev',
        patch: { worker: { desiredCount: 5 } },
        field: 'worker.desiredCount',
        value: '5',
        fix: /between minCapacity \(1\) and maxCapacity \(2\)/,
      },
      {
        what: 'CPU Fargate does not offer',
        stage: 'dev',
        patch: { web: { cpu: 300 } },
        field: 'web.cpu',
        value: '300',
        fix: /Fargate does not offer 300 CPU units\. Fix: use one of 256, 512, 1024/,
      },
      {
        what: 'memory Fargate does not offer with that CPU',
        stage: 'dev',
        patch: { web: { memoryLimitMiB: 4096 } },
        field: 'web.memoryLimitMiB',
        value: '4096',
        fix: /4096 MiB with 256 CPU units\. Fix: use one of 512, 1024, 2048/,
      },
      {
        what: 'memory off the 1 GB steps',
        stage: 'prod',
        patch: { worker: { memoryLimitMiB: 1536 } },
        field: 'worker.memoryLimitMiB',
        value: '1536',
        fix: /Fix: use one of 1024, 2048, 3072, 4096$/,
      },
      {
        what: 'memory outside a wide range',
        stage: 'prod',
        patch: { web: { cpu: 2048, memoryLimitMiB: 2048 } },
        field: 'web.memoryLimitMiB',
        value: '2048',
        fix: /Fix: use one of 4096 to 16384 in steps of 1024$/,
      },
      {
        what: 'prod web tasks on Spot',
        stage: 'prod',
        patch: { web: { useSpot: true } },
        field: 'web.useSpot',
        value: 'true',
        fix: /prod must not lose web capacity to Spot reclaims mid-request\. Fix: set web\.useSpot: false/,
      },
      {
        what: 'prod workers all on Spot',
        stage: 'prod',
        patch: { worker: { onDemandBase: 0 } },
        field: 'worker.onDemandBase',
        value: '0',
        fix: /a Spot reclaim must never stop every prod worker at once\. Fix: set worker\.onDemandBase: 1 or more/,
      },
      { what: 'a desired count above the maximum', stage: 'prod', patch: { web: { desiredCount: 11 } }, field: 'web.desiredCount', value: '11', fix: /Fix:/ },
      { what: 'a minimum above the maximum', stage: 'staging', patch: { worker: { minCapacity: 4 } }, field: 'worker.minCapacity', value: '4', fix: /Fix:/ },
      { what: 'prod with one web task', stage: 'prod', patch: { web: { minCapacity: 1 } }, field: 'web.minCapacity', value: '1', fix: /prod needs at least 2 web tasks/ },
      {
        what: 'misspelt field',
        stage: 'dev',
        patch: { web: { desiredCout: 2 } } as unknown as Patch,
        field: 'web.desiredCout',
        value: '2',
        fix: /unknown field\. Fix: remove it or correct its spelling/,
      },
    ]);
  });

  describe('takes values on the edge of each rule', () => {
    accepts([
      { what: 'two prod web tasks, desired at the maximum', stage: 'prod', patch: { web: { minCapacity: 2, desiredCount: 10 } } },
      { what: 'minimum, desired and maximum alike', stage: 'staging', patch: { worker: { minCapacity: 3, desiredCount: 3 } } },
    ]);
  });
});
