import { RDSClient } from '@aws-sdk/client-rds';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CdkCustomResourceEvent, CdkCustomResourceResponse } from 'aws-lambda';
import { Client } from 'pg';
import { rdsTls } from '../shared/rds-tls';
import { handleSetupEvent, targetFromEnvironment } from './custom-resource';

const retry = { maxAttempts: 8, retryMode: 'adaptive' as const };
const rds = new RDSClient(retry);
const secrets = new SecretsManagerClient(retry);

/**
 * onEvent handler of the database setup custom resource (Provider framework). It connects only
 * to the database of its environment, and verifies the server certificate against the Amazon
 * RDS CA bundle the Lambda runtime ships, and no other CA.
 */
export async function onEvent(event: CdkCustomResourceEvent): Promise<CdkCustomResourceResponse> {
  return handleSetupEvent(event, {
    target: targetFromEnvironment(process.env),
    rds,
    secrets,
    ssl: rdsTls(),
    connect: async (config) => {
      const client = new Client(config);
      await client.connect();
      return client;
    },
  });
}
