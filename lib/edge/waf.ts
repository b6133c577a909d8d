import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import type { WAF_BODY_INSPECTION_KB } from '../config';
import { type LogSettings, stageLogGroup } from '../shared/log-group';

/** The rules of the web ACL that are the stage's to set (`app.waf*`), the same wherever it sits. */
export interface WafRules {
  /** Requests one client IP may make in 5 minutes before it is blocked. */
  readonly rateLimitPer5Min: number;
  /** URL path prefixes of sign-in, sign-up and password reset: a tighter per-IP limit there. */
  readonly authPaths: readonly string[];
  readonly authRateLimitPer5Min: number;
  /**
   * URL paths that may receive bodies over 8 KB (uploads), compared with the request's path byte
   * for byte: `/api/uploads` exempts neither `/api/uploads-evil` nor `/api/uploads/../admin` nor an
   * encoded spelling of itself.
   */
  readonly largeBodyPaths: readonly string[];
  /**
   * Let Next.js Server Action requests carry bodies over 8 KB, up to what the web ACL inspects
   * whole (`bodyInspectionLimitKb`): a POST whose `Next-Action` header is an action id.
   */
  readonly inspectServerActions: boolean;
  /**
   * KB of a body CloudFront hands the web ACL (CLOUDFRONT only: a load balancer hands 8 KB, fixed,
   * and this is ignored).
   * A Server Action body must fit in it whole, so no part of it goes uninspected.
   * @default 16 (what AWS charges nothing extra for)
   */
  readonly bodyInspectionLimitKb?: BodyInspectionLimitKb;
  /** Request headers (lower case) never written to the logs, besides cookie and authorization. */
  readonly redactedHeaders: readonly string[];
}

export interface WafProps extends WafRules, LogSettings {
  /** Web ACL name, unique in the account and region. */
  readonly name: string;
  /**
   * REGIONAL: on the load balancer `loadBalancerArn`, in its region. CLOUDFRONT: for a
   * distribution, which names the web ACL itself (the stack must be in us-east-1).
   */
  readonly scope: 'REGIONAL' | 'CLOUDFRONT';
  /** ARN of the load balancer to protect (REGIONAL only). */
  readonly loadBalancerArn?: string;
}

/** AWS managed rule groups, in evaluation order. */
export const MANAGED_RULE_GROUPS = [
  'AWSManagedRulesAmazonIpReputationList',
  'AWSManagedRulesCommonRuleSet',
  'AWSManagedRulesKnownBadInputsRuleSet',
  'AWSManagedRulesSQLiRuleSet',
] as const;

/** Headers whose values never reach the WAF logs. */
export const ALWAYS_REDACTED = ['cookie', 'authorization'] as const;

/**
 * The header of CVE-2025-29927 (Next.js middleware bypass). WAF sees only the first 8 KB and 200
 * of a request's headers (AWS WAF Developer Guide, "Oversize web request components"), so filler
 * headers carry this one past any rule (MATCH instead of CONTINUE
 * would block every viewer with large cookies); the viewer-request function removes it at the
 * edge, where no such limit applies (lib/edge/viewer-request.ts), and the rule stays as a second layer.
 */
export const MIDDLEWARE_SUBREQUEST_HEADER = 'x-middleware-subrequest';

/** The label the common rule set's body-size rule adds to bodies over 8 KB (its action is overridden to count). */
export const BODY_SIZE_LABEL = 'awswaf:managed:aws:core-rule-set:SizeRestrictions_Body';

/** KB of a body CloudFront can hand a web ACL. */
export type BodyInspectionLimitKb = (typeof WAF_BODY_INSPECTION_KB)[number];

/** Bytes of a body a load balancer hands its web ACL: fixed, and the body-size label's own threshold. */
export const REGIONAL_BODY_INSPECTION_BYTES = 8 * 1024;

/**
 * A Next.js Server Action id as the client sends it in `Next-Action`: lower-case hex of a SHA-1
 * (20 bytes, 40 characters: Next.js 13 and 14), or, since Next.js 15, of one flag byte (cache
 * function, arguments used) followed by that SHA-1, 42 characters
 * (vercel/next.js, crates/next-custom-transforms/src/transforms/server_actions.rs,
 * generate_server_reference_id). Both: the CVE-2025-29927 fix reached 14.2.25 as well as 15.2.3.
 */
export const SERVER_ACTION_ID_PATTERN = '^([0-9a-f]{40}|[0-9a-f]{42})$';

type Statement = wafv2.CfnWebACL.StatementProperty;

/** True when the request carries header `name` (any value). */
function hasHeader(name: string): Statement {
  return {
    byteMatchStatement: {
      fieldToMatch: { headers: { matchPattern: { includedHeaders: [name] }, matchScope: 'KEY', oversizeHandling: 'CONTINUE' } },
      positionalConstraint: 'EXACTLY',
      searchString: name,
      textTransformations: [{ priority: 0, type: 'LOWERCASE' }],
    },
  };
}

