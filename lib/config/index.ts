export type { DeployOptions } from './deploy-options';
export { crossStageProblems, loadStageConfigs, loadStages, parseStageConfig, StageConfigError } from './load';
export { deployRegions, EDGE_REGION, hasDrStack, STAGE_STACKS, type StageStack, stageRegions, stageStacks } from './regions';
export * from './schema';
export { STAGES } from './stages';
