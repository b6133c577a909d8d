import { stageProblem } from './problems';
import type { StageConfig, StageName } from './schema';

/**
 * The anonymised copy crosses accounts: the source stage's bucket and key policies admit the
 * reader's account, and the reader's restore task names the source's bucket and account. Both sides
 * must name each other, with the accounts the stages really have, or one side's policy would admit
 * an account nobody reads from (or the refresh would be denied). An account is checked where the
 * stage whose template holds it is synthesized: an operator command that points one stage at
 * another account (`-c staging.account=...`) does not synthesize the other stage.
 */
export function dumpReaderProblems(all: readonly StageConfig[], selected: readonly StageName[]): string[] {
  const problems: string[] = [];
  const byName = new Map(all.map((c) => [c.name, c]));
  for (const source of all) {
    const anonymised = source.dumps.anonymised;
    if (!anonymised) continue;
    const reader = byName.get(anonymised.readerStage);
    if (!reader) continue;
    if (selected.includes(source.name) && reader.account !== anonymised.readerAccount) {
      problems.push(
        stageProblem(
          source.name,
          'dumps.anonymised.readerAccount',
          anonymised.readerAccount,
          `stage "${reader.name}" runs in account ${reader.account}: the bucket and key policies would admit an account that does not read the copy. Fix: set dumps.anonymised.readerAccount: "${reader.account}"`,
        ),
      );
    }
    if (reader.dumps.refreshFrom?.sourceStage !== source.name) {
      problems.push(
        stageProblem(
          reader.name,
          'dumps.refreshFrom',
          reader.dumps.refreshFrom,
          `stage "${source.name}" anonymises its dumps for ${reader.name} (dumps.anonymised.readerStage), which does not name it as its source. Fix: set dumps.refreshFrom: { sourceStage: "${source.name}", sourceAccount: "${source.account}", sourceRegion: "${source.region}" } in ${reader.name}, or leave dumps.anonymised out of ${source.name}`,
        ),
      );
    }
  }
  for (const reader of all) {
    const from = reader.dumps.refreshFrom;
    if (!from) continue;
    const source = byName.get(from.sourceStage);
    if (!source) continue;
    if (selected.includes(reader.name) && source.account !== from.sourceAccount) {
      problems.push(
        stageProblem(
          reader.name,
          'dumps.refreshFrom.sourceAccount',
          from.sourceAccount,
          `stage "${source.name}" runs in account ${source.account}: the refresh would look for its bucket and key in another account. Fix: set dumps.refreshFrom.sourceAccount: "${source.account}"`,
        ),
      );
    }
    if (selected.includes(reader.name) && source.region !== from.sourceRegion) {
      problems.push(
        stageProblem(
          reader.name,
          'dumps.refreshFrom.sourceRegion',
          from.sourceRegion,
          `stage "${source.name}" runs in ${source.region}: the refresh would look for its bucket and key in another region. Fix: set dumps.refreshFrom.sourceRegion: "${source.region}"`,
        ),
      );
    }
    if (source.dumps.anonymised?.readerStage !== reader.name) {
      problems.push(
        stageProblem(
          reader.name,
          'dumps.refreshFrom.sourceStage',
          from.sourceStage,
          `stage "${source.name}" makes no anonymised copy for ${reader.name} (its dumps.anonymised.readerStage is ${JSON.stringify(source.dumps.anonymised?.readerStage)}), so its policies would refuse the refresh. Fix: set dumps.anonymised: { readerStage: "${reader.name}", readerAccount: "${reader.account}" } in ${source.name}, or leave dumps.refreshFrom out of ${reader.name}`,
        ),
      );
    }
  }
  return problems;
}
