import { loadResourceModel } from '@aws-cdk/cloudformation-diff/lib/diff/util';

/**
 * The properties of a CloudFormation resource type whose change replaces the resource ("yes") or
 * may replace it ("maybe"), from the resource specification `cdk diff` and the diff guard use.
 * Undefined when the specification does not know the type.
 */
export function replacingProperties(type: string): string[] | undefined {
  const model = loadResourceModel(type);
  if (!model) return undefined;
  return Object.entries(model.properties ?? {})
    .filter(([, spec]) => spec.causesReplacement === 'yes' || spec.causesReplacement === 'maybe')
    .map(([name]) => name)
    .sort();
}
