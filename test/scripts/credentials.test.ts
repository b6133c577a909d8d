import { STSClient } from '@aws-sdk/client-sts';
import { describe, expect, test } from 'vitest';
import { accountProblem } from '../../scripts/lib/credentials';
import { startMoto } from '../support/moto';

describe('the account check operator scripts make before they touch anything (STS on moto)', () => {
  test('the right account passes; another account and no credentials are each named', async () => {
    const moto = await startMoto();
    const sts = new STSClient(moto.clientConfig());
    expect(await accountProblem(sts, '123456789012', 'staging')).toBeUndefined();
    expect(await accountProblem(sts, '222222222222', 'staging')).toBe(
      'the credentials are for account 123456789012 (arn:aws:sts::123456789012:user/moto), but staging is in 222222222222. Use credentials of 222222222222 and run again.',
    );
    const broken = { send: async () => Promise.reject(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' })) };
    expect(await accountProblem(broken, '222222222222', 'prod')).toBe(
      'no usable AWS credentials (CredentialsProviderError: Could not load credentials from any providers). Sign in to the prod account 222222222222 (aws sso login, or AWS_PROFILE) and run again.',
    );
  });
});
