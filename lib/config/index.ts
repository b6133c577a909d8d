export { crossStageProblems, type DeployOptions, loadStageConfigs, loadStages, parseStageConfig, StageConfigError } from './load';
export * from './schema';
export { STAGES } from './stages';
