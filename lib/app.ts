import { App, type AppProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, NIST80053R5Checks } from 'cdk-nag';
import { loadStageConfigs } from './config';
import { RegistryStack } from './stacks/registry-stack';
import { AppStage } from './stages/app-stage';

export interface CreateAppOptions extends AppProps {
  /**
   * Register the cdk-nag AwsSolutions and NIST 800-53 R5 packs, so synth fails on any
   * unacknowledged finding. Tests that only assert on templates leave it off and run the packs
   * with `validateScope` instead.
   * @default true
   */
  readonly nag?: boolean;
}

/** Builds the app: one `AppStage` per configured stage (all three unless `-c stages=` narrows it). */
export function createApp(options: CreateAppOptions = {}): { app: App; stages: AppStage[] } {
  // CDK's built-in CloudFormation schema validation is off: cfn-lint checks every template against
  // the same schemas and more, in `npm test` and CI, and the built-in one had grown to 6 of the
  // 17 seconds of a full synth.
  const app = new App({ builtinCloudFormationValidation: false, ...options });
  const configs = loadStageConfigs(app.node.getAllContext());
  const stages = configs.map((config) => new AppStage(app, { config }));
  // One image repository per account, region and name the synthesized stages use.
  const registries = new Map(configs.map((c) => [`${c.account}-${c.region}-${c.image.repositoryName}`, c]));
  for (const [key, c] of registries) {
    new RegistryStack(app, `Registry-${key.replace(/[^A-Za-z0-9-]/g, '-')}`, {
      env: { account: c.account, region: c.region },
      repositoryName: c.image.repositoryName,
      description: `Image repository ${c.image.repositoryName} for the stages in ${c.account}/${c.region}`,
    });
  }
  if (options.nag ?? true) {
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new NIST80053R5Checks(app));
  }
  return { app, stages };
}
