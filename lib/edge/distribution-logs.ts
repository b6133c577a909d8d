import { ArnFormat, Stack } from 'aws-cdk-lib';
import type * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { type LogSettings, stageLogGroup } from '../shared/log-group';

export interface DistributionLogsProps extends LogSettings {
  readonly distribution: cloudfront.IDistribution;
  /** Folder the saved Logs Insights queries appear under ("webapp-prod"), in this region. */
  readonly queryFolder: string;
}

/**
 * Saved Logs Insights queries on the access logs (JSON; a field with a hyphen is quoted in
 * backticks). `edge-5xx`: the 5xx CloudFront answered, by status and detailed result type (an
 * origin error such as `OriginConnectError` or `OriginReadTimeout` means CloudFront could not reach
 * or talk to the load balancer; `Error` is a 5xx the origin answered, or one of CloudFront's own).
 * `edge-5xx-requests`: the requests themselves, with `origin-fbl` (the origin's first-byte
 * latency, empty or "-" when no byte came from the origin) and the request id AWS Support asks for.
 */
export const EDGE_LOG_QUERIES = {
  'edge-5xx': [
    'fields @timestamp, `sc-status`, `x-edge-detailed-result-type`',
    'filter `sc-status` >= 500',
    'stats count() as requests by `sc-status`, `x-edge-detailed-result-type`',
    'sort requests desc',
    'limit 50',
  ].join(' | '),
  'edge-5xx-requests': [
    'fields @timestamp, `sc-status`, `x-edge-detailed-result-type`, `cs-method`, `cs-uri-stem`, `origin-fbl`, `time-taken`, `x-edge-location`, `x-edge-request-id`',
    'filter `sc-status` >= 500',
    'sort @timestamp desc',
    'limit 100',
  ].join(' | '),
} as const;

/**
 * The access-log fields kept: who asked for what, how it was answered, from the cache or not, and
 * how long it took. Named as CloudFront names them (developer guide, "Log file fields"; header
 * fields in parentheses); test/stages/vended-logs.test.ts checks each against the fields CloudFront
 * offers, since a delivery asking for any other fails to create.
 */
export const ACCESS_LOG_FIELDS = [
  'timestamp',
  'c-ip',
  'cs-method',
  'cs-uri-stem',
  'sc-status',
  'sc-bytes',
  'time-taken',
  'time-to-first-byte',
  'x-edge-result-type',
  'x-edge-detailed-result-type',
  'x-edge-location',
  'x-edge-request-id',
  'x-host-header',
  'cs-protocol',
  'cs-protocol-version',
  'ssl-protocol',
  'cs(User-Agent)',
  'cs(Referer)',
  'origin-fbl',
  'origin-lbl',
] as const;

/**
 * Defines the distribution's standard access logs (logging v2, CloudWatch Logs vended delivery):
 * a delivery source on the distribution (CloudFront's sources live in us-east-1, as this stack
 * does), a JSON delivery into an encrypted log group kept for the stage's retention, and the log
 * group policy that lets the delivery service write there for this account's sources only. Query
 * strings and cookies are left out of the fields: they can carry tokens.
 */
export class DistributionLogs extends Construct {
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: DistributionLogsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.logGroup = stageLogGroup(this, 'Logs', props);
    // The group's own ARN, without the ":*" its Arn attribute ends in (which names its streams).
    const groupArn = stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: this.logGroup.logGroupName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const policy = new logs.ResourcePolicy(this, 'DeliveryMayWrite', {
      resourcePolicyName: `${stack.stackName}-access-log-delivery`,
      policyStatements: [
        new iam.PolicyStatement({
          sid: 'VendedAccessLogsOfThisAccount',
          principals: [new iam.ServicePrincipal('delivery.logs.amazonaws.com')],
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [`${groupArn}:log-stream:*`],
          conditions: {
            StringEquals: { 'aws:SourceAccount': stack.account },
            ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'logs', resource: '*', arnFormat: ArnFormat.NO_RESOURCE_NAME }) },
          },
        }),
      ],
    });
    const source = new logs.CfnDeliverySource(this, 'Source', {
      name: `${stack.stackName}-access-logs`,
      logType: 'ACCESS_LOGS',
      resourceArn: props.distribution.distributionArn,
    });
    const destination = new logs.CfnDeliveryDestination(this, 'Destination', {
      name: `${stack.stackName}-access-logs`,
      destinationResourceArn: groupArn,
      outputFormat: 'json',
    });
    destination.node.addDependency(policy);
    const delivery = new logs.CfnDelivery(this, 'Delivery', {
      deliverySourceName: source.name,
      deliveryDestinationArn: destination.attrArn,
      recordFields: [...ACCESS_LOG_FIELDS],
    });
    delivery.node.addDependency(source);
    for (const [name, queryString] of Object.entries(EDGE_LOG_QUERIES)) {
      new logs.CfnQueryDefinition(this, name, { name: `${props.queryFolder}/${name}`, queryString, logGroupNames: [this.logGroup.logGroupName] });
    }
  }
}
