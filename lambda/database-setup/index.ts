import { RDSClient } from '@aws-sdk/client-rds';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CdkCustomResourceEvent, CdkCustomResourceResponse } from 'aws-lambda';
import { Client } from 'pg';
import { handleSetupEvent } from './custom-resource';

const retry = { maxAttempts: 8, retryMode: 'adaptive' as const };
const rds = new RDSClient(retry);
const secrets = new SecretsManagerClient(retry);

/**
 * onEvent handler of the database setup custom resource (Provider framework). The server
 * certificate is verified against the CAs Node trusts; NODE_EXTRA_CA_CERTS adds the Amazon RDS
 * CA bundle the Lambda runtime ships.
 */
export async function onEvent(event: CdkCustomResourceEvent): Promise<CdkCustomResourceResponse> {
  return handleSetupEvent(event, {
    rds,
    secrets,
    ssl: { rejectUnauthorized: true },
    connect: async (config) => {
      const client = new Client(config);
      await client.connect();
      return client;
    },
  });
}
