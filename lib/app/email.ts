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
export class Email extends Construct {
  readonly identity: ses.EmailIdentity;
  readonly configurationSet: ses.ConfigurationSet;
  readonly events: sns.Topic;
  /** The domain mail is sent as: the zone's name (MAIL FROM is `mail.` before it). */
  readonly domainName: string;

  constructor(scope: Construct, id: string, props: EmailProps) {
    super(scope, id);
    const { zone } = props;
    this.domainName = zone.zoneName;
    this.configurationSet = new ses.ConfigurationSet(this, 'ConfigurationSet', { reputationMetrics: true, sendingEnabled: true });
    this.identity = new ses.EmailIdentity(this, 'Identity', {
      identity: ses.Identity.publicHostedZone(zone),
      mailFromDomain: `mail.${zone.zoneName}`,
      configurationSet: this.configurationSet,
    });

    // SPF (the MAIL FROM domain) and DKIM are SES's; DMARC tells receivers what to do with mail
    // that claims the domain and passes neither, so nobody can send as it undetected.
    new route53.TxtRecord(this, 'Dmarc', { zone, recordName: `_dmarc.${zone.zoneName}`, values: [dmarcRecord(props.dmarcPolicy ?? 'quarantine', props.dmarcReportsTo)] });

    this.events = new sns.Topic(this, 'Events', { masterKey: props.key, enforceSSL: true, displayName: `SES events of ${Stack.of(this).stackName}` });
    // SES publishes with the topic's key: let it use it, for this account only.
    props.key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('ses.amazonaws.com')],
        actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
        resources: ['*'],
        conditions: ofThisAccount(this),
      }),
    );
    this.configurationSet.addEventDestination('ToTopic', { destination: ses.EventDestination.snsTopic(this.events), events: EMAIL_EVENTS });
    this.configurationSet.addEventDestination('ToCloudWatch', {
      destination: ses.EventDestination.cloudWatchDimensions([{ name: 'ses:configuration-set', source: ses.CloudWatchDimensionSource.MESSAGE_TAG, defaultValue: 'none' }]),
      events: EMAIL_EVENTS,
    });
  }

  /** Sending only as this domain and only through this configuration set; attach it to app roles. */
  get sendPolicy(): iam.ManagedPolicy {
    const existing = this.node.tryFindChild('SendPolicy') as iam.ManagedPolicy | undefined;
    if (existing) return existing;
    const stack = Stack.of(this);
    return new iam.ManagedPolicy(this, 'SendPolicy', {
      description: 'Send email as the stage domain through its configuration set',
      statements: [
        new iam.PolicyStatement({
          actions: ['ses:SendEmail', 'ses:SendRawEmail'],
          resources: [
            stack.formatArn({ service: 'ses', resource: 'identity', resourceName: this.identity.emailIdentityName }),
            stack.formatArn({ service: 'ses', resource: 'configuration-set', resourceName: this.configurationSet.configurationSetName }),
          ],
        }),
      ],
    });
  }
}