/** A byte match on `field` as the request carries it, without any text transformation. */
function untransformedMatch(field: Record<string, unknown>, positionalConstraint: 'EXACTLY' | 'STARTS_WITH', searchString: string): Statement {
  return { byteMatchStatement: { fieldToMatch: field, positionalConstraint, searchString, textTransformations: [{ priority: 0, type: 'NONE' }] } };
}

function pathStartsWith(prefix: string): Statement {
  return untransformedMatch({ uriPath: {} }, 'STARTS_WITH', prefix);
}

/**
 * True when the request's path is `path`, byte for byte. No transformation: decoding or
 * normalising here would exempt spellings ("/api/uploads/../admin", "%2e%2e") the app may route
 * elsewhere; the configured paths are normalised, so the spelling a client sends is the only one.
 */
function pathIs(path: string): Statement {
  return untransformedMatch({ uriPath: {} }, 'EXACTLY', path);
}

/**
 * A Server Action request whose body the web ACL sees whole: a POST, a `Next-Action` header of an
 * action id, and at most `maxBodyBytes` (a larger body matches the size test through its oversize
 * handling, as WAF cannot measure past what it is handed).
 */
function serverActionWithin(maxBodyBytes: number): Statement {
  return {
    andStatement: {
      statements: [
        untransformedMatch({ method: {} }, 'EXACTLY', 'POST'),
        {
          regexMatchStatement: {
            fieldToMatch: { singleHeader: { Name: 'next-action' } },
            regexString: SERVER_ACTION_ID_PATTERN,
            textTransformations: [{ priority: 0, type: 'NONE' }],
          },
        },
        {
          notStatement: {
            statement: {
              sizeConstraintStatement: {
                fieldToMatch: { body: { oversizeHandling: 'MATCH' } },
                comparisonOperator: 'GT',
                size: maxBodyBytes,
                textTransformations: [{ priority: 0, type: 'NONE' }],
              },
            },
          },
        },
      ],
    },
  };
}

/** Any of `statements` (WAF needs two or more for an OR). */
function anyOf(statements: Statement[]): Statement {
  return statements.length === 1 ? statements[0] : { orStatement: { statements } };
}

/**
 * Defines a WAF web ACL on the load balancer (regional) or for the CloudFront distribution in
 * front of it (CLOUDFRONT scope, in us-east-1), fitted to a Next.js app:
 * 1. block requests carrying `x-middleware-subrequest` (CVE-2025-29927: the header skips
 *    Next.js middleware, authentication included, on unpatched versions) within the 8 KB of
 *    headers WAF sees; behind CloudFront the viewer-request function removes it from the rest;
 * 2. a per-IP rate limit, and a tighter one on the authentication paths;
 * 3. AWS managed rules: IP reputation, the common rule set, known bad inputs, SQL injection.
 *    The common rule set's SizeRestrictions_BODY (bodies over 8 KB) only counts, and a rule of
 *    ours blocks what it labels except on the exact upload paths and on Server Action POSTs whose
 *    body the web ACL inspects whole (CloudFront hands it `bodyInspectionLimitKb`; a load balancer
 *    8 KB, so there Server Actions keep the 8 KB limit). A padded body elsewhere cannot push an
 *    attack past what the managed rules read.
 * Logs go to a CloudWatch log group (its name must start with `aws-waf-logs-`): only BLOCK and
 * COUNT decisions, with cookie, authorization and the configured API-key headers redacted.
 *
 * It lives with the edge, where a stage serving through CloudFront has its web ACL (and where the
 * viewer-request function takes the middleware header out of what WAF cannot see). A stage without
 * CloudFront puts the same rules on its load balancer: the app stack builds this construct with
 * REGIONAL scope, so the rules are written once for both places.
 */
export class Waf extends Construct {
  readonly webAcl: wafv2.CfnWebACL;
  /**
   * The web ACL's metric name, which WAF publishes as the WebACL dimension of its metrics (not
   * its name: an alarm on the name would watch a metric that never exists).
   */
  readonly metricName: string;

