import { createHash } from 'node:crypto';
import { CfnOutput, CfnResource, Fn, Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { REPLACEMENT_PROPERTIES } from './replacement-properties';

/**
 * Cross-stack values travel as weak references (`Fn::GetStackOutput`, cdk.json's
 * `@aws-cdk/core:defaultCrossStackReferences: weak`), which CloudFormation resolves only when the
 * consuming stack's own template changes: a producer that replaces a security group, key or
 * secret would leave its consumers holding the old id, with no error.
 *
 * So every read is marked with a fingerprint of what produces the value: the logical id, type and
 * replacing properties (replacement-properties.ts; every property for a type the table lacks) of
 * the producer's resources the output refers to, with their own cross-stack reads marked so a
 * replacement travels down the chain. When a producing resource is replaced, the consuming property's
 * text changes with it, CloudFormation resolves it again at the consumer's next deploy (the same
 * `cdk deploy`, which deploys the producer first), and the value comes out fresh. The value itself
 * is unchanged: the marker is an empty string joined to it. Output names are left alone, so a
 * consumer's rollback still finds the output it read before.
 */
export function markCrossStackReads(stack: Stack, template: Record<string, unknown>, pinned: ReadonlyMap<string, string> = new Map()): Record<string, unknown> {
  const fingerprints = new Map<string, string | undefined>();
  const mark = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(mark);
    if (node === null || typeof node !== 'object') return node;
    const read = readOf(node);
    if (read && pinned.has(readKey(read))) return pinned.get(readKey(read));
    if (read) {
      const key = `${read.StackName}|${read.Region ?? ''}|${read.OutputName}`;
      if (!fingerprints.has(key)) fingerprints.set(key, producerFingerprint(stack, read));
      const fingerprint = fingerprints.get(key);
      return fingerprint ? { 'Fn::Join': ['', [node, { 'Fn::Select': [0, ['', `${MARKER}${read.StackName}/${read.OutputName}@${fingerprint}`]] }]] } : node;
    }
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, mark(v)]));
  };
  const marked = { ...template };
  for (const section of ['Resources', 'Outputs', 'Conditions'] as const) {
    if (template[section]) marked[section] = mark(template[section]);
  }
  return marked;
}

/**
 * `producer`'s output `outputId` as `consumer` reads it: Fn::GetStackOutput by the output's name
 * (marked like every read when the consumer synthesizes), the consumer deploying after the
 * producer. A reference to one of the producer's resources would make CDK add an output to the
 * producer's template for it; this reads one the producer has anyway, so a consumer that comes
 * and goes (the DR app tier) leaves the producer's template as it is.
 */
export function readOutput(consumer: Stack, producer: Stack, outputId: string): string {
  const output = producer.node.tryFindChild(outputId);
  if (!(output instanceof CfnOutput)) throw new Error(`${producer.stackName} has no output ${outputId} for ${consumer.stackName} to read`);
  consumer.addStackDependency(producer, 'reads its outputs');
  return Fn.getStackOutput(producer.stackName, producer.getLogicalId(output), producer.region);
}

/**
 * How a read names the output it stands for: `<producer stack>/<output>`. A read listed in
 * `pinned` (`-c pinnedReads`) is written as that value instead: a stack outside the primary region
 * must deploy while that region is lost, and CloudFormation resolves every `Fn::GetStackOutput` of
 * a template at each update, from the producer's region.
 */
export function readKey(read: StackOutputRead): string {
  return `${read.StackName}/${read.OutputName}`;
}

/** Every distinct cross-stack read of a template section, in the order they first appear. */
export function crossStackReads(node: unknown, into = new Map<string, StackOutputRead>()): StackOutputRead[] {
  const read = node !== null && typeof node === 'object' && !Array.isArray(node) ? readOf(node) : undefined;
  if (read) into.set(readKey(read), read);
  else if (Array.isArray(node)) for (const item of node) crossStackReads(item, into);
  else if (node !== null && typeof node === 'object') for (const value of Object.values(node)) crossStackReads(value, into);
  return [...into.values()];
}

/** Starts the marker the consuming template carries next to each read; the diff guard looks for it. */
export const MARKER = 'producer:';

export interface StackOutputRead {
  readonly StackName: string;
  readonly OutputName: string;
  readonly Region?: string;
}

function readOf(node: object): StackOutputRead | undefined {
  const keys = Object.keys(node);
  if (keys.length !== 1 || keys[0] !== 'Fn::GetStackOutput') return undefined;
  const read = (node as Record<string, unknown>)['Fn::GetStackOutput'] as StackOutputRead;
  return typeof read?.StackName === 'string' && typeof read.OutputName === 'string' ? read : undefined;
}

/** 12 hex digits over the producing resources of one output, or undefined when the producer is not in this app. */
function producerFingerprint(consumer: Stack, read: StackOutputRead): string | undefined {
  const producer = findStack(consumer.node.root, read.StackName, read.Region ?? consumer.region);
  if (!producer) return undefined;
  const elements = producer.node.findAll();
  const output = elements.find((c): c is CfnOutput => c instanceof CfnOutput && producer.getLogicalId(c) === read.OutputName);
  if (!output) return undefined;
  const ids = referencedIds(producer.resolve(output.value));
  const resources = elements.filter((c): c is CfnResource => CfnResource.isCfnResource(c) && ids.has(producer.getLogicalId(c)));
  const definitions = resources
    .map((r) => {
      const fragment = producer.resolve(r._toCloudFormation()) as { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };
      const [[id, definition]] = Object.entries(fragment.Resources);
      const replacing = REPLACEMENT_PROPERTIES[definition.Type];
      const properties = Object.fromEntries(Object.entries(definition.Properties ?? {}).filter(([name]) => !replacing || replacing.includes(name)));
      return [id, definition.Type, markCrossStackReads(producer, { Resources: { [id]: properties } })] as const;
    })
    .sort(([a], [b]) => a.localeCompare(b));
  return createHash('sha256').update(JSON.stringify(definitions)).digest('hex').slice(0, 12);
}

function findStack(root: IConstruct, stackName: string, region: string): Stack | undefined {
  return root.node.findAll().find((c): c is Stack => Stack.isStack(c) && c.stackName === stackName && c.region === region);
}

/** Logical ids a resolved expression refers to with Ref or Fn::GetAtt (pseudo parameters left out). */
export function referencedIds(expression: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(expression)) {
    for (const item of expression) referencedIds(item, into);
  } else if (expression !== null && typeof expression === 'object') {
    for (const [key, value] of Object.entries(expression)) {
      if (key === 'Ref' && typeof value === 'string' && !value.startsWith('AWS::')) into.add(value);
      else if (key === 'Fn::GetAtt' && Array.isArray(value) && typeof value[0] === 'string') into.add(value[0]);
      else referencedIds(value, into);
    }
  }
  return into;
}
