import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CdkCustomResourceEvent, CdkCustomResourceResponse } from 'aws-lambda';
import { Client } from 'pg';
import { handleVectorEvent } from './custom-resource';

const secrets = new SecretsManagerClient({});

/**
 * onEvent handler of the pgvector custom resource (Provider framework). The server certificate is
 * verified against the CAs Node trusts; NODE_EXTRA_CA_CERTS adds the Amazon RDS CA bundle the
 * Lambda runtime ships.
 */
export async function onEvent(event: CdkCustomResourceEvent): Promise<CdkCustomResourceResponse> {
  return handleVectorEvent(event, {
    secrets,
    ssl: { rejectUnauthorized: true },
    connect: async (config) => {
      const client = new Client(config);
      await client.connect();
      return client;
    },
  });
}
