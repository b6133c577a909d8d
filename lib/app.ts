import { App, type AppProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, NIST80053R5Checks } from 'cdk-nag';
import { loadStageConfigs } from './config';
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
  const app = new App(options);
  const configs = loadStageConfigs(app.node.getAllContext());
  const stages = configs.map((config) => new AppStage(app, { config }));
  if (options.nag ?? true) {
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new NIST80053R5Checks(app));
  }
  return { app, stages };
}
