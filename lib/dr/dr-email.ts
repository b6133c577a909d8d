import type * as route53 from 'aws-cdk-lib/aws-route53';
import * as ses from 'aws-cdk-lib/aws-ses';
import { Construct } from 'constructs';

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
 * and a configuration set with its event topic and key belongs with the DR app tier, which has none
 * yet (lib/dr/dr-app-stack.ts).
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
