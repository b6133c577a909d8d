import { Stack, Validations } from 'aws-cdk-lib';
import * as chatbot from 'aws-cdk-lib/aws-chatbot';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { AlarmRoutes } from '../shared/alarm-set';
import { acknowledgeAwsManagedPolicy } from '../shared/aws-managed-policy';
import { acknowledgeControl } from '../shared/control-tower-checks';

/**
 * What the channels' members may do at most, whatever a role says (a channel without guardrails
 * runs as administrator): read CloudWatch, as the channels' role; ReadOnlyAccess would let a member
 * who maps a role of their own read S3 objects and logs from the channel.
 */
export const CHANNEL_GUARDRAIL = 'CloudWatchReadOnlyAccess';
/** What the channels' role may do: read CloudWatch, to draw an alarm's graph in the channel. */
export const CHANNEL_ROLE_POLICY = 'CloudWatchReadOnlyAccess';

export interface ChatChannelsProps {
  /** The Slack workspace (authorised once in the console) and a channel per route; a route without a channel gets none. */
  readonly slack: { readonly workspaceId: string; readonly pageChannelId?: string; readonly ticketChannelId?: string };
  readonly routes: AlarmRoutes;
  /** The configurations' names, one per route: unique in the account (the region's topic names). */
  readonly names: { readonly page: string; readonly ticket: string };
  /** Days Chatbot's log group (`/aws/chatbot/<name>`, us-east-1) keeps its entries. */
  readonly logRetention: logs.RetentionDays;
}

/**
 * Slack channels through Amazon Q Developer in chat applications (AWS Chatbot): one channel
 * configuration per route that has a channel, subscribed to that route's topic of this region.
 * Read-only: the guardrail caps every member at CloudWatch's reads, and the channels' role may only read
 * CloudWatch. Errors only are logged, kept for the stage's retention.
 */
export class ChatChannels extends Construct {
  readonly channels: chatbot.SlackChannelConfiguration[] = [];

  constructor(scope: Construct, id: string, props: ChatChannelsProps) {
    super(scope, id);
    const { slack, routes, names } = props;
    const wanted = [
      { id: 'Page', channelId: slack.pageChannelId, topic: routes.page, name: names.page },
      { id: 'Ticket', channelId: slack.ticketChannelId, topic: routes.ticket, name: names.ticket },
    ].filter((c) => c.channelId !== undefined);
    if (wanted.length === 0) return;
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('chatbot.amazonaws.com'),
      description: 'Slack channels of the alarm routes: read CloudWatch to show an alarm, nothing else',
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName(CHANNEL_ROLE_POLICY)],
    });
    acknowledgeAwsManagedPolicy(
      role,
      CHANNEL_ROLE_POLICY,
      "AWS maintains CloudWatch's read-only actions, which Chatbot needs to draw an alarm's graph; the role can do nothing else.",
    );
    const guardrail = iam.ManagedPolicy.fromAwsManagedPolicyName(CHANNEL_GUARDRAIL);
    for (const c of wanted) {
      this.channels.push(
        new chatbot.SlackChannelConfiguration(this, c.id, {
          slackChannelConfigurationName: c.name,
          slackWorkspaceId: slack.workspaceId,
          slackChannelId: c.channelId!,
          notificationTopics: [c.topic],
          role,
          guardrailPolicies: [guardrail],
          loggingLevel: chatbot.LoggingLevel.ERROR,
          logRetention: props.logRetention,
        }),
      );
    }
    acknowledgeLogRetentionFunction(Stack.of(this));
  }
}

/**
 * CDK sets the retention of Chatbot's log group (which Chatbot creates in us-east-1 on its first
 * entry) through one function per stack, run on deploys only; the project cannot shape it.
 */
function acknowledgeLogRetentionFunction(stack: Stack): void {
  const fn = stack.node.tryFindChild('LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a');
  if (!fn) return;
  const findings: Record<string, string> = {
    'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]':
      "CDK's log-retention function writes its own logs with the AWS-maintained basic execution policy.",
    'AwsSolutions-IAM5[Resource::*]':
      "CDK's log-retention function sets the retention of a log group named at deploy time (the chat channels' in us-east-1); CDK writes its grant on all groups.",
    'NIST.800.53.R5-IAMNoInlinePolicy': "CDK writes the log-retention function's grant as an inline policy; the function is CDK's own.",
  };
  for (const [id, reason] of Object.entries(findings)) Validations.of(fn).acknowledge({ id, reason });
  acknowledgeControl(
    fn,
    'lambda_inside_vpc_check',
    "CDK's log-retention function calls the CloudWatch Logs API of us-east-1 on deploys only and holds no data; it has no VPC to run in outside the stage's region.",
  );
}
