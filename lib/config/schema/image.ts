import { z } from 'zod';
import { RELEASE_TAG_PATTERN, releaseTag } from '../../registry/release-tag';
import { accountId, region, unique } from '../fields';
import { STAGE_NAMES } from './stage';

/** The image reference a stage's tasks name after the registry: `webapp:v1.4.2` or `webapp@sha256:...`. */
export function imageReference(image: { readonly repositoryName: string; readonly tag: string }): string {
  return image.tag.startsWith('sha256:') ? `${image.repositoryName}@${image.tag}` : `${image.repositoryName}:${image.tag}`;
}

/** Whether an ECR lifecycle tag pattern (`*` matches anything) matches a tag. */
export function tagPatternMatches(pattern: string, tag: string): boolean {
  const regex = new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.]/g, '\\.'))
      .join('.*')}$`,
  );
  return regex.test(tag);
}

/** The image the web and worker tasks run, and the registries it comes from. The same source and repository in every stage (lib/config/load.ts). */
export const image = z
  .object({
    repositoryName: z
      .string()
      .min(2)
      .max(256)
      .regex(/^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/, 'not an ECR repository name. Fix: use lower-case letters, digits and . _ - /, e.g. "webapp"')
      .meta({ description: 'ECR repository name, the same in every registry the stages pull from', rules: 'ECR name rules; the same in every stage' }),
    tag: z
      .string()
      .regex(
        /^(sha256:[a-f0-9]{64}|[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$/,
        'neither an image tag nor a "sha256:" digest. Fix: use a tag such as "v1.4.2" (letters, digits, _ . -, up to 128) or "sha256:" followed by 64 hex digits',
      )
      .meta({
        description: 'image tag (`v1.4.2`) or `sha256:` digest; `-c imageTag=...` sets it for one deploy',
        rules: 'a tag or a 64-hex digest, not an expiring tag (`expiringTagPatterns`)',
      }),
    source: z.object({ account: accountId, region }).strict().meta({
      description:
        "`{ account, region }` of the registry CI pushes each build to, once; ECR replication copies it to every other account and region a stage runs in, and each stage pulls from its own account's registry",
      rules: 'the same in every stage',
    }),
    promotedFrom: z.enum(STAGE_NAMES).optional().meta({
      description:
        "the stage whose running image this stage's deploys promote by digest; its account gets a read-only role only this stage's GitHub environment may assume, to read the digest its web tasks run (unset: the stage deploys `tag`)",
      rules: 'another stage; at most one stage promotes from each; prod ships `staging`',
    }),
    expiringTagPatterns: unique(
      z
        .string()
        .regex(/^[A-Za-z0-9_.*-]{1,128}$/, 'not an ECR tag pattern. Fix: use letters, digits, _ . - and * wildcards, e.g. "pr-*"')
        .refine((p) => p.replace(/\*/g, '').length > 0, 'would expire every tag, releases included. Fix: use a prefix, e.g. "pr-*"')
        .refine(
          (p) => !tagPatternMatches(p, releaseTag(`sha256:${'0'.repeat(64)}`)),
          `selects the release tags (${RELEASE_TAG_PATTERN}), which the first lifecycle rule keeps: it could never expire them, and says otherwise. Fix: name the builds' own prefix, e.g. "pr-*"`,
        ),
      'pattern',
    )
      .default(() => ['pr-*', 'sha-*'])
      .meta({
        description:
          'tag patterns (ECR wildcards) of builds that expire after 30 days unless released: every image a stage deploys is tagged `release-<digest>` in its registry, and the first lifecycle rule keeps those; untagged images expire after 14 days',
        rules: 'different patterns, no bare `*`, none that selects `release-` tags; the same in every stage',
      }),
  })
  .strict()
  .superRefine((image, ctx) => {
    const expiring = image.expiringTagPatterns.find((p) => tagPatternMatches(p, image.tag));
    if (expiring) {
      ctx.addIssue({
        code: 'custom',
        path: ['tag'],
        message: `matches the expiring tag pattern "${expiring}": the image could expire while the stage runs it. Fix: deploy a release tag or a sha256: digest`,
      });
    }
  });
