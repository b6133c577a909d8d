import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../lib/shared/paths';

/**
 * The commands README.md and docs/*.md tell people to run, as test/docs.test.ts and
 * test/docs-commands.test.ts check them: each with the file and line it is on, so a failure says
 * where to fix it.
 */
export interface DocText {
  readonly file: string;
  readonly text: string;
}

export const docTexts = (): DocText[] =>
  ['README.md', ...readdirSync(join(PROJECT_ROOT, 'docs')).map((f) => join('docs', f))]
    .filter((f) => f.endsWith('.md'))
    .map((file) => ({ file, text: readFileSync(join(PROJECT_ROOT, file), 'utf8') }));

const lineOf = (text: string, offset: number) => text.slice(0, offset).split('\n').length;

export interface NpmCommand {
  readonly file: string;
  readonly lineNumber: number;
  /** The command as the docs show it. */
  readonly line: string;
  readonly name: string;
  /** What follows `--`, placeholders unfilled. */
  readonly args: string;
}

/** Every `npm run NAME -- ARGS` the docs show, up to a comment, a pipe or the end of the code span. */
export function npmCommands(texts: readonly DocText[] = docTexts()): NpmCommand[] {
  return texts.flatMap(({ file, text }) =>
    [...text.matchAll(/npm run ([a-z][a-z:-]*)((?: -- [^`\n#|]*)?)/g)].map((match) => ({
      file,
      lineNumber: lineOf(text, match.index),
      line: match[0].trim(),
      name: match[1],
      args: match[2].replace(/^ -- /, '').trim(),
    })),
  );
}

/** The values the docs' placeholders stand for, by the flag they follow (others become `x`). */
const NPM_PLACEHOLDERS: Record<string, string> = {
  '--account': '123456789012',
  '--image': 'v1.4.2',
  '--snapshot': 'predeploy-staging-v1-4-2-3f9a1c2e-202612010200',
  '--to-time': '2026-12-01T02:10:00Z',
  '--finding': '60baffd3f9042e38640f2300d5c5a631',
};

/**
 * The arguments as a shell would pass them, with the docs' placeholders filled in (`<stage>` is
 * staging): `placeholders` gives the value after a flag, and `sha256:` the digest for `sha256:<digest>`.
 */
export function npmArgv(args: string, placeholders: Record<string, string> = {}): string[] {
  const filled = args
    .replace(/sha256:<[^>]+>/g, placeholders['sha256:'] ?? `sha256:${'a'.repeat(64)}`)
    .replace(/<stage>/g, 'staging')
    .replace(/\$\(date \+%s\)/g, '1764583200');
  const tokens = filled.match(/<[^>]+>|'[^']*'|"[^"]*"|\S+/g) ?? [];
  const values = { ...NPM_PLACEHOLDERS, ...placeholders };
  return tokens.map((t, i) => (t.startsWith('<') ? (values[tokens[i - 1]] ?? 'x') : t.replace(/^'(.*)'$/, '$1').replace(/^"(.*)"$/, '$1')));
}

/**
 * A synopsis (`--stage STAGE [--yes]`, or `--from-dump ...` with its values left out) documents a
 * command's form; it is not a command to run. Quoted values (`--reason "INC-42: check locks"`) are
 * the command's own.
 */
export const isSynopsis = (args: string) => /\[|\b[A-Z]{2,}\b|\.\.\./.test(args.replace(/'[^']*'|"[^"]*"/g, "''"));

export interface AwsCommand {
  readonly file: string;
  readonly lineNumber: number;
  /** The command as the docs show it, continuation lines joined. */
  readonly text: string;
  /** The words after `aws`, unquoted, placeholders left as written (`<arn>`). */
  readonly argv: string[];
  /** False for a mention (`aws ecs describe-services`) or a command with parts left out (`...`): its required options are not all there. */
  readonly complete: boolean;
}

/** One shell word: quoted parts, a placeholder with spaces (`<AuthToken secret ARN>`) and plain characters. */
const WORD = /(?:'[^']*'|"[^"]*"|<[^>\n]*>|[^\s'"<])+/g;
/** What ends a command inside a shell line. */
const SEPARATORS = new Set(['|', '||', '&&', ';', 'do', 'done', 'then', 'fi']);

const unquote = (word: string) => word.replace(/'([^']*)'|"([^"]*)"/g, (_, single, double) => single ?? double);

/** The `aws ...` commands of one shell line (a pipeline, a loop's body, a command after `xargs`). */
function awsIn(line: string): { argv: string[]; complete: boolean }[] {
  // A command substitution ($(date -u +%Y-%m-01)) or an arithmetic expansion ($(( $(date +%s) - 3600 )),
  // innermost first) is one value to the command around it.
  let expanded = line;
  for (let before = ''; before !== expanded; ) {
    before = expanded;
    expanded = expanded.replace(/\$\(\([^()]*\)\)|\$\([^()]*\)/g, 'X');
  }
  const words = (expanded.match(WORD) ?? []).flatMap((w) => (w.endsWith(';') && w.length > 1 ? [w.slice(0, -1), ';'] : [w]));
  const found: { argv: string[]; complete: boolean }[] = [];
  for (let i = 0; i < words.length; i++) {
    // Prose puts a command in parentheses: "(aws ecr get-login-password ...)".
    if (!/^\(?aws$/.test(words[i]) || !/^[a-z][a-z0-9-]*$/.test(words[i + 1] ?? '')) continue;
    const argv: string[] = [];
    for (i++; i < words.length && !SEPARATORS.has(words[i]) && !words[i].startsWith('#'); i++) {
      // In prose ("... (aws ecs describe-services shows the progress)", "aws x y --z, then ...",
      // "aws x y --z (which ...)") a parenthesis or a comma ends the command.
      if (words[i].startsWith('(')) break;
      const end = /^([^(]*?)(\)[.,;:]?|,)$/.exec(words[i]);
      if (end) {
        if (end[1]) argv.push(unquote(end[1]));
        break;
      }
      argv.push(unquote(words[i]));
    }
    // A mention ("aws ecs describe-services", "aws ecs describe-services shows ...") gives no options to hold to the operation's required ones.
    found.push({ argv: argv.filter((w) => w !== '...'), complete: (argv[2] ?? '').startsWith('--') && !argv.includes('...') });
  }
  return found;
}

/** A template literal's substitutions (`${...}`, nested braces and all) as one word. */
function substituted(line: string): string {
  let out = '';
  for (let i = 0; i < line.length; i++) {
    if (line[i] !== '$' || line[i + 1] !== '{') {
      out += line[i];
      continue;
    }
    let depth = 0;
    for (i++; i < line.length; i++) {
      if (line[i] === '{') depth++;
      else if (line[i] === '}' && --depth === 0) break;
    }
    out += 'X';
  }
  return out;
}

/** The operator scripts' sources (scripts/*.ts and scripts/lib/*.ts). */
export const scriptTexts = (): DocText[] =>
  ['scripts', join('scripts', 'lib')].flatMap((dir) =>
    readdirSync(join(PROJECT_ROOT, dir))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => ({ file: join(dir, f), text: readFileSync(join(PROJECT_ROOT, dir, f), 'utf8') })),
  );

/**
 * The contents of a line's string literals ('...', "..." and `...`, escapes undone), each to its
 * own closing quote, so a shell's quotes inside a template literal (`--query '${q}'`) stay in
 * it. A literal still open at the line's end runs to it.
 */
function literals(line: string): string[] {
  const found: string[] = [];
  let quote: string | undefined;
  let text = '';
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quote === undefined) {
      if (ch === "'" || ch === '"' || ch === '`') [quote, text] = [ch, ''];
    } else if (ch === '\\') text += line[++i] ?? '';
    else if (ch === quote) {
      found.push(text);
      quote = undefined;
    } else text += ch;
  }
  if (quote !== undefined) found.push(text);
  return found;
}

/**
 * The `aws ...` commands the operator scripts print (scripts/*.ts and scripts/lib/*.ts): each
 * `aws SERVICE OPERATION` in a string literal, up to the literal's end or a backtick in it (the
 * end of a shell command substitution), substitutions filled with `X`.
 */
export function scriptAwsCommands(texts: readonly DocText[] = scriptTexts()): AwsCommand[] {
  return texts.flatMap(({ file, text }) =>
    text.split('\n').flatMap((line, i) => {
      if (/^\s*(\*|\/\/)/.test(line)) return [];
      return literals(substituted(line)).flatMap((literal) =>
        [...literal.matchAll(/\baws [a-z][a-z0-9-]* [a-z][^`]*/g)].flatMap((m) => awsIn(m[0]).map((command) => ({ file, lineNumber: i + 1, text: m[0], ...command }))),
      );
    }),
  );
}

/**
 * Every `aws SERVICE OPERATION ...` the docs show: in code blocks (a `\` continues a line) and in
 * inline code spans (which may wrap across a line). A bare mention (`aws ecs describe-services`)
 * counts too: its operation must exist.
 */
export function awsCommands(texts: readonly DocText[] = docTexts()): AwsCommand[] {
  const found: AwsCommand[] = [];
  for (const { file, text } of texts) {
    const blocks = [...text.matchAll(/^( *)```[^\n]*\n([\s\S]*?)^ *```/gm)];
    for (const block of blocks) {
      const start = lineOf(text, block.index) + 1;
      const lines = block[2].split('\n');
      for (let i = 0; i < lines.length; i++) {
        let joined = lines[i];
        const first = i;
        while (joined.endsWith('\\') && i + 1 < lines.length) joined = `${joined.slice(0, -1)} ${lines[++i].trim()}`;
        for (const command of awsIn(joined)) found.push({ file, lineNumber: start + first, text: joined.trim(), ...command });
      }
    }
    // Inline spans, outside the code blocks (blanked with their line breaks kept, so offsets stay).
    const prose = text.replace(/^( *)```[^\n]*\n([\s\S]*?)^ *```/gm, (block) => block.replace(/[^\n]/g, ' '));
    for (const span of prose.matchAll(/`([^`]+)`/g)) {
      const code = span[1].replace(/\s*\n\s*/g, ' ');
      if (!code.startsWith('aws ')) continue;
      for (const command of awsIn(code)) found.push({ file, lineNumber: lineOf(text, span.index), text: code, ...command });
    }
  }
  return found;
}
