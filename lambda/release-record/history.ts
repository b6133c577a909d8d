/**
 * The release history: the versions of the stage's release parameter (stored.ts), read by the
 * release-record function (what ran before a release a stack rollback brings back) and by the
 * operator commands (scripts/lib/release-history.ts). Apart from stored.ts, which the stacks read
 * for the parameter's name, so they load no SDK client.
 */
import { GetParameterHistoryCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { parseStoredRelease, type RecordedRelease, releaseParameter } from './stored';

/** The stage's recorded releases, oldest first (the newest is what runs now); empty before the first recorded release. */
export async function releaseHistory(ssm: Pick<SSMClient, 'send'>, stage: string): Promise<RecordedRelease[]> {
  const releases: RecordedRelease[] = [];
  let NextToken: string | undefined;
  try {
    do {
      const page = await ssm.send(new GetParameterHistoryCommand({ Name: releaseParameter(stage), MaxResults: 50, NextToken }));
      for (const p of page.Parameters ?? []) {
        const release = parseStoredRelease(p.Value);
        if (release) releases.push({ ...release, version: p.Version ?? 0 });
      }
      NextToken = page.NextToken;
    } while (NextToken);
  } catch (error) {
    if ((error as Error).name === 'ParameterNotFound') return [];
    throw error;
  }
  return releases.sort((a, b) => a.version - b.version);
}
