export * from './schema';
export { STAGES } from './stages';
export { crossStageProblems, loadStageConfigs, loadStages, parseStageConfig, StageConfigError } from './load';
