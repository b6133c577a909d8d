import { App, type AppProps, Aspects, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, NIST80053R5Checks } from 'cdk-nag';
import { BaselineStack, baselinePlans, baselineStackName } from './baseline/baseline-stack';
import { CiAccessStack } from './ci/ci-access-stack';
import { loadStages } from './config';
import { RegistryStack, registryPlans } from './registry/registry-stack';
import { releaseRegions } from './registry/release-tag';
import { ControlTowerChecks } from './shared/control-tower-checks';
import { GrantsForAwsResourcesOnly } from './shared/kms-grants';
import { AppStage } from './stages/app-stage';

export interface CreateAppOptions extends AppProps {
  /**
   * Register the cdk-nag AwsSolutions and NIST 800-53 R5 packs and AWS Control Tower's proactive
   * controls, so synth fails on any unacknowledged finding. Tests that only assert on templates leave it off and run the packs
   * with `validateScope` instead.
   * @default true
   */
  readonly enableNag?: boolean;
}

/** Builds the app: one `AppStage` per configured stage (all three unless `-c stages=` narrows it). */
export function createApp(options: CreateAppOptions = {}): { app: App; stages: AppStage[] } {
  // CDK's built-in CloudFormation schema validation is off: cfn-lint checks every template against
  // the same schemas and more, in `npm test` and CI, and the built-in one had grown to 6 of the
  // 17 seconds of a full synth.
  const app = new App({ builtinCloudFormationValidation: false, ...options });
  const { selected: configs, all, deploy } = loadStages(app.node.getAllContext());
  const stages = configs.map((config) => new AppStage(app, { config, deploy, accountHomeRegion: all.find((c) => c.account === config.account)?.region ?? config.region }));
  // The image registries: where CI pushes, and every account and region a synthesized stage pulls
  // from or keeps its releases in (its DR region, with a pilot light). Their replication is
  // planned over all stages, so a partial synth changes nothing.
  const pulledFrom = new Set(configs.flatMap((c) => releaseRegions(c).map((region) => `${c.account}/${region}`)));
  const registries: RegistryStack[] = [];
  for (const plan of registryPlans(all)) {
    if (!plan.isSource && !pulledFrom.has(`${plan.account}/${plan.region}`)) continue;
    registries.push(
      new RegistryStack(app, `Registry-${`${plan.account}-${plan.region}-${plan.repositoryName}`.replace(/[^A-Za-z0-9-]/g, '-')}`, {
        env: { account: plan.account, region: plan.region },
        plan,
        description: `Image repository ${plan.repositoryName} in ${plan.account}/${plan.region}${plan.isSource ? ' (CI pushes here; replicated to the registries that pull builds)' : ''}`,
      }),
    );
  }
  // A replication rule that lands before its destination's repository makes ECR create that
  // repository itself (default settings), and the destination's stack then fails on the name:
  // where one account deploys both, the source waits for its destinations (other accounts' come
  // first by docs/first-deployment.md, each with its own credentials).
  const source = registries.find((r) => r.plan.isSource);
  for (const destination of registries) {
    if (
      source &&
      destination !== source &&
      destination.plan.account === source.plan.account &&
      source.plan.replicateTo.some((d) => d.account === destination.plan.account && d.region === destination.plan.region)
    ) {
      source.addDependency(destination, 'its replication rule names this registry');
    }
  }
  // GitHub Actions' access to each account of a synthesized stage, with the roles of every stage there.
  for (const account of new Set(configs.map((c) => c.account))) {
    const here = all.filter((c) => c.account === account);
    new CiAccessStack(app, `CiAccess-${account}`, {
      env: { account, region: here[0].region },
      account,
      stages: here,
      promotions: all.flatMap((to) => {
        const source = here.find((c) => c.name === to.image.promotedFrom);
        return source ? [{ source, promotedTo: to.name }] : [];
      }),
      description: `GitHub Actions access to ${account}: OIDC provider and the deploy and diff roles of ${here.map((c) => c.name).join(', ')}`,
    });
  }
  // The security baseline of each account of a synthesized stage, in every region the account's stages use.
  const accounts = new Set(configs.map((c) => c.account));
  for (const plan of baselinePlans(all)) {
    if (!accounts.has(plan.account)) continue;
    new BaselineStack(app, baselineStackName(plan), {
      env: { account: plan.account, region: plan.region },
      plan,
      terminationProtection: plan.retain,
      description: `Security baseline of ${plan.account} in ${plan.region} (${plan.stages.join(', ')}): ${plan.region === plan.homeRegion ? 'audit trail, ' : ''}threat detection, findings, access analysis`,
    });
  }
  // On the app for its own stacks, and on each stage: a stage synthesizes apart from the app.
  for (const scope of [app, ...stages]) Aspects.of(scope).add(new GrantsForAwsResourcesOnly());
  if (options.enableNag ?? true) {
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new NIST80053R5Checks(app), new ControlTowerChecks());
  }
  return { app, stages };
}
