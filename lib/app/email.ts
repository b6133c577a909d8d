import { type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as ses from 'aws-cdk-lib/aws-ses';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { ServiceKey } from '../shared/service-key';
import { ofThisAccount } from '../shared/service-trust';

export interface EmailProps {
  /** The stage's own zone: the identity is its name, and the DKIM, MAIL FROM and DMARC records go into it. */
  readonly zone: route53.IPublicHostedZone;
  /** Encrypts the event topic. */
  readonly key: kms.IKey;
  /**
   * What receivers do with mail that claims the domain but fails alignment (DMARC `p=`).
   * @default 'quarantine'
   */
  readonly dmarcPolicy?: 'none' | 'quarantine' | 'reject';
  /** Where receivers send aggregate DMARC reports (`rua=mailto:`). @default none asked for */
  readonly dmarcReportsTo?: string;
}

/** The domain's DMARC record: the policy, relaxed alignment (mail goes out from mail.<zone>), reports where asked. */
export function dmarcRecord(policy: NonNullable<EmailProps['dmarcPolicy']>, reportsTo?: string): string {
  return ['v=DMARC1', `p=${policy}`, 'adkim=r', 'aspf=r', ...(reportsTo ? [`rua=mailto:${reportsTo}`] : [])].join('; ');
}

export interface StageEmailProps extends Omit<EmailProps, 'key'> {
  readonly stage: string;
  /** What becomes of the events key when the stack goes. */
  readonly removalPolicy: RemovalPolicy;
}

/**
 * SES for the stage's domain (Email), its event notifications encrypted with a key of their own.
 * A function, not a construct: it builds the key and the Email construct into the given scope
 * (the app stack), where they have their logical ids.
 */
export function stageEmail(scope: Construct, props: StageEmailProps): Email {
  const { stage, removalPolicy, ...email } = props;
  const key = new ServiceKey(scope, 'EventsKey', { description: `${stage}: SES event notifications`, services: ['sns'], removalPolicy }).key;
  return new Email(scope, 'Email', { ...email, key });
}

/** What the app's tasks send email with: the configuration set, the domain, and the policy that allows it. */
export interface SendingEmail {
  readonly configurationSet: ses.IConfigurationSet;
  /** The domain mail is sent as. */
  readonly domainName: string;
  readonly sendPolicy: iam.ManagedPolicy;
}

/** A configuration set with reputation metrics, sending enabled (`ConfigurationSet` in `scope`). */
export function sendingConfigurationSet(scope: Construct): ses.ConfigurationSet {
  return new ses.ConfigurationSet(scope, 'ConfigurationSet', { reputationMetrics: true, sendingEnabled: true });
}

/**
 * The configuration set's bounce, complaint, reject and delivery events, to an SNS topic encrypted
 * with `key` (`Events` in `scope`) and to CloudWatch. One definition for the primary's Email and the
 * DR app tier's sending.
 */
export function sendingEvents(scope: Construct, configurationSet: ses.ConfigurationSet, key: kms.IKey): sns.Topic {
  const events = new sns.Topic(scope, 'Events', { masterKey: key, enforceSSL: true, displayName: `SES events of ${Stack.of(scope).stackName}` });
  // SES publishes with the topic's key: let it use it, for this account only.
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal('ses.amazonaws.com')],
      actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
      resources: ['*'],
      conditions: ofThisAccount(scope),
    }),
  );
  configurationSet.addEventDestination('ToTopic', { destination: ses.EventDestination.snsTopic(events), events: EMAIL_EVENTS });
  configurationSet.addEventDestination('ToCloudWatch', {
    destination: ses.EventDestination.cloudWatchDimensions([{ name: 'ses:configuration-set', source: ses.CloudWatchDimensionSource.MESSAGE_TAG, defaultValue: 'none' }]),
    events: EMAIL_EVENTS,
  });
  return events;
}

/** Sending only as `identityName` and only through `configurationSetName` (`SendPolicy` in `scope`, made once). */
export function sendPolicy(scope: Construct, identityName: string, configurationSetName: string): iam.ManagedPolicy {
  const existing = scope.node.tryFindChild('SendPolicy') as iam.ManagedPolicy | undefined;
  if (existing) return existing;
  const stack = Stack.of(scope);
  return new iam.ManagedPolicy(scope, 'SendPolicy', {
    description: 'Send email as the stage domain through its configuration set',
    statements: [
      new iam.PolicyStatement({
        actions: ['ses:SendEmail', 'ses:SendRawEmail'],
        resources: [
          stack.formatArn({ service: 'ses', resource: 'identity', resourceName: identityName }),
          stack.formatArn({ service: 'ses', resource: 'configuration-set', resourceName: configurationSetName }),
        ],
      }),
    ],
  });
}

/** Sending events published to the topic and counted in CloudWatch. */
export const EMAIL_EVENTS = [ses.EmailSendingEvent.BOUNCE, ses.EmailSendingEvent.COMPLAINT, ses.EmailSendingEvent.REJECT, ses.EmailSendingEvent.DELIVERY];

/**
 * Defines SES for the stage's domain: the domain identity with Easy DKIM records written into the
 * hosted zone, a custom MAIL FROM subdomain (`mail.<zone>`, so SPF and DMARC align), the domain's
 * DMARC record, and a
 * configuration set with reputation metrics whose bounce, complaint, reject and delivery events go
 * to an encrypted SNS topic and to CloudWatch. Leaving the SES sandbox is a manual account step
 * (docs/app-contract.md, "Email (SES)").
 */
export class Email extends Construct implements SendingEmail {
  readonly identity: ses.EmailIdentity;
  readonly configurationSet: ses.ConfigurationSet;
  readonly events: sns.Topic;
  /** The domain mail is sent as: the zone's name (MAIL FROM is `mail.` before it). */
  readonly domainName: string;

  constructor(scope: Construct, id: string, props: EmailProps) {
    super(scope, id);
    const { zone } = props;
    this.domainName = zone.zoneName;
    this.configurationSet = sendingConfigurationSet(this);
    this.identity = new ses.EmailIdentity(this, 'Identity', {
      identity: ses.Identity.publicHostedZone(zone),
      mailFromDomain: `mail.${zone.zoneName}`,
      configurationSet: this.configurationSet,
    });

    // SPF (the MAIL FROM domain) and DKIM are SES's; DMARC tells receivers what to do with mail
    // that claims the domain and passes neither, so nobody can send as it undetected.
    new route53.TxtRecord(this, 'Dmarc', { zone, recordName: `_dmarc.${zone.zoneName}`, values: [dmarcRecord(props.dmarcPolicy ?? 'quarantine', props.dmarcReportsTo)] });

    this.events = sendingEvents(this, this.configurationSet, props.key);
  }

  /** Sending only as this domain and only through this configuration set; attach it to app roles. */
  get sendPolicy(): iam.ManagedPolicy {
    return sendPolicy(this, this.identity.emailIdentityName, this.configurationSet.configurationSetName);
  }
}
