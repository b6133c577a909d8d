/**
 * What the operator commands read of the release record (lambda/release-record/stored.ts): the
 * stage's release history from the parameter's history, a release by the names people use for it
 * (the release id, the image tag, the digest), whether what ECS runs is what the record says, and
 * the commit of this checkout. Every function takes its SDK client, so the tests run them against moto.
 */
import { spawnSync } from 'node:child_process';
import { type RecordedRelease, ranMigration } from '../../lambda/release-record/stored';
import { imageRef } from './release';

export { releaseHistory } from '../../lambda/release-record/history';
export type { RecordedRelease } from '../../lambda/release-record/stored';

/** The image tag or digest a record's image names (`webapp:v1.4.2` -> `v1.4.2`). */
export const recordedRef = (r: Pick<RecordedRelease, 'image'>) => imageRef(r.image);

/** Whether `name` names the release: its id, its image's tag, or its digest. */
export function names(r: RecordedRelease, name: string): boolean {
  return name === r.release || name === recordedRef(r) || (r.digest !== '' && name === r.digest);
}

/** The newest recorded release `name` names, or undefined. */
export function findRelease(history: readonly RecordedRelease[], name: string): RecordedRelease | undefined {
  return [...history].reverse().find((r) => names(r, name));
}

/** Whether an ECS image URI runs the release (by its tag or digest). */
export function runsRelease(r: RecordedRelease, image: string, digest?: string): boolean {
  const ref = imageRef(image);
  return ref === recordedRef(r) || (r.digest !== '' && (ref === r.digest || digest === r.digest));
}

const short = (sha: string) => (sha ? sha.slice(0, 12) : 'not recorded');

/** What a migration of a release did, in words. */
export function migrationWords(r: RecordedRelease): string {
  if (r.migrationTask === 'none') return 'no migration step';
  if (!ranMigration(r)) return 'migrated nothing (migrated before on this database)';
  const applied = r.migrationsApplied === null ? 'names not reported' : r.migrationsApplied.length === 0 ? 'none applied' : r.migrationsApplied.join(', ');
  return `migration started ${r.migrationStartedAt} (${applied})`;
}

/** One release as the plans print it. */
export function describeRelease(r: RecordedRelease): string {
  return `${r.release} (image ${r.image}, ${r.digest || 'digest not recorded'}, commit ${short(r.commit)}, ${migrationWords(r)}, completed ${r.completedAt}${r.snapshotSkipped ? ', deployed WITHOUT a pre-deploy snapshot' : ''}${r.stackRollback ? ', recorded by a stack rollback' : ''})`;
}

/** The newest releases, for a message that asks for one. */
export function recentReleases(history: readonly RecordedRelease[], count = 5): string {
  const recent = [...history].reverse().slice(0, count);
  return recent.length > 0 ? recent.map((r) => `${r.release} (${recordedRef(r)})`).join(', ') : 'none recorded yet';
}

/** The commit of this checkout, or undefined when it has uncommitted changes or is no git checkout (the record then gets none). */
export function checkoutCommit(cwd = process.cwd()): { readonly commit?: string; readonly why?: string } {
  const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd, encoding: 'utf8' });
  if (head.status !== 0) return { why: 'this folder is no git checkout' };
  const status = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, encoding: 'utf8' });
  const commit = head.stdout.trim();
  if (status.status !== 0 || status.stdout.trim() !== '') return { commit, why: `the checkout (${commit.slice(0, 12)}) has uncommitted changes` };
  return { commit };
}

/**
 * Why this checkout must not deploy the release, or undefined when it may: the release was built
 * from another commit (or this checkout has uncommitted changes). Synthesizing here would deploy
 * this checkout's infrastructure and task settings with the release's image: a release that never
 * existed.
 */
export function checkoutProblem(stage: string, release: RecordedRelease, checkout: { readonly commit?: string; readonly why?: string }): string | undefined {
  if (!release.commit) return undefined;
  if (checkout.commit === release.commit && !checkout.why) return undefined;
  const here = checkout.why ?? `this checkout is ${checkout.commit}`;
  return (
    `the release ${release.release} of ${stage} was built from commit ${release.commit}, but ${here}: deploying from here would pair its image with this checkout's infrastructure, a release that never ran. ` +
    `Fix: git checkout ${release.commit} and run the command again from there, or deploy the release's own assembly (the "assembly" artifact of the deploy workflow run of that commit, kept 30 days: gh run download $(gh run list --workflow deploy.yml --commit ${release.commit} --json databaseId --jq '.[0].databaseId') -n assembly -D release-assembly, then npm run deploy -- --stage ${stage} --app release-assembly).`
  );
}
