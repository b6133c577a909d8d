import { Annotations } from 'aws-cdk-lib';
import * as budgets from 'aws-cdk-lib/aws-budgets';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';

export interface BudgetProps {
  /** Budget name, e.g. "prod-monthly". */
  readonly name: string;
  readonly monthlyUsd: number;
  /** Addresses notified directly by AWS Budgets (at most 10). */
  readonly emails: readonly string[];
  /** Notified instead when there are no emails, so HTTPS subscribers still hear of it. */
  readonly topic: sns.ITopic;
}

/** Budget notifications: 80% of the budget actually spent, 100% forecast for the month. */
export const BUDGET_NOTIFICATIONS = [
  { notificationType: 'ACTUAL', threshold: 80 },
  { notificationType: 'FORECASTED', threshold: 100 },
] as const;

/**
 * Defines the stage's monthly cost budget in USD. It covers the whole account: each stage has its
 * own account (lib/config/stages.ts), so the account's bill is the stage's bill, including what
 * tags miss (data transfer, NAT, support). Emails are notified directly; the alarm topic is used
 * when the stage has none.
 */
export class Budget extends Construct {
  readonly budget: budgets.CfnBudget;

  constructor(scope: Construct, id: string, props: BudgetProps) {
    super(scope, id);
    const subscribers =
      props.emails.length > 0 ? props.emails.map((address) => ({ subscriptionType: 'EMAIL', address })) : [{ subscriptionType: 'SNS', address: props.topic.topicArn }];
    if (props.emails.length === 0) {
      Annotations.of(this).addInfo(`Budget ${props.name} notifies the alarm topic: the stage lists no alarms.emails.`);
    }
    this.budget = new budgets.CfnBudget(this, 'Budget', {
      budget: {
        budgetName: props.name,
        budgetType: 'COST',
        timeUnit: 'MONTHLY',
        budgetLimit: { amount: props.monthlyUsd, unit: 'USD' },
      },
      notificationsWithSubscribers: BUDGET_NOTIFICATIONS.map(({ notificationType, threshold }) => ({
        notification: { notificationType, comparisonOperator: 'GREATER_THAN', threshold, thresholdType: 'PERCENTAGE' },
        subscribers,
      })),
    });
  }
}
