export * from './schema';
export { STAGES } from './stages';
export { loadStageConfigs, parseStageConfig, StageConfigError } from './load';
