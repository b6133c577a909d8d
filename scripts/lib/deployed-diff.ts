/**
 * What `npm run deployed-diff` compares: each of the stage's stacks in the head assembly, refused
 * unless named `<stage>-<Stack>` in the account the base puts the stage in, against the template
 * CloudFormation holds now (GetTemplate, the one call made), with the diff engine `cdk diff` uses.
 */
import { Writable } from 'node:stream';
import { stripVTControlCharacters } from 'node:util';
import { formatDifferences, fullDiff } from '@aws-cdk/cloudformation-diff';
import { CloudFormationClient, GetTemplateCommand } from '@aws-sdk/client-cloudformation';
import { type AssemblyStack, readAssembly, type Template, UsageError } from './assembly';

export interface DeployedDiffArgs {
  readonly stage: string;
  readonly base: string;
  readonly head: string;
}

const place = (s: AssemblyStack) => {
  const [, , account, region] = s.environment.split('/');
  return { account, region };
};

/**
 * The head's stacks of `stage` that may be compared: named `<stage>-<Stack>` and in the account the
 * base puts the stage in. Anything else is refused: the pull request cannot point the review's
 * credentials at another account or at stacks outside the stage.
 */
export function comparableStacks(base: readonly AssemblyStack[], head: readonly AssemblyStack[], stage: string): AssemblyStack[] {
  const own = (stacks: readonly AssemblyStack[]) => stacks.filter((s) => s.stage === stage);
  const [first] = own(base);
  if (!first) throw new UsageError(`the base assembly holds no stack of ${stage}: synthesize it with ${stage} in it.`);
  const { account } = place(first);
  const refused = own(head).filter(
    (s) => !new RegExp(`^${stage}-[A-Za-z0-9]+$`).test(s.stackName) || place(s).account !== account || !/^[a-z]{2}(-[a-z]+)+-\d$/.test(place(s).region),
  );
  if (refused.length > 0) {
    throw new UsageError(
      `the head assembly's ${stage} stacks must be named ${stage}-<Stack> in account ${account} (as the default branch has them); refused: ${refused.map((s) => `${s.stackName} in ${s.environment}`).join(', ')}.`,
    );
  }
  return own(head);
}

/** The template CloudFormation holds for a stack, or undefined when the stack does not exist. */
async function deployedTemplate(cfn: Pick<CloudFormationClient, 'send'>, stackName: string): Promise<Template | undefined> {
  try {
    const out = await cfn.send(new GetTemplateCommand({ StackName: stackName, TemplateStage: 'Original' }));
    return JSON.parse(out.TemplateBody ?? '{}') as Template;
  } catch (error) {
    if ((error as Error).name === 'ValidationError' && /does not exist/.test((error as Error).message)) return undefined;
    throw error;
  }
}

/** The diff of one template pair as `cdk diff` prints it. */
export function formatDiff(before: Template, after: Template): string {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  }) as unknown as NodeJS.WritableStream;
  const diff = fullDiff(before as never, after as never);
  if (diff.isEmpty) return 'There were no differences';
  formatDifferences(stream as never, diff);
  // The formatter colours its output for a terminal; a PR comment shows plain text.
  return stripVTControlCharacters(chunks.join('')).trimEnd();
}

export async function deployedDiff(args: DeployedDiffArgs, cfnFor: (region: string) => Pick<CloudFormationClient, 'send'>): Promise<{ text: string; failed: number }> {
  const base = readAssembly(args.base);
  const head = readAssembly(args.head);
  const stacks = comparableStacks(base, head, args.stage);
  const lines: string[] = [];
  let failed = 0;
  for (const stack of stacks) {
    lines.push(`Stack ${stack.stackName} (${place(stack).region})`);
    try {
      const deployed = await deployedTemplate(cfnFor(place(stack).region), stack.stackName);
      lines.push(
        deployed ? formatDiff(deployed, stack.template) : `not deployed yet: the deploy creates it with ${Object.keys(stack.template.Resources ?? {}).length} resources`,
        '',
      );
    } catch (error) {
      failed++;
      lines.push(`could not read the deployed stack (${(error as Error).name}: ${(error as Error).message})`, '');
    }
  }
  const kept = new Set(stacks.map((s) => s.stackName));
  for (const gone of base.filter((s) => s.stage === args.stage && !kept.has(s.stackName))) {
    lines.push(`Stack ${gone.stackName}: no longer in the head assembly (the deploy leaves it as it is; cdk destroy would delete it)`, '');
  }
  return { text: lines.join('\n').trimEnd(), failed };
}

/** CloudFormation in a stack's region, with the caller's credentials (the stage's diff role). */
export const cloudFormationClient = (region: string): Pick<CloudFormationClient, 'send'> => new CloudFormationClient({ region, maxAttempts: 5 });
