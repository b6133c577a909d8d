/**
 * The migration tool's report of what it applied, read from the migration task's log. Its own
 * module: the release-record function reads it without bundling the migration's clients.
 */
import { type CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';

/** Log lines searched for the migration tool's report (it is written last, after the migrations ran). */
export const REPORT_LINES = 100;

/**
 * The migrations the tool reported applying: the last line of the task's log that is a JSON object
 * with a `migrationsApplied` list of names (docs/app-contract.md, "Migrations"), or undefined when
 * it reported none (a tool that does not, or a log that cannot be read: the release record says
 * "not reported", never fails the release). The release-record function reads it once the
 * release is complete, so the migration's own result stays as it was.
 */
export async function appliedMigrations(
  clients: { readonly logs: Pick<CloudWatchLogsClient, 'send'> },
  settings: { readonly logGroup: string; readonly streamPrefix: string; readonly container: string },
  taskArn: string,
): Promise<string[] | undefined> {
  const stream = `${settings.streamPrefix}/${settings.container}/${taskArn.split('/').at(-1)}`;
  try {
    const out = await clients.logs.send(new GetLogEventsCommand({ logGroupName: settings.logGroup, logStreamName: stream, limit: REPORT_LINES, startFromHead: false }));
    for (const event of [...(out.events ?? [])].reverse()) {
      const line = event.message?.trim() ?? '';
      if (!line.startsWith('{') || !line.includes('migrationsApplied')) continue;
      try {
        const names = (JSON.parse(line) as { migrationsApplied?: unknown }).migrationsApplied;
        if (Array.isArray(names)) return names.map(String);
      } catch {
        // Not the report: another line that merely mentions it.
      }
    }
  } catch (error) {
    console.warn(JSON.stringify({ message: 'the migration report could not be read', stream, error: (error as Error).name }));
  }
  return undefined;
}
