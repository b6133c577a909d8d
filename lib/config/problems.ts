/** One problem of a stage's configuration as the loader reports it: the stage, the field, the value, then what is wrong and the fix. */
export function stageProblem(stage: string, field: string, value: unknown, message: string): string {
  return `stage "${stage}", field "${field}", value ${JSON.stringify(value) ?? 'undefined'}: ${message}`;
}
