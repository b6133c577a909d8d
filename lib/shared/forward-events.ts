import { Stack, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { servicePrincipalOfThisAccount } from './service-trust';

/**
 * An EventBridge rule that forwards each matching event to the default event bus of `toRegion` in
 * the same account, where the stage's ops stack matches it again: AWS services deliver their events
 * (CloudTrail's API calls, GuardDuty findings) only to the bus of the region they happen in.
 */
export function forwardingRule(
  scope: Construct,
  id: string,
  props: { readonly description: string; readonly eventPattern: events.EventPattern; readonly toRegion: string },
): events.Rule {
  const { partition, account } = Stack.of(scope);
  const bus = events.EventBus.fromEventBusArn(scope, `${id}Bus`, `arn:${partition}:events:${props.toRegion}:${account}:event-bus/default`);
  const rule = new events.Rule(scope, id, { description: props.description, eventPattern: props.eventPattern });
  // The role CDK would create for the target, at the same path (so the same logical id), but
  // trusting EventBridge only for this account's rules: EventBridge documents aws:SourceAccount
  // (and the rule's ARN as aws:SourceArn) when it assumes a target's role.
  const role = new iam.Role(rule, 'EventsRole', { assumedBy: servicePrincipalOfThisAccount(scope, 'events.amazonaws.com') });
  rule.addTarget(new targets.EventBus(bus, { role }));
  const policy = role.node.tryFindChild('DefaultPolicy');
  if (policy) {
    Validations.of(policy).acknowledge({
      id: 'NIST.800.53.R5-IAMNoInlinePolicy',
      reason: `The forwarding rule's role: one grant, PutEvents on the default bus of ${props.toRegion}, written by CDK inline.`,
    });
  }
  return rule;
}
