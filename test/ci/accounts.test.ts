import type { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import { loadStages, STAGE_NAMES, STAGES, type StageName, tagPatternMatches } from '../../lib/config';
import { registryPlans } from '../../lib/registry/registry-stack';
import { releaseTag } from '../../lib/registry/release-tag';
import { synthStage } from '../support/synth';
import { type Json, resources, stageTemplates } from '../support/template';

const synthesized = stageTemplates();
const shared = (stage: StageName, stackName: string): Template => {
  const t = synthesized[stage].shared.get(stackName);
  expect(t, `${stackName} in the ${stage} synth`).toBeDefined();
  return t!;
};
const SOURCE = STAGES.staging.image.source;
const registry = (account: string, region = 'eu-west-1') => `Registry-${account}-${region}-webapp`;

describe('images reach every stage account from the one registry CI pushes to', () => {
  /** Every registry a stage's synth brings: its own, and its DR region's where it keeps a pilot light there. */
  const REGISTRIES = STAGE_NAMES.flatMap((stage) => [
    [stage, STAGES[stage].account, STAGES[stage].region] as const,
    ...(STAGES[stage].dr?.pilotLight ? [[stage, STAGES[stage].account, STAGES[stage].drRegion] as const] : []),
  ]);

  test('the registries: the source, every stage account, and the DR region of each stage with a pilot light, each with its part', () => {
    // The source replicates to the registries that pull builds: dev's, and staging's DR region
    // (the same account: no registry policy needed). Prod's two receive releases by promotion only.
    expect(
      registryPlans(loadStages({}).all).map(({ account, region, isSource, replicateTo, receivesFrom, receivesBy }) => ({
        account,
        region,
        isSource,
        replicateTo,
        receivesFrom,
        receivesBy,
      })),
    ).toEqual([
      {
        ...SOURCE,
        isSource: true,
        replicateTo: [
          { account: STAGES.dev.account, region: 'eu-west-1' },
          { account: SOURCE.account, region: 'eu-central-1' },
        ],
        receivesFrom: undefined,
        receivesBy: undefined,
      },
      { account: STAGES.dev.account, region: 'eu-west-1', isSource: false, replicateTo: [], receivesFrom: SOURCE.account, receivesBy: 'replication' },
      { account: SOURCE.account, region: 'eu-central-1', isSource: false, replicateTo: [], receivesFrom: undefined, receivesBy: 'replication' },
      { account: STAGES.prod.account, region: 'eu-west-1', isSource: false, replicateTo: [], receivesFrom: undefined, receivesBy: 'promotion' },
      { account: STAGES.prod.account, region: 'eu-central-1', isSource: false, replicateTo: [], receivesFrom: undefined, receivesBy: 'promotion' },
    ]);
    expect([STAGES.staging.drRegion, STAGES.prod.drRegion]).toEqual(['eu-central-1', 'eu-central-1']);
    expect(STAGES.dev.dr?.pilotLight).toBeFalsy();
  });

  test('a stage without a pilot light keeps no registry in its DR region', () => {
    const registries = registryPlans(loadStages({ 'staging.dr.pilotLight': 'false' }).all).map((p) => `${p.account}/${p.region} ${p.receivesBy ?? 'source'}`);
    expect(registries).toEqual([
      `${SOURCE.account}/eu-west-1 source`,
      `${STAGES.dev.account}/eu-west-1 replication`,
      `${STAGES.prod.account}/eu-west-1 promotion`,
      `${STAGES.prod.account}/eu-central-1 promotion`,
    ]);
  });

  test.each(REGISTRIES)("the %s registry in %s/%s caches ECR Public (the collector's image) into encrypted repositories that expire untagged images", (stage, account, region) => {
    const t = shared(stage, registry(account, region));
    const [rule] = resources(t, 'AWS::ECR::PullThroughCacheRule');
    expect(rule.Properties).toEqual({ EcrRepositoryPrefix: 'ecr-public', UpstreamRegistry: 'ecr-public', UpstreamRegistryUrl: 'public.ecr.aws' });
    const [template] = resources(t, 'AWS::ECR::RepositoryCreationTemplate');
    expect(template.Properties).toMatchObject({ Prefix: 'ecr-public', AppliedFor: ['PULL_THROUGH_CACHE'], EncryptionConfiguration: { EncryptionType: 'AES256' } });
    // ECR needs a custom role to apply a template only for KMS keys or resource tags: with neither,
    // the cache creates its repositories itself, and no role can be missing at first pull.
    expect(template.Properties.ResourceTags).toBeUndefined();
    expect(template.Properties.CustomRoleArn).toBeUndefined();
    expect(JSON.parse(template.Properties.LifecyclePolicy).rules).toEqual([
      expect.objectContaining({ selection: expect.objectContaining({ tagStatus: 'untagged' }), action: { type: 'expire' } }),
    ]);
  });

  test('the shipped config pushes to the staging account, which replicates to dev and prod', () => {
    expect(STAGE_NAMES.map((n) => STAGES[n].image.source)).toEqual([SOURCE, SOURCE, SOURCE]);
    expect(SOURCE).toEqual({ account: STAGES.staging.account, region: STAGES.staging.region });
  });

  test('the source registry replicates the repository to the registries that pull builds, never to prod in either region, whichever stage is synthesized', () => {
    for (const stage of STAGE_NAMES) {
      const [replication] = resources(shared(stage, registry(SOURCE.account)), 'AWS::ECR::ReplicationConfiguration');
      // Replication filters by repository name only: to prod it would bring every build. Prod's
      // registries get releases alone, copied by digest (.github/scripts/promote-release.sh).
      // Staging's DR registry gets every build, as staging's own does: a failover runs what staging ran.
      expect(replication.Properties.ReplicationConfiguration, stage).toEqual({
        Rules: [
          {
            Destinations: [
              { Region: 'eu-west-1', RegistryId: STAGES.dev.account },
              { Region: STAGES.staging.drRegion, RegistryId: SOURCE.account },
            ],
            RepositoryFilters: [{ Filter: 'webapp', FilterType: 'PREFIX_MATCH' }],
          },
        ],
      });
    }
  });

  test.each([STAGES.prod.region, STAGES.prod.drRegion])('the prod registry in %s admits no other account: no registry policy, no replication', (region) => {
    const t = shared('prod', registry(STAGES.prod.account, region));
    expect(resources(t, 'AWS::ECR::RegistryPolicy')).toEqual([]);
    expect(resources(t, 'AWS::ECR::ReplicationConfiguration')).toEqual([]);
    expect(registryPlans(loadStages({}).all).find((p) => p.account === STAGES.prod.account && p.region === region)).toMatchObject({
      receivesBy: 'promotion',
      receivesFrom: undefined,
    });
  });

  test("staging's DR registry receives replicas from its own account: no registry policy (ECR needs none within an account), no replication onwards", () => {
    const t = shared('staging', registry(SOURCE.account, STAGES.staging.drRegion));
    expect(resources(t, 'AWS::ECR::RegistryPolicy')).toEqual([]);
    expect(resources(t, 'AWS::ECR::ReplicationConfiguration')).toEqual([]);
  });

  test.each(['dev'] as const)('the %s registry admits the source account to replicate into its repository, and nothing else', (stage) => {
    const t = shared(stage, registry(STAGES[stage].account));
    const [policy] = resources(t, 'AWS::ECR::RegistryPolicy');
    expect(policy.Properties.PolicyText).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'ReplicationFromTheSourceRegistry',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${SOURCE.account}:root` },
          Action: ['ecr:CreateRepository', 'ecr:ReplicateImage'],
          Resource: `arn:aws:ecr:eu-west-1:${STAGES[stage].account}:repository/webapp`,
        },
      ],
    });
    // A destination does not replicate further.
    expect(resources(t, 'AWS::ECR::ReplicationConfiguration')).toEqual([]);
  });

  test('every registry keeps immutable, scanned, KMS-encrypted tags and is kept when its stack goes', () => {
    expect(REGISTRIES).toHaveLength(5);
    for (const [stage, account, region] of REGISTRIES) {
      const [repo] = Object.values(shared(stage, registry(account, region)).findResources('AWS::ECR::Repository'));
      expect(repo.Properties).toMatchObject({
        RepositoryName: 'webapp',
        ImageTagMutability: 'IMMUTABLE',
        ImageScanningConfiguration: { ScanOnPush: true },
        EncryptionConfiguration: { EncryptionType: 'KMS' },
      });
      expect(repo.DeletionPolicy).toBe('Retain');
    }
  });

  test('lifecycle: a released image is kept whatever else it is tagged; unreleased builds and untagged images expire', () => {
    const [repo] = resources(shared('prod', registry(STAGES.prod.account)), 'AWS::ECR::Repository');
    const rules = (JSON.parse(repo.Properties.LifecyclePolicy.LifecyclePolicyText).rules as Json[]).sort((a, b) => a.rulePriority - b.rulePriority);
    expect(rules.map((r) => r.selection)).toEqual([
      { tagStatus: 'tagged', tagPatternList: ['release-*'], countType: 'imageCountMoreThan', countNumber: 9999 },
      { tagStatus: 'untagged', countType: 'sinceImagePushed', countNumber: 14, countUnit: 'days' },
      { tagStatus: 'tagged', tagPatternList: ['pr-*'], countType: 'sinceImagePushed', countNumber: 30, countUnit: 'days' },
      { tagStatus: 'tagged', tagPatternList: ['sha-*'], countType: 'sinceImagePushed', countNumber: 30, countUnit: 'days' },
    ]);
    // As ECR evaluates them (user guide, "Lifecycle policy evaluation rules"): an image is selected
    // by a tagged rule when every pattern of its list matches one of the image's tags, and the first
    // rule that selects it is the only one that can expire it.
    const decides = (tags: string[]) =>
      rules.find(
        (r) =>
          r.selection.tagStatus === 'any' ||
          (r.selection.tagStatus === 'untagged' && tags.length === 0) ||
          (r.selection.tagStatus === 'tagged' && tags.length > 0 && r.selection.tagPatternList.every((p: string) => tags.some((t) => tagPatternMatches(p, t)))),
      );
    const kept = (tags: string[]) => {
      const rule = decides(tags);
      return rule === undefined || (rule.selection.countType === 'imageCountMoreThan' && rule.selection.countNumber >= 9999);
    };
    const release = releaseTag(`sha256:${'a'.repeat(64)}`);
    // Releases, also when the build's expiring tag is still on them.
    for (const tags of [[release], [release, 'sha-3f9a1c2'], [release, 'pr-42'], [release, 'v1.4.2', 'sha-3f9a1c2']]) expect(kept(tags), tags.join(' ')).toBe(true);
    // A tag no rule names (a hand-made release name) is never selected either.
    for (const tags of [['v1.4.2'], [STAGES.prod.image.tag]]) expect(kept(tags), tags.join(' ')).toBe(true);
    // Builds that were never released, and untagged images.
    for (const tags of [['sha-3f9a1c2'], ['pr-42'], ['v1.4.2', 'sha-3f9a1c2'], []]) expect(kept(tags), tags.join(' ') || 'untagged').toBe(false);
  });

  test.each(['staging', 'prod'] as const)("%s's DR registry keeps releases by the same lifecycle rules as the stage's own: a failover can run any of them", (stage) => {
    const lifecycle = (region: string) => resources(shared(stage, registry(STAGES[stage].account, region)), 'AWS::ECR::Repository')[0].Properties.LifecyclePolicy;
    expect(lifecycle(STAGES[stage].drRegion)).toEqual(lifecycle(STAGES[stage].region));
    expect(lifecycle(STAGES[stage].drRegion).LifecyclePolicyText).toContain('release-*');
  });
});

describe('CI access: GitHub OIDC roles per stage account', () => {
  const ci = (stage: StageName) => shared(stage, `CiAccess-${STAGES[stage].account}`);
  const role = (t: Template, name: string): Json => resources(t, 'AWS::IAM::Role').find((r) => r.Properties.RoleName === name);
  const statements = (t: Template, roleLogicalPrefix: string): Json[] =>
    Object.entries(t.findResources('AWS::IAM::Policy'))
      .filter(([id]) => id.startsWith(roleLogicalPrefix))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
  const trust = (r: Json) => r.Properties.AssumeRolePolicyDocument.Statement;

  test.each(STAGE_NAMES)("%s: the account trusts GitHub's OIDC issuer for the STS audience", (stage) => {
    expect(resources(ci(stage), 'AWS::IAM::OIDCProvider').map((p) => p.Properties)).toEqual([
      { Url: 'https://token.actions.githubusercontent.com', ClientIdList: ['sts.amazonaws.com'] },
    ]);
  });

  /** What STS must check of a GitHub token before a CI role may be assumed. */
  const githubTrust = (environment: string, workflow: string) => [
    {
      Effect: 'Allow',
      Action: 'sts:AssumeRoleWithWebIdentity',
      Principal: { Federated: { Ref: expect.stringMatching(/^GitHubOidc/) } },
      Condition: {
        StringEquals: {
          'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
          'token.actions.githubusercontent.com:repository_id': STAGES.prod.ci.repositoryId,
          'token.actions.githubusercontent.com:environment': environment,
          'token.actions.githubusercontent.com:ref': 'refs/heads/main',
          'token.actions.githubusercontent.com:job_workflow_ref': `example-org/webapp-platform/${workflow}@refs/heads/main`,
        },
        // GitHub's two subject formats: names, and names with their immutable ids (the owner's a
        // wildcard; the repository's pinned here and by repository_id).
        StringLike: {
          'token.actions.githubusercontent.com:sub': [
            `repo:example-org/webapp-platform:environment:${environment}`,
            `repo:example-org@*/webapp-platform@${STAGES.prod.ci.repositoryId}:environment:${environment}`,
          ],
        },
      },
    },
  ];

  /**
   * Whether STS lets a GitHub token with these claims assume the role: every key of every operator
   * must match one of its values (IAM, "Conditions with multiple context keys or values"); a
   * claim the token lacks matches nothing. StringLike's `*` matches any run of characters.
   */
  const admits = (statement: Json, claims: Record<string, string>): boolean =>
    Object.entries(statement.Condition as Record<string, Record<string, string | string[]>>).every(([operator, tests]) =>
      Object.entries(tests).every(([key, values]) => {
        const value = claims[key.replace('token.actions.githubusercontent.com:', '')];
        if (value === undefined) return false;
        if (operator === 'StringEquals') return [values].flat().includes(value);
        // `*` any run of characters, `?` any one; everything else literal.
        const like = (pattern: string) =>
          new RegExp(
            `^${pattern
              .replace(/[.+^$()[\]{}|\\]/g, '\\$&')
              .replaceAll('*', '.*')
              .replaceAll('?', '.')}$`,
          );
        if (operator === 'StringLike') return [values].flat().some((v) => like(v).test(value));
        throw new Error(`no evaluation for ${operator}: add it to admits()`);
      }),
    );

  test.each(STAGE_NAMES)('%s: the deploy role is assumable only by the deploy workflow of this repository, run from main in its environment', (stage) => {
    // A workflow a pull request adds on its own branch, naming environment: staging, fails the
    // ref and job_workflow_ref checks; a renamed or transferred repository, the id check.
    expect(trust(role(ci(stage), `webapp-${stage}-deploy`))).toEqual(githubTrust(stage, '.github/workflows/deploy.yml'));
  });

  test.each(STAGE_NAMES)('%s: every role that trusts GitHub checks the workflow file, the ref, the environment and the repository id, exactly', (stage) => {
    const federated = resources(ci(stage), 'AWS::IAM::Role').filter((r) => JSON.stringify(trust(r)).includes('Federated'));
    expect(federated.length).toBeGreaterThanOrEqual(2);
    for (const r of federated) {
      const conditions = trust(r)[0].Condition;
      const keys = (operator: string) =>
        Object.keys(conditions[operator])
          .map((k) => k.split(':').pop())
          .sort();
      expect(Object.keys(conditions), r.Properties.RoleName).toEqual(['StringEquals', 'StringLike']);
      expect(keys('StringEquals'), r.Properties.RoleName).toEqual(['aud', 'environment', 'job_workflow_ref', 'ref', 'repository_id']);
      expect(keys('StringLike'), r.Properties.RoleName).toEqual(['sub']);
      // Exact values: no wildcard could admit another branch, workflow or repository. The one
      // wildcard is the owner's id in the immutable subject, beside the pinned repository id.
      const [names, immutable] = Object.values(conditions.StringLike)[0] as string[];
      expect(JSON.stringify(conditions.StringEquals), r.Properties.RoleName).not.toMatch(/[*?]|pull_request/);
      expect(names, r.Properties.RoleName).not.toMatch(/[*?]/);
      expect(immutable.split('*'), r.Properties.RoleName).toEqual([
        'repo:example-org@',
        `/webapp-platform@${conditions.StringEquals['token.actions.githubusercontent.com:repository_id']}:environment:${conditions.StringEquals['token.actions.githubusercontent.com:environment']}`,
      ]);
    }
  });

  test("the deploy role admits a deploy job's token in either of GitHub's subject formats, and no other subject", () => {
    const [statement] = trust(role(ci('prod'), 'webapp-prod-deploy'));
    const { repository, repositoryId } = STAGES.prod.ci;
    const token = (sub: string) => ({
      aud: 'sts.amazonaws.com',
      sub,
      repository_id: repositoryId,
      environment: 'prod',
      ref: 'refs/heads/main',
      job_workflow_ref: `${repository}/.github/workflows/deploy.yml@refs/heads/main`,
    });
    // The names format, and the immutable one GitHub issues to new, renamed or transferred
    // repositories and on opt-in (GitHub, OpenID Connect reference, "Immutable subject claims").
    expect(admits(statement, token('repo:example-org/webapp-platform:environment:prod'))).toBe(true);
    expect(admits(statement, token(`repo:example-org@123456/webapp-platform@${repositoryId}:environment:prod`))).toBe(true);
    // Another repository's id, another environment, a branch subject, another owner's name.
    expect(admits(statement, token('repo:example-org@123456/webapp-platform@987654321:environment:prod'))).toBe(false);
    expect(admits(statement, token(`repo:example-org@123456/webapp-platform@${repositoryId}:environment:staging`))).toBe(false);
    expect(admits(statement, token(`repo:example-org@123456/webapp-platform@${repositoryId}:ref:refs/heads/main`))).toBe(false);
    expect(admits(statement, token(`repo:someone-else@7/webapp-platform@${repositoryId}:environment:prod`))).toBe(false);
    // The wildcard admits nothing the pinned claims do not: another repository id fails repository_id.
    expect(admits(statement, { ...token(`repo:example-org@123456/webapp-platform@${repositoryId}:environment:prod`), repository_id: '987654321' })).toBe(false);
  });

  test.each(STAGE_NAMES)('%s: a deploy session may last three hours (a first deploy outlasts one); the read-only roles keep the default hour', (stage) => {
    const roles = resources(ci(stage), 'AWS::IAM::Role').filter((r) => JSON.stringify(trust(r)).includes('Federated'));
    const sessions = Object.fromEntries(roles.map((r) => [r.Properties.RoleName, r.Properties.MaxSessionDuration]));
    expect(sessions).toEqual({
      [`webapp-${stage}-deploy`]: 10800,
      [`webapp-${stage}-diff`]: undefined,
      ...(stage === 'staging' ? { 'webapp-staging-release-read': undefined } : {}),
    });
  });

  test.each(STAGE_NAMES)('%s: the deploy role may only assume the CDK bootstrap roles of its own account, and tag releases in its own registries', (stage) => {
    const { account, region, drRegion, backup, uploads, edge, dr } = STAGES[stage];
    // The DR region's bootstrap roles too, where the stage has a DR stack or a pilot light, and
    // us-east-1's where it has an edge stack (without them the pipeline could not deploy it). CDK sorts the ARNs.
    const regions = [region, ...(backup.drCopies || uploads.replicateToDr || dr?.pilotLight ? [drRegion] : []), ...(edge?.enabled ? ['us-east-1'] : [])].sort();
    expect(regions.includes('us-east-1')).toBe(edge?.enabled === true);
    const [statement, ...rest] = statements(ci(stage), `webapp${stage}deploy`);
    // The stage's repository in its region, and in its DR region where it keeps a pilot light:
    // the releases are in both (staging's and prod's), dev's in its region alone.
    const primary = `arn:aws:ecr:${region}:${account}:repository/webapp`;
    // CDK sorts the ARNs.
    const repositories = dr?.pilotLight ? [primary, `arn:aws:ecr:${drRegion}:${account}:repository/webapp`].sort() : primary;
    expect(dr?.pilotLight ?? false).toBe(stage !== 'dev');
    // Prod's releases arrive by the deploy job's copy: it pushes into its own repositories.
    const pushes = STAGES[stage].image.promotedFrom
      ? [
          {
            Sid: 'PushPromotedReleases',
            Effect: 'Allow',
            Action: ['ecr:BatchCheckLayerAvailability', 'ecr:CompleteLayerUpload', 'ecr:InitiateLayerUpload', 'ecr:UploadLayerPart'],
            Resource: repositories,
          },
          { Sid: 'RegistryLogin', Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
        ]
      : [];
    expect(rest.slice(0, pushes.length)).toEqual(pushes);
    const [tagging, ...others] = rest.slice(pushes.length);
    expect(others).toEqual([]);
    // Read an image and put its manifest again under a new tag: no layer upload, so no new image.
    expect(tagging).toEqual({
      Sid: 'TagReleasesInTheStageRegistry',
      Effect: 'Allow',
      Action: ['ecr:BatchGetImage', 'ecr:DescribeImages', 'ecr:PutImage'],
      Resource: repositories,
    });
    expect(statement.Action).toEqual(['sts:AssumeRole', 'sts:TagSession']);
    expect(statement.Resource).toEqual(
      ['deploy', 'file-publishing', 'image-publishing', 'lookup'].flatMap((kind) => regions.map((r) => `arn:aws:iam::${account}:role/cdk-hnb659fds-${kind}-role-${account}-${r}`)),
    );
  });

  test.each(STAGE_NAMES)('%s: the diff role trusts only the review workflow in the pull-request review environment, reads the stage stacks, and assumes no role', (stage) => {
    const { account } = STAGES[stage];
    const diff = role(ci(stage), `webapp-${stage}-diff`);
    expect(trust(diff)).toEqual(githubTrust('pr-review', '.github/workflows/pr-review.yml'));
    // No lookup role (ReadOnlyAccess): nothing the pull request's manifest names is read with it.
    const actions = statements(ci(stage), `webapp${stage}diff`).flatMap((s) => [s.Action].flat());
    expect(actions).toEqual(['cloudformation:DescribeStacks', 'cloudformation:GetTemplate', 'cloudformation:GetTemplateSummary', 'cloudformation:ListStackResources']);
    const resourcesRead = statements(ci(stage), `webapp${stage}diff`).flatMap((s) => [s.Resource].flat());
    expect(resourcesRead.every((arn: string) => arn.startsWith('arn:aws:cloudformation:') && arn.includes(`:${account}:stack/${stage}-*/*`))).toBe(true);
  });

  test('only the staging account has the release-read role, for the prod deploy, and it only reads the staging app', () => {
    expect(role(ci('dev'), 'webapp-dev-release-read')).toBeUndefined();
    expect(role(ci('prod'), 'webapp-prod-release-read')).toBeUndefined();
    const t = ci('staging');
    const read = role(t, 'webapp-staging-release-read');
    expect(trust(read)).toEqual(githubTrust('prod', '.github/workflows/deploy.yml'));
    expect(statements(t, 'webappstagingreleaseread').map((s) => s.Action)).toEqual([
      'cloudformation:DescribeStacks',
      // What the promotion copies: the release by digest, out of the staging repository alone.
      ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:DescribeImages', 'ecr:GetDownloadUrlForLayer'],
      'ecr:GetAuthorizationToken',
      'ecs:ListTasks',
      'ecs:DescribeTasks',
    ]);
    expect(statements(t, 'webappstagingreleaseread')[1].Resource).toBe(`arn:aws:ecr:eu-west-1:${STAGES.staging.account}:repository/webapp`);
  });

  test('an account that already has the GitHub provider imports it', () => {
    const imported = synthStage('dev', { 'dev.ci.createOidcProvider': false }).shared.get(`CiAccess-${STAGES.dev.account}`)!;
    expect(resources(imported, 'AWS::IAM::OIDCProvider')).toEqual([]);
    expect(trust(role(imported, 'webapp-dev-deploy'))[0].Principal.Federated).toBe(`arn:aws:iam::${STAGES.dev.account}:oidc-provider/token.actions.githubusercontent.com`);
  });
});
