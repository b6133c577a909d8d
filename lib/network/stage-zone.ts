import { CfnOutput, Fn, RemovalPolicy } from 'aws-cdk-lib';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { Construct } from 'constructs';

export interface StageZoneProps {
  /** The stage's own zone, e.g. "staging.example.com". */
  readonly zoneName: string;
  /** The zone it is delegated from, e.g. "example.com" (named in the delegation instructions). */
  readonly parentZoneName: string;
  /** Use this existing zone of the account instead of creating one. */
  readonly hostedZoneId?: string;
}

/**
 * Defines the stage's own public hosted zone in the stage account, where the site's alias, the
 * certificate's validation records and SES's DKIM and MAIL FROM records go. Each stage account
 * writes only to its own zone, so two stages never write the same record. Retained: deleting it
 * and creating it again would give it new name servers and break the delegation. The outputs name
 * the NS records to create in the parent zone (scripts/preflight.ts checks they are in place).
 */
export class StageZone extends Construct {
  readonly zone: route53.IPublicHostedZone;

  constructor(scope: Construct, id: string, props: StageZoneProps) {
    super(scope, id);
    if (props.hostedZoneId) {
      this.zone = route53.PublicHostedZone.fromPublicHostedZoneAttributes(this, 'Zone', { hostedZoneId: props.hostedZoneId, zoneName: props.zoneName });
      return;
    }
    const zone = new route53.PublicHostedZone(this, 'Zone', {
      zoneName: props.zoneName,
      comment: `The ${props.zoneName} stage zone, delegated from ${props.parentZoneName}`,
    });
    zone.applyRemovalPolicy(RemovalPolicy.RETAIN);
    this.zone = zone;
    new CfnOutput(this, 'NameServers', {
      value: Fn.join(',', zone.hostedZoneNameServers!),
      description: `Create an NS record ${props.zoneName} with these values in the ${props.parentZoneName} zone`,
    });
    new CfnOutput(this, 'ZoneId', { value: zone.hostedZoneId, description: `Hosted zone of ${props.zoneName}` });
  }
}
