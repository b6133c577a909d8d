import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createApp } from '../../lib/app';
import { PROJECT_ROOT } from '../../lib/shared/paths';
import { type DiagramStack, diagram, STAGE_STACK_ORDER } from './diagram';

/** The diagram of the prod stage as `cdk synth` writes it (cdk.json's context; no nag or bundling, which change no resource). */
export function appDiagram(): string {
  const context = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')).context;
  const { app, stages } = createApp({ enableNag: false, context: { ...context, 'aws:cdk:bundling-stacks': [], stages: 'prod' } });
  const [stage] = stages;
  const stacks: DiagramStack[] = app
    .synth()
    .stacksRecursively.filter((artifact) => artifact.environment.account === stage.config.account)
    .map((artifact) => ({ name: artifact.stackName, region: artifact.environment.region, template: artifact.template }));
  // The stage's stacks in the order they deploy, then the account's.
  const deployOrder = STAGE_STACK_ORDER.map((s) => `${stage.config.name}-${s}`);
  const stageStacks = deployOrder.flatMap((name) => stacks.filter((s) => s.name === name));
  return diagram(
    stage.config.account,
    stage.config.region,
    stageStacks,
    stacks.filter((s) => !deployOrder.includes(s.name)),
  );
}
