import { z } from 'zod';

/** The GitHub repository whose workflows deploy and review this app: the CI access roles trust only it. The same in every stage (lib/config/load.ts). */
export const ci = z
  .object({
    repository: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,39}\/[A-Za-z0-9._-]{1,100}$/, 'not a GitHub repository "owner/name". Fix: write it like "acme/webapp-platform"')
      .meta({ description: 'the GitHub repository (`owner/name`) whose workflows deploy and review this app; the CI roles trust only it', rules: 'the same in every stage' }),
    repositoryId: z
      .string()
      .regex(/^[1-9]\d{0,19}$/, 'not a GitHub repository id (a number). Fix: copy it from gh api repos/<owner>/<name> --jq .id')
      .meta({
        description: "the repository's numeric id (`gh api repos/<owner>/<name> --jq .id`), which a rename or transfer does not change: the CI roles trust tokens of this id only",
        rules: 'the same in every stage',
      }),
    createOidcProvider: z
      .boolean()
      .meta({ description: "create GitHub's OIDC provider in the stage account (false: the account has one already; an account has at most one per URL)" }),
  })
  .strict();
