import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, describe, expect, test, vi } from 'vitest';
import { cdkBootstrapRoleArn } from '../../lib/ci/ci-access-stack';
import { loadStages } from '../../lib/config';
import { UsageError } from '../../scripts/lib/assembly';
import { asLookupRole, type ClientSettings, defaultClients } from '../../scripts/lib/preflight-clients';
import { main } from '../../scripts/preflight';
import { printed } from '../support/console';
import { type Moto, startMoto } from '../support/moto';

const MOTO_ACCOUNT = '123456789012';
let moto: Moto;
beforeAll(async () => {
  moto = await startMoto();
});

const staging = (account: string) => loadStages({ 'staging.account': account, stages: 'staging' }).selected[0];
/** Every client against moto, with the settings preflight passes (the lookup role's credentials). */
const clientsFor = vi.fn((config: ReturnType<typeof staging>, settings: ClientSettings = {}) =>
  defaultClients(config, { credentials: moto.clientConfig().credentials, ...settings, endpoint: moto.endpoint }),
);

describe('--lookup-role', () => {
  test("the checks after the account check run as the stage account's lookup role; STS stays the caller's", async () => {
    const config = staging(MOTO_ACCOUNT);
    const caller = clientsFor(config);
    clientsFor.mockClear();
    const lookup = await asLookupRole(config, caller, clientsFor);
    expect(clientsFor).toHaveBeenCalledTimes(1);
    const [, settings] = clientsFor.mock.calls[0];
    expect(settings?.credentials?.accessKeyId).toMatch(/^ASIA/);
    expect(settings?.credentials?.accessKeyId).not.toBe(moto.clientConfig().credentials.accessKeyId);
    expect(lookup.sts).toBe(caller.sts);
    expect(lookup.ecr).not.toBe(caller.ecr);
  });

  test('a caller in another account keeps its own clients, for the account check to refuse', async () => {
    const config = staging('222222222222');
    const caller = clientsFor(config);
    clientsFor.mockClear();
    expect(await asLookupRole(config, caller, clientsFor)).toBe(caller);
    expect(clientsFor).not.toHaveBeenCalled();
  });

  // moto grants every AssumeRole: the refusal comes from aws-sdk-client-mock.
  test('a role the caller may not assume exits 2, naming the role and what to check', async () => {
    const sts = mockClient(STSClient);
    try {
      sts.on(GetCallerIdentityCommand).resolves({ Account: MOTO_ACCOUNT, Arn: `arn:aws:iam::${MOTO_ACCOUNT}:user/ci` });
      sts.on(AssumeRoleCommand).rejects(Object.assign(new Error('User is not authorized to perform: sts:AssumeRole'), { name: 'AccessDenied' }));
      const config = staging(MOTO_ACCOUNT);
      const role = cdkBootstrapRoleArn('lookup', MOTO_ACCOUNT, config.region);
      const message = `could not assume ${role}: User is not authorized to perform: sts:AssumeRole. Is ${MOTO_ACCOUNT}/${config.region} bootstrapped, and may the caller assume it?`;
      await expect(asLookupRole(config, clientsFor(config), clientsFor)).rejects.toThrow(new UsageError(message));
      const run = await printed(() => main(['--stage', 'staging', '-c', `staging.account=${MOTO_ACCOUNT}`, '--lookup-role'], clientsFor));
      expect(run).toMatchObject({ result: 2, stdout: '', stderr: `preflight: ${message}\n` });
    } finally {
      sts.restore();
    }
  });
});
