import { describe, expect, test } from 'vitest';
import { RDS_INSTANCE_CLASSES } from '../../../lib/config/aws-catalog';
import { rdsClassMemoryGiB } from '../../../lib/config/instance-class';
import { accepts, rejects } from './stage-variant';

describe('database', () => {
  describe('refuses a bad definition, naming stage, field, value and fix', () => {
    rejects([
      {
        what: 'prod without Multi-AZ',
        stage: 'prod',
        patch: { database: { multiAz: false } },
        field: 'database.multiAz',
        value: 'false',
        fix: /prod must run the database Multi-AZ.*Fix: set database.multiAz: true/,
      },
      {
        what: 'prod without deletion protection',
        stage: 'prod',
        patch: { database: { deletionProtection: false } },
        field: 'database.deletionProtection',
        value: 'false',
        fix: /Fix: set database.deletionProtection: true/,
      },
      {
        what: 'backup retention 0',
        stage: 'dev',
        patch: { database: { backupRetentionDays: 0 } },
        field: 'database.backupRetentionDays',
        value: '0',
        fix: /at least 1 day\. Fix: use 1 to 35/,
      },
      {
        what: 'backup retention 36',
        stage: 'prod',
        patch: { database: { backupRetentionDays: 36 } },
        field: 'database.backupRetentionDays',
        value: '36',
        fix: /at most 35 days\. Fix: use 1 to 35/,
      },
      {
        what: 'storage ceiling below initial storage',
        stage: 'dev',
        patch: { database: { maxAllocatedStorageGiB: 10 } },
        field: 'database.maxAllocatedStorageGiB',
        value: '10',
        fix: /RDS refuses an autoscaling ceiling less than 10% above the allocated 20 GiB.*Fix: set it to 22 or more/,
      },
      {
        what: 'storage ceiling less than 10% above the initial storage (RDS refuses it)',
        stage: 'staging',
        patch: { database: { maxAllocatedStorageGiB: 54 } },
        field: 'database.maxAllocatedStorageGiB',
        value: '54',
        fix: /less than 10% above the allocated 50 GiB.*Fix: set it to 55 or more/,
      },
      {
        what: 'storage so large that no ceiling is 10% above it',
        stage: 'prod',
        patch: { database: { allocatedStorageGiB: 60000, maxAllocatedStorageGiB: 65536 } },
        field: 'database.maxAllocatedStorageGiB',
        value: '65536',
        fix: /Fix: lower allocatedStorageGiB to 59578 or less \(the ceiling is at most 65536\)/,
      },
      {
        what: 'engine that is not PostgreSQL 16 or 17',
        stage: 'dev',
        patch: { database: { engineVersion: '15.4' } },
        field: 'database.engineVersion',
        value: '"15.4"',
        fix: /PostgreSQL 16 or 17 minor version/,
      },
      {
        what: 'instance class with the db. prefix',
        stage: 'dev',
        patch: { database: { instanceClass: 'db.t4g.micro' } },
        field: 'database.instanceClass',
        value: '"db.t4g.micro"',
        fix: /without its "db\." prefix/,
      },
      {
        what: 'database class RDS does not have',
        stage: 'dev',
        patch: { database: { instanceClass: 'x2g.large' } },
        field: 'database.instanceClass',
        value: '"x2g.large"',
        fix: /not an RDS for PostgreSQL instance class.*Fix: use e\.g\. "m7g\.large"/,
      },
      {
        what: 'database size that does not exist',
        stage: 'prod',
        patch: { database: { instanceClass: 'm7g.3xlarge' } },
        field: 'database.instanceClass',
        value: '"m7g.3xlarge"',
        fix: /not an RDS for PostgreSQL instance class.*closest are "m7g\.2xlarge"/,
      },
      {
        what: 'database family without its processor letter',
        stage: 'prod',
        patch: { database: { instanceClass: 'm8.large' } },
        field: 'database.instanceClass',
        value: '"m8.large"',
        fix: /not an RDS for PostgreSQL instance class.*"m8g\.large"/,
      },
      {
        what: 'engine minor RDS does not have',
        stage: 'dev',
        patch: { database: { engineVersion: '17.999' } },
        field: 'database.engineVersion',
        value: '"17.999"',
        fix: /not a PostgreSQL minor version RDS accepts new instances on.*Fix: use e\.g\. "17\.6"/,
      },
      {
        what: 'engine minor past its standard support',
        stage: 'dev',
        patch: { database: { engineVersion: '17.2' } },
        field: 'database.engineVersion',
        value: '"17.2"',
        fix: /not a PostgreSQL minor version RDS accepts new instances on/,
      },
    ]);
  });

  describe('takes values on the edge of each rule', () => {
    accepts([
      // RDS's floor: 10% above the allocated storage.
      { what: 'a ceiling 10% above the storage', stage: 'dev', patch: { database: { allocatedStorageGiB: 20, maxAllocatedStorageGiB: 22 } } },
      { what: 'the largest storage with room to grow to the ceiling', stage: 'prod', patch: { database: { allocatedStorageGiB: 59578, maxAllocatedStorageGiB: 65536 } } },
    ]);
  });

  test('every RDS class in the catalog has its memory known (max_connections and the connections alarm derive from it)', () => {
    for (const instanceClass of RDS_INSTANCE_CLASSES) expect(rdsClassMemoryGiB(instanceClass), instanceClass).toBeGreaterThan(0);
  });
});
