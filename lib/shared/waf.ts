import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import type { StageConfig } from '../config';
import { type LogSettings, stageLogGroup } from './log-group';

export interface WafProps extends LogSettings {
  /** Web ACL name, unique in the account and region. */
  readonly name: string;
  /**
   * REGIONAL: on the load balancer `loadBalancerArn`, in its region. CLOUDFRONT: for a
   * distribution, which names the web ACL itself (the stack must be in us-east-1).
   */
  readonly scope: 'REGIONAL' | 'CLOUDFRONT';
  /** ARN of the load balancer to protect (REGIONAL only). */
  readonly loadBalancerArn?: string;
  /** Requests one client IP may make in 5 minutes before it is blocked. */
  readonly rateLimitPer5Min: number;
  /** URL path prefixes of sign-in, sign-up and password reset: a tighter per-IP limit there. */
  readonly authPaths: readonly string[];
  readonly authRateLimitPer5Min: number;
  /** URL path prefixes that may receive bodies over 8 KB (uploads). */
  readonly largeBodyPaths: readonly string[];
  /** Let Next.js Server Action requests (header `Next-Action`) carry bodies over 8 KB. */
  readonly inspectServerActions: boolean;
  /** Request headers (lower case) never written to the logs, besides cookie and authorization. */
  readonly redactedHeaders: readonly string[];
}

/** The stage's WAF settings (`app.waf*`) as the web ACL takes them, wherever it sits. */
export function wafSettings(
  app: StageConfig['app'],
): Pick<WafProps, 'rateLimitPer5Min' | 'authPaths' | 'authRateLimitPer5Min' | 'largeBodyPaths' | 'inspectServerActions' | 'redactedHeaders'> {
  return {
    rateLimitPer5Min: app.wafRateLimitPer5Min,
    authPaths: app.wafAuthPaths,
    authRateLimitPer5Min: app.wafAuthRateLimitPer5Min,
    largeBodyPaths: app.wafLargeBodyPaths,
    inspectServerActions: app.wafServerActions,
    redactedHeaders: app.wafRedactedHeaders,
  };
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

/** The header of CVE-2025-29927 (Next.js middleware bypass); WAF cannot strip it, so requests with it are blocked. */
export const MIDDLEWARE_SUBREQUEST_HEADER = 'x-middleware-subrequest';

/** The label the common rule set's body-size rule adds (its action is overridden to count). */
export const BODY_SIZE_LABEL = 'awswaf:managed:aws:core-rule-set:SizeRestrictions_Body';

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

function pathStartsWith(prefix: string): Statement {
  return { byteMatchStatement: { fieldToMatch: { uriPath: {} }, positionalConstraint: 'STARTS_WITH', searchString: prefix, textTransformations: [{ priority: 0, type: 'NONE' }] } };
}

/** Any of `statements` (WAF needs two or more for an OR). */
function anyOf(statements: Statement[]): Statement {
  return statements.length === 1 ? statements[0] : { orStatement: { statements } };
}

/**
 * Defines a WAF web ACL on the load balancer (regional) or for the CloudFront distribution in
 * front of it (CLOUDFRONT scope, in us-east-1), fitted to a Next.js app:
 * 1. block requests carrying `x-middleware-subrequest` (CVE-2025-29927: the header skips
 *    Next.js middleware, authentication included, on unpatched versions);
 * 2. a per-IP rate limit, and a tighter one on the authentication paths;
 * 3. AWS managed rules: IP reputation, the common rule set, known bad inputs, SQL injection.
 *    The common rule set's SizeRestrictions_BODY (bodies over 8 KB) only counts, and a rule of
 *    ours blocks what it labels except on the upload paths and Server Action requests, so uploads
 *    and Server Actions work while every other path keeps the limit.
 * Logs go to a CloudWatch log group (its name must start with `aws-waf-logs-`): only BLOCK and
 * COUNT decisions, with cookie, authorization and the configured API-key headers redacted.
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
    const largeBodiesAllowed = [...props.largeBodyPaths.map(pathStartsWith), ...(props.inspectServerActions ? [hasHeader('next-action')] : [])];

    this.metricName = metric('web-acl').metricName;
    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      // Named and with fixed metric names, so alarms and dashboards in other stacks know its
      // metrics' dimension without a reference.
      name: props.name,
      scope: props.scope,
      defaultAction: { allow: {} },
      visibilityConfig: metric('web-acl'),
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
