import { z } from 'zod';
import { APP_PARTITION, APP_REGIONS, AWS_REGIONS, closest, regionPartition } from './aws-catalog';
import { cidrProblem } from './cidr';

/*
 * Field builders the tiers of the schema share (lib/config/schema/). A field documents itself once,
 * in its zod metadata: `.meta({ description, rules })`. docs/configuration.md is generated from it
 * (npm run docs:config), `description` saying what the field is and `rules` what values it takes.
 */
declare module 'zod' {
  interface GlobalMeta {
    /** What values the field takes, as the configuration reference states it (the schema enforces it). */
    rules?: string;
  }
}

/**
 * A rule only prod must meet: the field a failure is reported on, the rule, and the message with its
 * fix. `C` is the part of the configuration the rule reads.
 */
export interface ProdRule<C> {
  readonly path: readonly string[];
  readonly holds: (cfg: C) => boolean;
  readonly message: string;
}

export const accountId = z.string().regex(/^\d{12}$/, 'an AWS account id is exactly 12 digits. Fix: copy it from the console account menu, e.g. "123456789012"');

/**
 * A value from one of the pinned lists of lib/config/aws-catalog.ts; the message names the closest
 * ones and says how to refresh the list when AWS added something since.
 */
export function oneOf(list: readonly string[], what: string, example: string) {
  return z.string().superRefine((value, ctx) => {
    if (list.includes(value)) return;
    ctx.addIssue({
      code: 'custom',
      message: `not ${what} (lib/config/aws-catalog.ts). Fix: use e.g. "${example}"; the closest are ${closest(value, list)
        .map((c) => `"${c}"`)
        .join(', ')} (if AWS added it since, refresh the list as that file says)`,
    });
  });
}

/** A region of the partition the stacks are written for (APP_PARTITION says why only that one). */
export const region = oneOf(AWS_REGIONS, 'an AWS region', 'eu-west-1').superRefine((value, ctx) => {
  const partition = AWS_REGIONS.includes(value) ? regionPartition(value) : APP_PARTITION;
  if (partition === APP_PARTITION) return;
  ctx.addIssue({
    code: 'custom',
    message: `is in the ${partition} partition, and the stacks are written for the ${APP_PARTITION} partition: the edge stack's CloudFront distribution and certificate live in us-east-1, and the CI roles trust GitHub's tokens for sts.amazonaws.com, neither of which exists in ${partition}. Fix: use a region of the ${APP_PARTITION} partition, e.g. "eu-west-1" (${APP_REGIONS.length} are listed in lib/config/aws-catalog.ts)`,
  });
});

/**
 * A list that names each entry once (by `key`, the entry itself unless given): a repeated entry is
 * a slip, and several AWS APIs refuse it (a second cache behaviour with the same path pattern, a
 * duplicate subscription, a security group rule twice). Every list of the schema is one, except
 * LISTS_WITH_REPEATS.
 */
export function unique<T extends z.ZodTypeAny>(item: T, what: string, key: (value: z.output<T>) => unknown = (value) => value) {
  return z.array(item).superRefine((list, ctx) => {
    const seen = new Set<unknown>();
    list.forEach((value, index) => {
      const id = key(value);
      if (seen.has(id)) ctx.addIssue({ code: 'custom', path: [index], message: `${JSON.stringify(id)} is listed twice: each ${what} once. Fix: remove the second one` });
      seen.add(id);
    });
  });
}

/** A command's argument list (argv): the one kind of list where the same entry may come twice (`-r a -r b`). */
export const command = z.array(z.string().min(1));

/** The lists whose entries may repeat (commands); every other list of the schema refuses a repeated entry. */
export const LISTS_WITH_REPEATS: readonly string[] = ['app.workerCommand', 'app.migrationCommand'];

/** An absolute URL path or path prefix. */
export const urlPath = z.string().regex(/^\/[\w\-./]*$/, 'not an absolute URL path. Fix: write it like "/api/auth/"');

/**
 * A path as a client spells it when nothing is hidden in it: no empty, "." or ".." segment, no
 * trailing slash. WAF compares the upload paths byte for byte, so another spelling would never match.
 */
export const exactPath = urlPath.refine(
  // "/" and a trailing slash each leave an empty segment.
  (path) =>
    path
      .slice(1)
      .split('/')
      .every((segment) => segment !== '' && segment !== '.' && segment !== '..'),
  'is not a normalised path (an empty, "." or ".." segment, or a trailing slash): the WAF compares the request\'s path with it byte for byte, and a client spells a path without them. Fix: write the path the upload requests use, like "/api/uploads"',
);

/** A percentage threshold: above 0 and at most 100. */
export const percent = z
  .number()
  .positive('must be above 0. Fix: use a value above 0 and at most 100')
  .max(100, 'a percentage is at most 100. Fix: use a value above 0 and at most 100');

/** A domain name: labels of letters, digits and hyphens, at least two labels, no trailing dot. */
export const domainName = z
  .string()
  .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'not a lower-case domain name. Fix: write it like "app.example.com" (no scheme, no trailing dot)');

/** A VPC's IPv4 block: private, /16 to /24, no host bits set (cidr.ts says what is wrong). */
export const vpcCidr = z.string().superRefine((value, ctx) => {
  const problem = cidrProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
