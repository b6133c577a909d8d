import * as iam from 'aws-cdk-lib/aws-iam';

/**
 * `cloudwatch:PutMetricData` held to one namespace. The action has no resource-level permissions,
 * so `Resource: *` is unavoidable and the namespace condition is the only bound: a role may then
 * publish its own metrics and cannot forge another tier's (an alarm's input).
 */
export function publishMetricsStatement(sid: string, namespace: string): iam.PolicyStatement {
  return new iam.PolicyStatement({ sid, actions: ['cloudwatch:PutMetricData'], resources: ['*'], conditions: { StringEquals: { 'cloudwatch:namespace': namespace } } });
}

/** Why the statement above may name `*` (cdk-nag's AwsSolutions-IAM5 acknowledgement). */
export function publishMetricsReason(namespace: string): string {
  return `cloudwatch:PutMetricData has no resource-level permissions; the cloudwatch:namespace condition holds it to ${namespace}.`;
}
