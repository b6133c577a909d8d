import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { type LogSettings, stageLogGroup } from './log-group';

export interface WafProps extends LogSettings {
  /** Web ACL name, unique in the account and region. */
  readonly name: string;
  /** ARN of the load balancer to protect. */
  readonly loadBalancerArn: string;
  /** Requests one client IP may make in 5 minutes before it is blocked. */
  readonly rateLimitPer5Min: number;
}

/** AWS managed rule groups, in evaluation order after the rate limit. */
export const MANAGED_RULE_GROUPS = [
  'AWSManagedRulesAmazonIpReputationList',
  'AWSManagedRulesCommonRuleSet',
  'AWSManagedRulesKnownBadInputsRuleSet',
  'AWSManagedRulesSQLiRuleSet',
] as const;

/**
 * Defines a regional WAF web ACL on the load balancer: a per-IP rate limit, then AWS managed
 * rules for IP reputation, common exploits, known bad inputs and SQL injection. Requests are
 * logged to a CloudWatch log group (the name must start with `aws-waf-logs-`).
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

    this.metricName = metric('web-acl').metricName;
    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      // Named and with fixed metric names, so alarms and dashboards in other stacks know its
      // metrics' dimension without a reference.
      name: props.name,
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: metric('web-acl'),
      rules: [
        {
          name: 'rate-limit-per-ip',
          priority: 0,
          action: { block: {} },
          statement: { rateBasedStatement: { limit: props.rateLimitPer5Min, aggregateKeyType: 'IP', evaluationWindowSec: 300 } },
          visibilityConfig: metric('rate-limit'),
        },
        ...MANAGED_RULE_GROUPS.map((name, index) => ({
          name,
          priority: index + 1,
          overrideAction: { none: {} },
          statement: { managedRuleGroupStatement: { vendorName: 'AWS', name } },
          visibilityConfig: metric(name),
        })),
      ],
    });
    new wafv2.CfnWebACLAssociation(this, 'Association', { resourceArn: props.loadBalancerArn, webAclArn: this.webAcl.attrArn });

    const logGroup = stageLogGroup(this, 'Logs', props, `aws-waf-logs-${stackName}`);
    new wafv2.CfnLoggingConfiguration(this, 'Logging', {
      resourceArn: this.webAcl.attrArn,
      logDestinationConfigs: [Stack.of(this).formatArn({ service: 'logs', resource: 'log-group', resourceName: logGroup.logGroupName, arnFormat: ArnFormat.COLON_RESOURCE_NAME })],
    });
  }
}
