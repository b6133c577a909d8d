import { Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import type { StageConfig } from '../config';
import { RELEASE_TAG_PATTERN, releaseRegions } from './release-tag';

/** One registry (account and region) the app's images live in, and its part in getting them there. */
export interface RegistryPlan {
  readonly account: string;
  readonly region: string;
  readonly repositoryName: string;
  /** Tag patterns of builds that expire after 30 days, unless the image is also tagged as a release. */
  readonly expiringTagPatterns: readonly string[];
  /** CI pushes here; the registry replicates to `replicateTo`. */
  readonly isSource: boolean;
  readonly replicateTo: readonly { readonly account: string; readonly region: string }[];
  /** The source registry's account, when this registry receives replicas from another account. */
  readonly receivesFrom?: string;
  /** How images reach it, when it is not the source: every build by replication, or releases alone by promotion. */
  readonly receivesBy?: 'replication' | 'promotion';
}

/**
 * The registries of every stage (all of them, synthesized or not, so a partial synth never drops
 * a replication destination): the source CI pushes to, and one per other account and region a
 * stage runs in or keeps its releases in (its DR region, with `dr.pilotLight`: lib/registry/
 * release-tag.ts, `releaseRegions`). Each receives every image from the source by ECR
 * replication, except the registries of a stage that promotes from another (prod,
 * `image.promotedFrom`), its DR region's included: replication filters by repository name only,
 * so it would bring every build; those registries hold releases alone, copied by digest when the
 * stage deploys them (.github/scripts/promote-release.sh). Replication copies only what is pushed
 * after it is configured: a registry added later gets the releases pushed before by a copy
 * (`npm run dr-images`).
 */
export function registryPlans(stages: readonly StageConfig[]): RegistryPlan[] {
  const key = (account: string, region: string) => `${account}/${region}`;
  const [first] = stages;
  const { source, repositoryName, expiringTagPatterns } = first.image;
  const sourceKey = key(source.account, source.region);
  const places = new Map<string, { account: string; region: string }>([[sourceKey, source]]);
  for (const stage of stages) for (const region of releaseRegions(stage)) places.set(key(stage.account, region), { account: stage.account, region });
  // A registry some stage pulls builds from (any stage that does not promote) gets replication.
  const pullsBuilds = new Set(stages.filter((s) => s.image.promotedFrom === undefined).flatMap((s) => releaseRegions(s).map((region) => key(s.account, region))));
  const promotedOnly = (k: string) => k !== sourceKey && !pullsBuilds.has(k);
  const destinations = [...places.entries()].filter(([k]) => k !== sourceKey && !promotedOnly(k)).map(([, p]) => p);
  return [...places.entries()].map(([k, p]) => {
    const isSource = k === sourceKey;
    return {
      ...p,
      repositoryName,
      expiringTagPatterns,
      isSource,
      replicateTo: isSource ? destinations : [],
      receivesFrom: !isSource && !promotedOnly(k) && p.account !== source.account ? source.account : undefined,
      receivesBy: isSource ? undefined : promotedOnly(k) ? ('promotion' as const) : ('replication' as const),
    };
  });
}

/**
 * Releases the first lifecycle rule keeps: its count only bounds them (the CDK's own example of a
 * rule that protects images keeps 9,999), far beyond what any stage rolls back to.
 */
export const KEPT_RELEASES = 9999;

/** Repositories under this prefix are the registry's pull-through cache of ECR Public (public.ecr.aws). */
export const ECR_PUBLIC_CACHE_PREFIX = 'ecr-public';

export interface RegistryStackProps extends StackProps {
  readonly plan: RegistryPlan;
}

/**
 * The app's image repository in one account and region (deployed once there, not per stage):
 * immutable tags so a tag always means the same build, scanning on push, KMS encryption.
 *
 * Lifecycle: ECR expires an image when any one of its tags matches a rule, and an image a rule
 * selects cannot be expired by a rule of lower priority. So the first rule selects release tags
 * (`release-<digest>`, added to every image a stage deploys: lib/registry/release-tag.ts) and
 * keeps up to 9,999 of them, which makes every release immune to the rules after it; then
 * untagged images go after 14 days and builds with an expiring tag (`sha-*`, `pr-*`) after 30. A
 * build that was never released expires; one that was, whatever else it is tagged, stays.
 *
 * In the source registry (where CI pushes) a replication rule copies every image of the
 * repository to the registries that pull builds (another region of the same account among them);
 * each of those in another account admits the source account to replicate into it. A promoted
 * stage's registries (prod's, in its region and its DR region) admit nobody: releases reach them
 * by the deploy job's copy. Replication copies only images pushed after it is configured, a few minutes after the push:
 * the deploy workflow waits for the image in the stage's registry before it tags the release
 * there (docs/architecture.md, "Image registry").
 */
export class RegistryStack extends Stack {
  readonly repository: ecr.Repository;
  /** Where the registry is and its part in getting images there. */
  readonly plan: RegistryPlan;

  constructor(scope: Construct, id: string, props: RegistryStackProps) {
    super(scope, id, props);
    const { plan } = props;
    this.plan = plan;
    this.repository = new ecr.Repository(this, 'Repository', {
      repositoryName: plan.repositoryName,
      imageTagMutability: ecr.TagMutability.IMMUTABLE,
      imageScanOnPush: true,
      encryption: ecr.RepositoryEncryption.KMS,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          description: 'Releases: kept, and so never expired by the rules below',
          tagStatus: ecr.TagStatus.TAGGED,
          tagPatternList: [RELEASE_TAG_PATTERN],
          maxImageCount: KEPT_RELEASES,
          rulePriority: 1,
        },
        { description: 'Untagged images (failed or superseded pushes)', tagStatus: ecr.TagStatus.UNTAGGED, maxImageAge: Duration.days(14), rulePriority: 2 },
        // One rule per pattern: the patterns of one rule must all match the same image.
        ...plan.expiringTagPatterns.map((pattern, i) => ({
          description: `Builds tagged ${pattern}, not releases`,
          tagStatus: ecr.TagStatus.TAGGED,
          tagPatternList: [pattern],
          maxImageAge: Duration.days(30),
          rulePriority: 3 + i,
        })),
      ],
    });

    // A pull-through cache of ECR Public (the tasks' ADOT collector comes from there): the first
    // pull of a tag imports it, later pulls are served from this registry even when ECR Public is
    // slow, down or rate-limiting. Its repositories are created on that first pull, from the
    // template below: encrypted, untagged images expired. Tags stay mutable there: the cache
    // follows the upstream tag (AWS's images are pinned by version here).
    new ecr.CfnPullThroughCacheRule(this, 'EcrPublicCache', {
      ecrRepositoryPrefix: ECR_PUBLIC_CACHE_PREFIX,
      upstreamRegistry: 'ecr-public',
      upstreamRegistryUrl: 'public.ecr.aws',
    });
    new ecr.CfnRepositoryCreationTemplate(this, 'EcrPublicCacheRepositories', {
      prefix: ECR_PUBLIC_CACHE_PREFIX,
      appliedFor: ['PULL_THROUGH_CACHE'],
      description: 'Repositories of the ECR Public pull-through cache',
      imageTagMutability: 'MUTABLE',
      encryptionConfiguration: { encryptionType: 'AES256' },
      lifecyclePolicy: JSON.stringify({
        rules: [
          {
            rulePriority: 1,
            description: 'Untagged images',
            selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 14 },
            action: { type: 'expire' },
          },
        ],
      }),
    });

    if (plan.replicateTo.length > 0) {
      // Registry-wide (one per account and region): this stack owns the registry's replication.
      new ecr.CfnReplicationConfiguration(this, 'Replication', {
        replicationConfiguration: {
          rules: [
            {
              destinations: plan.replicateTo.map((d) => ({ region: d.region, registryId: d.account })),
              repositoryFilters: [{ filter: plan.repositoryName, filterType: 'PREFIX_MATCH' }],
            },
          ],
        },
      });
    }
    if (plan.receivesFrom) {
      // Registry-wide too: the source registry may replicate this repository into this one.
      new ecr.CfnRegistryPolicy(this, 'ReplicationFromSource', {
        policyText: new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({
              sid: 'ReplicationFromTheSourceRegistry',
              principals: [new iam.AccountPrincipal(plan.receivesFrom)],
              actions: ['ecr:CreateRepository', 'ecr:ReplicateImage'],
              resources: [Stack.of(this).formatArn({ service: 'ecr', resource: 'repository', resourceName: plan.repositoryName })],
            }),
          ],
        }).toJSON(),
      });
    }
  }
}
