import { loadAwsServiceSpecSync } from '@aws-cdk/aws-service-spec';
import { beforeAll, describe, expect, test } from 'vitest';
import { STAGE_NAMES } from '../../lib/config';
import { referencedIds } from '../../lib/shared/cross-stack-reads';
import { ownTemplates } from '../support/synth';
import { type Json, type Resource, stageTemplates } from '../support/template';

/**
 * CloudWatch Logs creates a vended-log delivery only with the record fields and output format the
 * log source offers (DescribeConfigurationTemplates); anything else fails the resource, and the
 * stack rolls back. Which fields a source offers is in the CloudFormation resource database the
 * CDK generates its L1s from (@aws-cdk/aws-service-spec, `vendedLogs` of the resource type): every
 * delivery of every stage is checked against it, so a misspelt field (CloudFront's is
 * `cs(User-Agent)`, not `cs-user-agent`) fails here and not in the first deploy.
 */
interface VendedLogs {
  readonly logType: string;
  readonly destinations: readonly { readonly destinationType: string; readonly outputFormats: readonly string[] }[];
  readonly optionalFields?: readonly string[];
  readonly mandatoryFields?: readonly string[];
}

let offered: (cloudFormationType: string) => readonly VendedLogs[];
beforeAll(() => {
  const db = loadAwsServiceSpecSync();
  offered = (type) => {
    const [resource] = db.lookup('resource', 'cloudFormationType', 'equals', type);
    return (resource?.vendedLogs ?? []) as readonly VendedLogs[];
  };
});

const synthesized = stageTemplates();

/** The destination type CloudWatch Logs names a delivery destination by, from its ARN. */
function destinationType(arn: Json): string {
  const text = JSON.stringify(arn);
  if (text.includes(':logs:')) return 'CWL';
  if (text.includes(':s3:::')) return 'S3';
  if (text.includes(':firehose:')) return 'FH';
  return `unknown (${text})`;
}

interface Delivery {
  readonly where: string;
  readonly sourceType: string;
  readonly logType: string;
  readonly destinationType: string;
  readonly outputFormat?: string;
  readonly fields: readonly string[];
}

/** Every vended-log delivery of a stage, with what its source and destination are. */
function deliveries(stage: (typeof STAGE_NAMES)[number]): Delivery[] {
  return ownTemplates(synthesized[stage]).flatMap((template) => {
    const resources = template.toJSON().Resources as Record<string, Resource>;
    const byName = (type: string, name: Json) => Object.values(resources).find((r) => r.Type === type && JSON.stringify(r.Properties.Name) === JSON.stringify(name));
    return Object.entries(resources)
      .filter(([, r]) => r.Type === 'AWS::Logs::Delivery')
      .map(([id, delivery]) => {
        const source = byName('AWS::Logs::DeliverySource', delivery.Properties.DeliverySourceName);
        const [destinationId] = referencedIds(delivery.Properties.DeliveryDestinationArn);
        const destination = resources[destinationId];
        const [sourceResourceId] = referencedIds(source?.Properties.ResourceArn);
        return {
          where: `${stage} ${id}`,
          sourceType: resources[sourceResourceId]?.Type ?? 'unknown',
          logType: source?.Properties.LogType,
          destinationType: destinationType(destination?.Properties.DestinationResourceArn),
          outputFormat: destination?.Properties.OutputFormat,
          fields: delivery.Properties.RecordFields ?? [],
        };
      });
  });
}

describe('vended-log deliveries ask only for what their source offers', () => {
  test.each(STAGE_NAMES)('%s: every record field and output format is in the resource database', (stage) => {
    const found = deliveries(stage);
    // dev, staging and prod all log their distribution: a walk that finds nothing proves nothing.
    expect(found.length, `${stage} deliveries`).toBeGreaterThan(0);
    for (const delivery of found) {
      const spec = offered(delivery.sourceType).find((v) => v.logType === delivery.logType);
      expect(spec, `${delivery.where}: ${delivery.sourceType} offers no ${delivery.logType} logs`).toBeDefined();
      const allowed = new Set([...(spec?.optionalFields ?? []), ...(spec?.mandatoryFields ?? [])]);
      expect(
        delivery.fields.filter((f) => !allowed.has(f)),
        `${delivery.where}: fields ${delivery.sourceType} ${delivery.logType} does not offer`,
      ).toEqual([]);
      const formats = spec?.destinations.find((d) => d.destinationType === delivery.destinationType)?.outputFormats;
      expect(formats, `${delivery.where}: ${delivery.destinationType} is no destination of ${delivery.logType}`).toBeDefined();
      if (delivery.outputFormat !== undefined) expect(formats).toContain(delivery.outputFormat);
    }
  });

  test('the check reads the database, not an empty list: CloudFront access logs offer cs(User-Agent), not cs-user-agent', () => {
    const access = offered('AWS::CloudFront::Distribution').find((v) => v.logType === 'ACCESS_LOGS');
    expect(access?.optionalFields).toContain('cs(User-Agent)');
    expect(access?.optionalFields).not.toContain('cs-user-agent');
  });
});
