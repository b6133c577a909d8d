import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as route53 from 'aws-cdk-lib/aws-route53';
import * as ses from 'aws-cdk-lib/aws-ses';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { type SendingEmail, sendingConfigurationSet, sendingEvents, sendPolicy } from '../app/email';

/** The DR region's MAIL FROM subdomain: `mail.` is the primary region's, and its MX names that region's feedback endpoint. */
export const DR_MAIL_FROM_SUBDOMAIN = 'mail-dr';

export interface DrEmailIdentityProps {
  /** The stage's own zone: the identity is its name, and its DKIM and MAIL FROM records go into it. */
  readonly zone: route53.IPublicHostedZone;
}

/**
 * The stage's SES domain identity in the DR region, verified before it is needed: SES identities
 * are per region, and Easy DKIM issues each region its own three tokens, so the DR region's
 * CNAME records sit in the zone beside the primary's. AWS's Deterministic Easy DKIM, which would
 * let this identity reuse the primary's keys, is set only by the SES API (CreateEmailIdentity,
 * DkimSigningAttributes.DomainSigningAttributesOrigin); CloudFormation's AWS::SES::EmailIdentity
 * has no property for it. The identity's MAIL FROM is `mail-dr.<zone>`: a MAIL FROM domain's MX
 * record names the feedback endpoint of one region, and `mail.<zone>`'s names the primary's.
 *
 * Only the identity: the DMARC record is the zone's, written once by the primary region (lib/app/email.ts),
 * and the configuration set with its event topic comes with the DR app tier (DrEmailSending).
 */
export class DrEmailIdentity extends Construct {
  readonly identity: ses.EmailIdentity;
  /** The MAIL FROM domain of the DR region's identity. */
  readonly mailFromDomain: string;

  constructor(scope: Construct, id: string, props: DrEmailIdentityProps) {
    super(scope, id);
    const { zone } = props;
    this.mailFromDomain = `${DR_MAIL_FROM_SUBDOMAIN}.${zone.zoneName}`;
    // CDK writes the three DKIM CNAMEs and the MAIL FROM MX (this region's feedback endpoint) and SPF records into the zone.
    this.identity = new ses.EmailIdentity(this, 'Identity', { identity: ses.Identity.publicHostedZone(zone), mailFromDomain: this.mailFromDomain });
  }
}

export interface DrEmailSendingProps {
  /** The domain the pilot light's identity verifies in this region (the stage's zone). */
  readonly domainName: string;
  /** Encrypts the event topic. */
  readonly key: kms.IKey;
}

/**
 * How the DR app tier's tasks send email in the DR region, as the primary's do: a configuration
 * set with the same events to an encrypted topic and CloudWatch, and a policy to send only as the
 * domain (the pilot light's identity, verified there ahead of time) through that set. It comes and
 * goes with the tier.
 */
export class DrEmailSending extends Construct implements SendingEmail {
  readonly configurationSet: ses.ConfigurationSet;
  readonly events: sns.Topic;
  readonly domainName: string;

  constructor(scope: Construct, id: string, props: DrEmailSendingProps) {
    super(scope, id);
    this.domainName = props.domainName;
    this.configurationSet = sendingConfigurationSet(this);
    this.events = sendingEvents(this, this.configurationSet, props.key);
  }

  get sendPolicy(): iam.ManagedPolicy {
    return sendPolicy(this, this.domainName, this.configurationSet.configurationSetName);
  }
}
