export { crossStageProblems, type DeployOptions, loadStageConfigs, loadStages, parseStageConfig, StageConfigError } from './load';
export { deployRegions, EDGE_REGION, stageRegions } from './regions';
export * from './schema';
export { STAGES } from './stages';
