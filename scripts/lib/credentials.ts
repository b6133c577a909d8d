import { GetCallerIdentityCommand, type GetCallerIdentityCommandOutput, type STSClient } from '@aws-sdk/client-sts';

/**
 * Says why the caller cannot act on `account` (no credentials, or another account's), or
 * undefined when it can. Operator scripts ask before they touch anything, so a missing login
 * is the first (and only) thing they report.
 */
export async function accountProblem(sts: Pick<STSClient, 'send'>, account: string, stage: string): Promise<string | undefined> {
  let caller: GetCallerIdentityCommandOutput;
  try {
    caller = await sts.send(new GetCallerIdentityCommand({}));
  } catch (error) {
    return `no usable AWS credentials (${(error as Error).name}: ${(error as Error).message}). Sign in to the ${stage} account ${account} (aws sso login, or AWS_PROFILE) and run again.`;
  }
  if (caller.Account !== account) {
    return `the credentials are for account ${caller.Account} (${caller.Arn}), but ${stage} is in ${account}. Use credentials of ${account} and run again.`;
  }
  return undefined;
}