  constructor(scope: Construct, id: string, props: WafProps) {
    super(scope, id);
    const { stackName } = Stack.of(this);
    const metric = (name: string) => ({ cloudWatchMetricsEnabled: true, sampledRequestsEnabled: true, metricName: `${stackName}-${name}` });
    const managed = (name: (typeof MANAGED_RULE_GROUPS)[number], priority: number, extra: Partial<wafv2.CfnWebACL.ManagedRuleGroupStatementProperty> = {}) => ({
      name,
      priority,
      overrideAction: { none: {} },
      statement: { managedRuleGroupStatement: { vendorName: 'AWS', name, ...extra } },
      visibilityConfig: metric(name),
    });
    const inspectedBytes = props.scope === 'CLOUDFRONT' ? (props.bodyInspectionLimitKb ?? 16) * 1024 : REGIONAL_BODY_INSPECTION_BYTES;
    // Past the label's own 8 KB threshold only: at 8 KB inspected, no Server Action body over 8 KB could be seen whole.
    const serverActions = props.inspectServerActions && inspectedBytes > REGIONAL_BODY_INSPECTION_BYTES ? [serverActionWithin(inspectedBytes)] : [];
    const largeBodiesAllowed = [...props.largeBodyPaths.map(pathIs), ...serverActions];

    this.metricName = metric('web-acl').metricName;
    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      // Named and with fixed metric names, so alarms and dashboards in other stacks know its
      // metrics' dimension without a reference.
      name: props.name,
      scope: props.scope,
      defaultAction: { allow: {} },
      visibilityConfig: metric('web-acl'),
      // KB_16 (free) to KB_64; AWS charges only requests whose body is over 16 KB, per further 16 KB
      // (AWS WAF Developer Guide, "Managing body inspection size limits").
      ...(props.scope === 'CLOUDFRONT' ? { associationConfig: { requestBody: { CLOUDFRONT: { defaultSizeInspectionLimit: `KB_${inspectedBytes / 1024}` } } } } : {}),
      rules: [
        {
          name: 'block-middleware-subrequest',
          priority: 0,
          action: { block: {} },
          statement: hasHeader(MIDDLEWARE_SUBREQUEST_HEADER),
          visibilityConfig: metric('middleware-subrequest'),
        },
        {
          name: 'rate-limit-per-ip',
          priority: 1,
          action: { block: {} },
          statement: { rateBasedStatement: { limit: props.rateLimitPer5Min, aggregateKeyType: 'IP', evaluationWindowSec: 300 } },
          visibilityConfig: metric('rate-limit'),
        },
        {
          name: 'auth-rate-limit-per-ip',
          priority: 2,
          action: { block: {} },
          statement: {
            rateBasedStatement: {
              limit: props.authRateLimitPer5Min,
              aggregateKeyType: 'IP',
              evaluationWindowSec: 300,
              scopeDownStatement: anyOf(props.authPaths.map(pathStartsWith)),
            },
          },
          visibilityConfig: metric('auth-rate-limit'),
        },
        managed('AWSManagedRulesAmazonIpReputationList', 3),
        managed('AWSManagedRulesCommonRuleSet', 4, { ruleActionOverrides: [{ name: 'SizeRestrictions_BODY', actionToUse: { count: {} } }] }),
        {
          name: 'large-bodies-only-where-allowed',
          priority: 5,
          action: { block: {} },
          statement:
            largeBodiesAllowed.length === 0
              ? { labelMatchStatement: { scope: 'LABEL', key: BODY_SIZE_LABEL } }
              : { andStatement: { statements: [{ labelMatchStatement: { scope: 'LABEL', key: BODY_SIZE_LABEL } }, { notStatement: { statement: anyOf(largeBodiesAllowed) } }] } },
          visibilityConfig: metric('large-body'),
        },
        managed('AWSManagedRulesKnownBadInputsRuleSet', 6),
        managed('AWSManagedRulesSQLiRuleSet', 7),
      ],
    });
    if (props.scope === 'REGIONAL') {
      if (!props.loadBalancerArn) throw new Error('A regional web ACL protects a load balancer: pass loadBalancerArn.');
      new wafv2.CfnWebACLAssociation(this, 'Association', { resourceArn: props.loadBalancerArn, webAclArn: this.webAcl.attrArn });
    }

    const logGroup = stageLogGroup(this, 'Logs', props, `aws-waf-logs-${stackName}`);
    new wafv2.CfnLoggingConfiguration(this, 'Logging', {
      resourceArn: this.webAcl.attrArn,
      logDestinationConfigs: [Stack.of(this).formatArn({ service: 'logs', resource: 'log-group', resourceName: logGroup.logGroupName, arnFormat: ArnFormat.COLON_RESOURCE_NAME })],
      // SingleHeader and the filter are untyped in the L1 construct: CloudFormation's casing.
      redactedFields: [...ALWAYS_REDACTED, ...props.redactedHeaders].map((name) => ({ singleHeader: { Name: name } })),
      loggingFilter: {
        DefaultBehavior: 'DROP',
        Filters: [
          {
            Behavior: 'KEEP',
            Requirement: 'MEETS_ANY',
            Conditions: [{ ActionCondition: { Action: 'BLOCK' } }, { ActionCondition: { Action: 'COUNT' } }, { ActionCondition: { Action: 'EXCLUDED_AS_COUNT' } }],
          },
        ],
      },
    });
  }
}
