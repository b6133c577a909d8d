export * from './schema';
export { STAGES } from './stages';
export { crossStageProblems, type DeployOptions, loadStageConfigs, loadStages, parseStageConfig, StageConfigError } from './load';
