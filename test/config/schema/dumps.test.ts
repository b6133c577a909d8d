import { describe } from 'vitest';
import { accepts, rejects } from './stage-variant';

describe('dumps', () => {
  describe('refuses a bad definition, naming stage, field, value and fix', () => {
    rejects([
      {
        what: 'dumps replicated without the DR stack',
        stage: 'dev',
        patch: { dumps: { replicateToDr: true } },
        field: 'dumps.replicateToDr',
        value: 'true',
        fix: /lives in the dev-Dr stack.*Fix: set backup\.drCopies: true, or dumps\.replicateToDr: false/,
      },
      {
        what: 'a CPU size Fargate does not offer',
        stage: 'staging',
        patch: { dumps: { cpu: 768 } },
        field: 'dumps.cpu',
        value: '768',
        fix: /Fargate does not offer 768 CPU units\. Fix: set dumps\.cpu to one of 256, 512/,
      },
      {
        what: 'a memory size Fargate does not offer with the CPU',
        stage: 'prod',
        patch: { dumps: { cpu: 1024, memoryMiB: 1024 } },
        field: 'dumps.memoryMiB',
        value: '1024',
        fix: /Fargate does not offer 1024 MiB with 1024 CPU units\. Fix: set dumps\.memoryMiB to one of 2048 to 8192/,
      },
      {
        what: 'a compliance lock in a throw-away stage',
        stage: 'dev',
        patch: { dumps: { objectLock: 'compliance' } },
        field: 'dumps.objectLock',
        value: '"compliance"',
        fix: /dev is a throw-away stage \(retainOnDelete: false\).*Fix: use "governance" or "off"/,
      },
      {
        what: 'an anonymised copy for the stage itself',
        stage: 'prod',
        patch: { dumps: { anonymised: { readerStage: 'prod', readerAccount: '333333333333' } } },
        field: 'dumps.anonymised.readerStage',
        value: '"prod"',
        fix: /the anonymised copy is for another stage's account\. Fix: name another stage/,
      },
      {
        what: 'a refresh from the stage itself',
        stage: 'staging',
        patch: { dumps: { refreshFrom: { sourceStage: 'staging', sourceAccount: '222222222222' } } },
        field: 'dumps.refreshFrom.sourceStage',
        value: '"staging"',
        fix: /cannot refresh its data from itself\. Fix: name the stage that anonymises for staging/,
      },
    ]);
  });

  accepts([
    { what: 'replicated dumps where the uploads replica brings the DR stack', stage: 'dev', patch: { uploads: { replicateToDr: true }, dumps: { replicateToDr: true } } },
    { what: 'a compliance lock in a stage that keeps its data', stage: 'prod', patch: { dumps: { objectLock: 'compliance' } } },
    { what: 'the smallest Fargate size', stage: 'dev', patch: { dumps: { cpu: 256, memoryMiB: 512 } } },
  ]);
});
