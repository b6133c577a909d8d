import { randomBytes } from 'node:crypto';
import { BackupClient } from '@aws-sdk/client-backup';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { RDSClient } from '@aws-sdk/client-rds';
import type { EventBridgeEvent } from 'aws-lambda';
import { Client } from 'pg';
import { rdsTls } from '../shared/rds-tls';
import { checkFreshness, DRILL_EVENT, verifyRestoreJob } from './verifier';

const retry = { maxAttempts: 8, retryMode: 'adaptive' as const };
const deps = {
  backup: new BackupClient(retry),
  rds: new RDSClient(retry),
  cloudwatch: new CloudWatchClient(retry),
  // The server certificate is verified against the Amazon RDS CA bundle the Lambda runtime ships, and no other CA.
  get ssl() {
    return rdsTls();
  },
  connect: async (config: ConstructorParameters<typeof Client>[0]) => {
    const client = new Client(config);
    await client.connect();
    return client;
  },
  // Letters and digits only: RDS refuses / @ " and spaces in master passwords.
  password: () =>
    randomBytes(24)
      .toString('base64')
      .replace(/[^A-Za-z0-9]/g, '')
      .slice(0, 30),
  sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
  now: () => new Date(),
};

const settings = {
  stage: process.env.STAGE!,
  restoreTestingPlanArn: process.env.RESTORE_TESTING_PLAN_ARN!,
  databaseName: process.env.DATABASE_NAME!,
  expectations: JSON.parse(process.env.EXPECTATIONS!),
  passwordWaitMinutes: 10,
};

/**
 * Invoked by EventBridge: for each completed restore job (and by scripts/restore-drill.ts with the
 * same event shape), and once a day on a schedule to check that verifications are not stale.
 */
export async function handler(event: EventBridgeEvent<string, { restoreJobId?: string }>) {
  if (event['detail-type'] === 'Scheduled Event') {
    return checkFreshness(deps, { ...settings, restoreTestingPlanName: process.env.RESTORE_TESTING_PLAN_NAME!, maxAgeDays: Number(process.env.MAX_AGE_DAYS) });
  }
  if (!event.detail?.restoreJobId) throw new Error(`not a restore job event: ${JSON.stringify(event).slice(0, 500)}`);
  return verifyRestoreJob(event.detail.restoreJobId, deps, settings, { drill: event['detail-type'] === DRILL_EVENT });
}
