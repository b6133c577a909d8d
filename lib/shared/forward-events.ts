import { Stack, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type { Construct } from 'constructs';

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
  const rule = new events.Rule(scope, id, { description: props.description, eventPattern: props.eventPattern, targets: [new targets.EventBus(bus)] });
  const policy = rule.node.tryFindChild('EventsRole')?.node.tryFindChild('DefaultPolicy');
  if (policy) {
    Validations.of(policy).acknowledge({
      id: 'NIST.800.53.R5-IAMNoInlinePolicy',
      reason: `The forwarding rule's role: one grant, PutEvents on the default bus of ${props.toRegion}, written by CDK inline.`,
    });
  }
  return rule;
}
