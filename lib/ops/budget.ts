import * as budgets from 'aws-cdk-lib/aws-budgets';
import { Construct } from 'constructs';
import type { AlarmRoutes, Severity } from '../shared/alarm-set';

export interface BudgetProps {
  /** Budget name, e.g. "prod-monthly". */
  readonly name: string;
  readonly monthlyUsd: number;
  /** Addresses notified directly by AWS Budgets, of every notification (at most 10: AWS Budgets' limit). */
  readonly emails: readonly string[];
  /** The stage's routes in the budget's region: the paging topic gets the notifications that page. */
  readonly routes: AlarmRoutes;
}

/**
 * Budget notifications: 80% of the budget actually spent is a ticket; the whole budget spent, or
 * forecast to be by the month's end, pages (money keeps going out at night too).
 */
export const BUDGET_NOTIFICATIONS: readonly { notificationType: 'ACTUAL' | 'FORECASTED'; threshold: number; severity: Severity }[] = [
  { notificationType: 'ACTUAL', threshold: 80, severity: 'ticket' },
  { notificationType: 'ACTUAL', threshold: 100, severity: 'page' },
  { notificationType: 'FORECASTED', threshold: 100, severity: 'page' },
];

/**
 * Defines the stage's monthly cost budget in USD. It covers the whole account: each stage has its
 * own account (lib/config/stages.ts), so the account's bill is the stage's bill, including what
 * tags miss (data transfer, NAT, support). A notification takes one SNS topic and at most 10
 * emails (AWS Budgets' limit, which alarms.emails keeps to): every notification mails the ticket
 * route's addresses directly; one that pages goes to the paging topic too, and a ticket goes to
 * the ticket topic when there are no addresses, so its Slack channel still hears of it.
 */
export class Budget extends Construct {
  readonly budget: budgets.CfnBudget;

  constructor(scope: Construct, id: string, props: BudgetProps) {
    super(scope, id);
    const emails = props.emails.map((address) => ({ subscriptionType: 'EMAIL', address }));
    const topic = (severity: Severity) => (severity === 'page' ? props.routes.page : emails.length === 0 ? props.routes.ticket : undefined);
    this.budget = new budgets.CfnBudget(this, 'Budget', {
      budget: {
        budgetName: props.name,
        budgetType: 'COST',
        timeUnit: 'MONTHLY',
        budgetLimit: { amount: props.monthlyUsd, unit: 'USD' },
      },
      notificationsWithSubscribers: BUDGET_NOTIFICATIONS.map(({ notificationType, threshold, severity }) => {
        const sns = topic(severity);
        return {
          notification: { notificationType, comparisonOperator: 'GREATER_THAN', threshold, thresholdType: 'PERCENTAGE' },
          subscribers: [...emails, ...(sns ? [{ subscriptionType: 'SNS', address: sns.topicArn }] : [])],
        };
      }),
    });
  }
}
