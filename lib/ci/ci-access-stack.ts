import { Duration, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { deployRegions, type StageConfig } from '../config';
import { releaseRegions } from '../registry/release-tag';
import { stageResourceName } from '../shared/naming';

/** GitHub's OIDC issuer; its tokens' audience for AWS is sts.amazonaws.com. */
export const GITHUB_OIDC = { url: 'https://token.actions.githubusercontent.com', host: 'token.actions.githubusercontent.com', audience: 'sts.amazonaws.com' } as const;

/**
 * The GitHub environment of the pull-request review job that runs `cdk diff` (only the default
 * branch's workflow code runs there): the diff roles trust it, never pull requests at large.
 */
export const REVIEW_ENVIRONMENT = 'pr-review';

/** Why a CI role holds ecr:GetAuthorizationToken on every resource: the action has no other. */
const REGISTRY_LOGIN =
  "ecr:GetAuthorizationToken has no resource-level permissions: it signs the registry login (skopeo's, for the promotion copy); what the login may pull or push is held to one repository by the role's other statements.";

/** The branch releases come from; the workflows name it too (test/workflows.test.ts checks they agree). */
export const DEFAULT_BRANCH = 'main';

/** The workflow files whose jobs may assume the CI roles: releases, and the privileged half of the review. */
export const CI_WORKFLOWS = { deploy: '.github/workflows/deploy.yml', review: '.github/workflows/pr-review.yml' } as const;

/** The CDK bootstrap qualifier (the default; `cdk bootstrap` without --qualifier). */
export const BOOTSTRAP_QUALIFIER = 'hnb659fds';

/** A role `cdk bootstrap` creates: deploy, cfn-exec (CloudFormation deploys with it), file-publishing, image-publishing, lookup. */
export function cdkBootstrapRoleArn(kind: string, account: string, region: string, partition = 'aws'): string {
  return `arn:${partition}:iam::${account}:role/${cdkBootstrapRoleName(kind, account, region)}`;
}

/** The name of a role `cdk bootstrap` creates (see cdkBootstrapRoleArn). */
export function cdkBootstrapRoleName(kind: string, account: string, region: string): string {
  return `cdk-${BOOTSTRAP_QUALIFIER}-${kind}-role-${account}-${region}`;
}

/** Names of a stage's CI roles: fixed, so the workflows derive them from the account id. */
export const ciRoleNames = (stage: string) => ({
  deploy: stageResourceName(stage, 'deploy'),
  diff: stageResourceName(stage, 'diff'),
  releaseRead: stageResourceName(stage, 'release-read'),
});

/** The GitHub repository whose workflows assume the CI roles (a stage's `ci`). */
export interface GitHubRepository {
  /** "owner/name". */
  readonly repository: string;
  /** GitHub's numeric id of the repository, which a rename or transfer keeps. */
  readonly repositoryId: string;
}

/**
 * The `sub` values a GitHub token of the repository's jobs in `environment` may carry: the
 * names format, and the immutable format with the owner's id left a wildcard (githubRole says why).
 */
export function githubSubjects(ci: GitHubRepository, environment: string): [string, string] {
  const [owner, repo] = ci.repository.split('/');
  return [`repo:${owner}/${repo}:environment:${environment}`, `repo:${owner}@*/${repo}@${ci.repositoryId}:environment:${environment}`];
}

/**
 * How long a deploy role's session may last (GitHub's `role-duration-seconds` in deploy.yml asks
 * for as much): a first deploy of staging or prod (RDS, ElastiCache, CloudFront, preflight's
 * waits) can outlast IAM's one-hour default, and the CDK CLI refreshes the bootstrap roles'
 * sessions it chains from this one only while this one is valid. The diff and release-read roles
 * read for minutes and keep the default.
 */
export const DEPLOY_SESSION = Duration.hours(3);

export interface CiAccessStackProps extends StackProps {
  readonly account: string;
  /** The stages that deploy into this account. */
  readonly stages: readonly StageConfig[];
  /**
   * The promotions that read a stage of this account (`image.promotedFrom`): the stage whose
   * running image is read, and the stage (GitHub environment) whose deploys read it.
   */
  readonly promotions?: readonly { readonly source: StageConfig; readonly promotedTo: string }[];
}

/**
 * What GitHub Actions may do in one account (deployed once per account, like the bootstrap):
 * the GitHub OIDC provider, and per stage a deploy role and a diff role, each assumable only by
 * a workflow of the configured repository running in the right GitHub environment, by a short
 * token (no long-lived keys). The deploy role can only assume the CDK bootstrap roles of this
 * account (the deploy role CloudFormation deploys with, the asset publishing roles, the lookup
 * role); the diff role only reads the stage's stacks. The staging account
 * also has the release-read role the prod deploy uses to read the image staging runs.
 */
export class CiAccessStack extends Stack {
  readonly provider: iam.IOidcProvider;
  readonly roles: Record<string, iam.Role> = {};

  constructor(scope: Construct, id: string, props: CiAccessStackProps) {
    super(scope, id, props);
    const { account, partition } = this;
    const create = props.stages.every((s) => s.ci.createOidcProvider);
    this.provider = create
      ? new iam.OidcProviderNative(this, 'GitHubOidc', { url: GITHUB_OIDC.url, clientIds: [GITHUB_OIDC.audience] })
      : iam.OidcProviderNative.fromOidcProviderArn(this, 'GitHubOidc', `arn:${partition}:iam::${account}:oidc-provider/${GITHUB_OIDC.host}`);

    const cdkRole = (kind: string, region: string) => cdkBootstrapRoleArn(kind, account, region, partition);
    for (const stage of props.stages) {
      const names = ciRoleNames(stage.name);
      // Every region the stage's stacks deploy to: the edge stack's us-east-1 too.
      const regions = deployRegions(stage);
      const deploy = this.githubRole(
        names.deploy,
        stage.ci,
        stage.name,
        CI_WORKFLOWS.deploy,
        `Deploys the ${stage.name} stage from GitHub Actions (environment ${stage.name})`,
        DEPLOY_SESSION,
      );
      deploy.addToPolicy(
        new iam.PolicyStatement({
          sid: 'AssumeTheCdkBootstrapRoles',
          actions: ['sts:AssumeRole', 'sts:TagSession'],
          resources: regions.flatMap((r) => ['deploy', 'file-publishing', 'image-publishing', 'lookup'].map((kind) => cdkRole(kind, r))),
        }),
      );

      // The stage's repository in each region that holds its releases: its own, and its DR
      // region's where it keeps a pilot light there.
      const repositories = releaseRegions(stage).map((r) => `arn:${partition}:ecr:${r}:${account}:repository/${stage.image.repositoryName}`);
      if (stage.image.promotedFrom) {
        // A promoted stage's registries receive releases only by the deploy job's copy
        // (.github/scripts/promote-release.sh): push the layers and the manifest into this one
        // repository, in each of them. GetAuthorizationToken has no resource (it signs the registry login).
        deploy.addToPolicy(
          new iam.PolicyStatement({
            sid: 'PushPromotedReleases',
            actions: ['ecr:BatchCheckLayerAvailability', 'ecr:InitiateLayerUpload', 'ecr:UploadLayerPart', 'ecr:CompleteLayerUpload'],
            resources: repositories,
          }),
        );
        deploy.addToPolicy(new iam.PolicyStatement({ sid: 'RegistryLogin', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }));
      }
      // The release step marks the image it deploys as a release in the stage's own registries
      // (scripts/release-tag.ts; the DR region's too, where replication brought the image but
      // perhaps not its release tag): read the image, put its manifest again under the release
      // tag. The repository's tags are immutable, so no existing tag can be moved; with no layer
      // upload permission (a promoted stage's aside), no new image can be pushed.
      deploy.addToPolicy(
        new iam.PolicyStatement({
          sid: 'TagReleasesInTheStageRegistry',
          actions: ['ecr:DescribeImages', 'ecr:BatchGetImage', 'ecr:PutImage'],
          resources: repositories,
        }),
      );

      const diff = this.githubRole(names.diff, stage.ci, REVIEW_ENVIRONMENT, CI_WORKFLOWS.review, `Reads the deployed ${stage.name} stacks for cdk diff in pull-request reviews`);
      // No lookup role: the review reads the deployed templates itself (scripts/deployed-diff.ts),
      // never with a role or an SSM parameter the pull request's manifest names.
      diff.addToPolicy(
        new iam.PolicyStatement({
          sid: 'ReadTheStageStacks',
          actions: ['cloudformation:DescribeStacks', 'cloudformation:GetTemplate', 'cloudformation:GetTemplateSummary', 'cloudformation:ListStackResources'],
          resources: regions.map((r) => `arn:${partition}:cloudformation:${r}:${account}:stack/${stage.name}-*/*`),
        }),
      );
      this.acknowledge(
        deploy,
        `The deploy role assumes the CDK bootstrap roles of this account (deploy, file-publishing, image-publishing, lookup) in the ${stage.name} stage's regions; their names end in the account and region.`,
      );
      this.acknowledge(diff, `The diff role reads only the ${stage.name} stage's stacks (${stage.name}-*); it assumes no role.`);
      Object.assign(this.roles, { [names.deploy]: deploy, [names.diff]: diff });
    }

    for (const { source: stage, promotedTo } of props.promotions ?? []) {
      const { region } = stage;
      const read = this.githubRole(
        ciRoleNames(stage.name).releaseRead,
        stage.ci,
        promotedTo,
        CI_WORKFLOWS.deploy,
        `Reads the image the ${stage.name} web tasks run, for the ${promotedTo} deploy to promote`,
      );
      const cluster = `arn:${partition}:ecs:${region}:${account}:cluster/${stage.name}-App-Cluster*`;
      read.addToPolicy(
        new iam.PolicyStatement({
          sid: 'ReadTheAppStackOutputs',
          actions: ['cloudformation:DescribeStacks'],
          resources: [`arn:${partition}:cloudformation:${region}:${account}:stack/${stage.name}-App/*`],
        }),
      );
      // The promotion copies the release by digest out of this stage's registry.
      read.addToPolicy(
        new iam.PolicyStatement({
          sid: 'PullTheRelease',
          actions: ['ecr:DescribeImages', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'],
          resources: [`arn:${partition}:ecr:${region}:${account}:repository/${stage.image.repositoryName}`],
        }),
      );
      read.addToPolicy(new iam.PolicyStatement({ sid: 'RegistryLogin', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }));
      read.addToPolicy(new iam.PolicyStatement({ sid: 'ListTheWebTasks', actions: ['ecs:ListTasks'], resources: ['*'], conditions: { ArnLike: { 'ecs:cluster': cluster } } }));
      read.addToPolicy(
        new iam.PolicyStatement({
          sid: 'ReadTheWebTasks',
          actions: ['ecs:DescribeTasks'],
          resources: [`arn:${partition}:ecs:${region}:${account}:task/${stage.name}-App-Cluster*/*`],
        }),
      );
      this.acknowledge(
        read,
        `Reads (never changes) the tasks of the ${stage.name} cluster, whose CloudFormation name starts ${stage.name}-App-Cluster; ecs:ListTasks has no resource-level permissions and is held to that cluster by the ecs:cluster condition.`,
      );
      this.roles[ciRoleNames(stage.name).releaseRead] = read;
    }
  }

  /**
   * A role only one workflow file of the repository, run from the default branch in one GitHub
   * environment, can assume. Beyond `sub` (repository-wide, and a pull request can add a workflow
   * that names any environment), STS checks GitHub's own claims (AWS STS, "provider-specific
   * claims", January 2026): the workflow file and the ref it ran from (`job_workflow_ref`, `ref`),
   * the environment, and the repository's numeric id, which a name freed by a rename or deletion
   * and taken by another account does not carry. A rename or transfer changes the names in
   * `job_workflow_ref` and `sub`, so `ci.repository` follows it (docs/first-deployment.md, "First deployment").
   *
   * `sub` comes in two formats (GitHub, OpenID Connect reference, "Immutable subject claims"):
   * `repo:<owner>/<repo>:environment:<env>`, and `repo:<owner>@<owner id>/<repo>@<repository
   * id>:environment:<env>`, which GitHub issues to repositories created, renamed or transferred
   * since it introduced that format, and to those that opt in. Either is accepted (StringLike), so
   * the switch never locks CI out. The owner id is a wildcard: the repository id fixes the
   * repository, and StringEquals pins that id (`repository_id`) and the owner's name
   * (`job_workflow_ref`) exactly, so the wildcard admits no token the other conditions would not.
   */
  private githubRole(roleName: string, ci: GitHubRepository, environment: string, workflow: string, description: string, maxSessionDuration?: Duration): iam.Role {
    const claim = (name: string) => `${GITHUB_OIDC.host}:${name}`;
    return new iam.Role(this, roleName, {
      roleName,
      description,
      maxSessionDuration,
      assumedBy: new iam.WebIdentityPrincipal(this.provider.oidcProviderArn, {
        StringEquals: {
          [claim('aud')]: GITHUB_OIDC.audience,
          [claim('repository_id')]: ci.repositoryId,
          [claim('environment')]: environment,
          [claim('ref')]: `refs/heads/${DEFAULT_BRANCH}`,
          [claim('job_workflow_ref')]: `${ci.repository}/${workflow}@refs/heads/${DEFAULT_BRANCH}`,
        },
        StringLike: { [claim('sub')]: githubSubjects(ci, environment) },
      }),
    });
  }

  /** The wildcard and inline-policy findings on a CI role, each with its reason. */
  private acknowledge(role: iam.Role, reason: string): void {
    const policy = role.node.findChild('DefaultPolicy');
    const statements = (Stack.of(this).resolve((policy as iam.Policy).document.toJSON()) as { Statement: { Action: string | string[]; Resource: string | string[] }[] }).Statement;
    for (const resource of new Set(statements.flatMap((s) => [s.Resource].flat()).filter((r) => r.includes('*')))) {
      const actions = statements.filter((s) => [s.Resource].flat().includes(resource)).flatMap((s) => [s.Action].flat());
      const login = actions.includes('ecr:GetAuthorizationToken');
      Validations.of(policy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${resource}]`,
        reason: login && actions.length === 1 ? REGISTRY_LOGIN : login ? `${REGISTRY_LOGIN} ${reason}` : reason,
      });
    }
    Validations.of(policy).acknowledge({
      id: 'NIST.800.53.R5-IAMNoInlinePolicy',
      reason: "CDK writes the role's grants as its inline default policy; every statement is scoped to this account and named here.",
    });
  }
}
