import { BODY_SIZE_LABEL } from '../../lib/edge/waf';
import type { Json } from './template';

/** A request as the web ACL receives it: the path as sent (not decoded), headers in the order sent. */
export interface WafRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly bodyBytes: number;
}

export interface WafDecision {
  readonly action: 'ALLOW' | 'BLOCK';
  /** The rule that blocked. */
  readonly rule?: string;
}

/** What the host service hands WAF of a request's headers (AWS WAF developer guide, "Oversize web request components"). */
export const WAF_HEADER_BYTES = 8 * 1024;
export const WAF_HEADER_COUNT = 200;
/** The common rule set's SizeRestrictions_BODY threshold: bodies over 8 KB. */
const BODY_SIZE_THRESHOLD = 8 * 1024;

/**
 * Runs a request through a synthesized web ACL's own rules (CloudFormation's casing, as in the
 * template), so a test can send a bypass through the rule logic without AWS. It models, as AWS
 * documents them: ByteMatch (EXACTLY, STARTS_WITH) on UriPath, Method, Headers (KEY scope,
 * IncludedHeaders) and SingleHeader; RegexMatch on SingleHeader; SizeConstraint on Body; And, Or,
 * Not and LabelMatch; the transformations NONE and LOWERCASE; the limits on what WAF sees: the
 * first 8 KB and 200 headers (counted here as `name: value` plus CRLF in the order sent: AWS does
 * not publish its exact accounting) and the body up to the web ACL's inspection limit, with each
 * statement's oversize handling. Header names match case-insensitively, as HTTP defines them.
 *
 * Not modelled: rate-based statements (taken as under their limit), and of the managed rule groups
 * only the common rule set's body-size label (bodies over 8 KB) and its override to count; what the
 * groups' other rules would find in a body is not. Any other statement, field or transformation
 * throws, so a rule this evaluator cannot read never passes silently.
 */
export function evaluateWebAcl(acl: Json, request: WafRequest): WafDecision {
  const scope = acl.Scope as string;
  const limitKb = acl.AssociationConfig?.RequestBody?.CLOUDFRONT?.DefaultSizeInspectionLimit as string | undefined;
  const bodyLimit = scope === 'REGIONAL' ? 8 * 1024 : Number((limitKb ?? 'KB_16').replace('KB_', '')) * 1024;
  const seen = seenHeaders(request.headers);
  const labels = new Set<string>();
  const context: Context = { request, seen, headersOversize: seen.length < request.headers.length, bodyLimit, labels };
  const rules = [...(acl.Rules as Json[])].sort((a, b) => a.Priority - b.Priority);
  for (const rule of rules) {
    const statement = rule.Statement as Json;
    if (statement.RateBasedStatement) continue;
    if (statement.ManagedRuleGroupStatement) {
      const group = statement.ManagedRuleGroupStatement;
      if (group.Name === 'AWSManagedRulesCommonRuleSet' && request.bodyBytes > BODY_SIZE_THRESHOLD) {
        const counted = (group.RuleActionOverrides ?? []).some((o: Json) => o.Name === 'SizeRestrictions_BODY' && o.ActionToUse?.Count);
        if (!counted) return { action: 'BLOCK', rule: rule.Name };
        labels.add(BODY_SIZE_LABEL);
      }
      continue;
    }
    if (matches(statement, context)) {
      if (rule.Action?.Block) return { action: 'BLOCK', rule: rule.Name };
      if (rule.Action?.Allow) return { action: 'ALLOW', rule: rule.Name };
      throw new Error(`rule ${rule.Name}: action ${JSON.stringify(rule.Action)} is not modelled`);
    }
  }
  if (!acl.DefaultAction?.Allow) throw new Error('only a web ACL that allows by default is modelled');
  return { action: 'ALLOW' };
}

interface Context {
  readonly request: WafRequest;
  readonly seen: readonly (readonly [string, string])[];
  readonly headersOversize: boolean;
  readonly bodyLimit: number;
  readonly labels: ReadonlySet<string>;
}

function seenHeaders(headers: WafRequest['headers']): (readonly [string, string])[] {
  const seen: (readonly [string, string])[] = [];
  let bytes = 0;
  for (const header of headers) {
    bytes += Buffer.byteLength(`${header[0]}: ${header[1]}\r\n`);
    if (bytes > WAF_HEADER_BYTES || seen.length === WAF_HEADER_COUNT) break;
    seen.push(header);
  }
  return seen;
}

function transform(value: string, transformations: Json[]): string {
  return [...transformations]
    .sort((a, b) => a.Priority - b.Priority)
    .reduce((v: string, t: Json) => {
      if (t.Type === 'NONE') return v;
      if (t.Type === 'LOWERCASE') return v.toLowerCase();
      throw new Error(`text transformation ${t.Type} is not modelled`);
    }, value);
}

function oversize(handling: string, isOversize: boolean, inspect: () => boolean): boolean {
  if (!isOversize || handling === 'CONTINUE') return inspect();
  if (handling === 'MATCH') return true;
  if (handling === 'NO_MATCH') return false;
  throw new Error(`oversize handling ${handling} is not known`);
}

/** Whether a rule statement matches the request, within what WAF sees of it. */
function matches(statement: Json, c: Context): boolean {
  if (statement.AndStatement) return (statement.AndStatement.Statements as Json[]).every((s) => matches(s, c));
  if (statement.OrStatement) return (statement.OrStatement.Statements as Json[]).some((s) => matches(s, c));
  if (statement.NotStatement) return !matches(statement.NotStatement.Statement, c);
  if (statement.LabelMatchStatement) {
    if (statement.LabelMatchStatement.Scope !== 'LABEL') throw new Error('only label keys are modelled');
    return c.labels.has(statement.LabelMatchStatement.Key);
  }
  if (statement.ByteMatchStatement) {
    const s = statement.ByteMatchStatement;
    const test = (value: string) => {
      const v = transform(value, s.TextTransformations);
      if (s.PositionalConstraint === 'EXACTLY') return v === s.SearchString;
      if (s.PositionalConstraint === 'STARTS_WITH') return v.startsWith(s.SearchString);
      throw new Error(`positional constraint ${s.PositionalConstraint} is not modelled`);
    };
    return fieldMatches(s.FieldToMatch, c, test);
  }
  if (statement.RegexMatchStatement) {
    const s = statement.RegexMatchStatement;
    const pattern = new RegExp(s.RegexString);
    return fieldMatches(s.FieldToMatch, c, (value) => pattern.test(transform(value, s.TextTransformations)));
  }
  if (statement.SizeConstraintStatement) {
    const s = statement.SizeConstraintStatement;
    if (!s.FieldToMatch.Body) throw new Error('only body size constraints are modelled');
    const size = Math.min(c.request.bodyBytes, c.bodyLimit);
    const compare: Record<string, (a: number, b: number) => boolean> = {
      GT: (a, b) => a > b,
      GE: (a, b) => a >= b,
      LT: (a, b) => a < b,
      LE: (a, b) => a <= b,
      EQ: (a, b) => a === b,
    };
    if (!compare[s.ComparisonOperator]) throw new Error(`comparison ${s.ComparisonOperator} is not modelled`);
    return oversize(s.FieldToMatch.Body.OversizeHandling ?? 'CONTINUE', c.request.bodyBytes > c.bodyLimit, () => compare[s.ComparisonOperator](size, s.Size));
  }
  throw new Error(`statement ${Object.keys(statement).join(', ')} is not modelled`);
}

function fieldMatches(field: Json, c: Context, test: (value: string) => boolean): boolean {
  if (field.UriPath) return test(c.request.path);
  if (field.Method) return test(c.request.method);
  if (field.SingleHeader) {
    // Only what the host service handed WAF: a header past the first 8 KB is not there.
    const header = c.seen.find(([name]) => name.toLowerCase() === field.SingleHeader.Name.toLowerCase());
    return header !== undefined && test(header[1]);
  }
  if (field.Headers) {
    const h = field.Headers;
    if (h.MatchScope !== 'KEY' || !h.MatchPattern.IncludedHeaders) throw new Error('only KEY scope with IncludedHeaders is modelled');
    const included = (h.MatchPattern.IncludedHeaders as string[]).map((n) => n.toLowerCase());
    return oversize(h.OversizeHandling, c.headersOversize, () => c.seen.some(([name]) => included.includes(name.toLowerCase()) && test(name)));
  }
  throw new Error(`field ${Object.keys(field).join(', ')} is not modelled`);
}
