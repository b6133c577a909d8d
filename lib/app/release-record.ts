import { CustomResource, Duration, Stack } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { httpsOnlySecurityGroup } from '../shared/https-only-group';
import { type LogSettings, logSettings } from '../shared/log-group';
import { RELEASE_METRICS_NAMESPACE } from '../shared/naming';
import { handlerEntry } from '../shared/paths';
import { ProjectFunction } from '../shared/project-function';
import { acknowledgeProviderFindings } from '../shared/provider-findings';

export interface ReleaseRecordProps extends LogSettings {
  readonly vpc: ec2.IVpc;
  readonly stage: string;
  readonly release: string;
  /** The image reference the release deploys. */
  readonly image: string;
  /** The release's pre-deploy snapshot id (the snapshot custom resource's attribute). */
  readonly snapshotId: string;
  /** The migration's duration and task (its custom resource's attributes), where there is one. */
  readonly migration?: { readonly seconds: string; readonly task: string };
}

/**
 * Defines the release record: a custom resource that runs once a release has reached both
 * services (it depends on them) and publishes one metric point (`webapp/Releases`, `Release` and
 * `MigrationSeconds` per stage; the dashboard graphs them) and one EventBridge event
 * (`webapp.release` / "Release Completed": release id, image, snapshot, migration) on the
 * account's default bus, for whatever the team routes it to. A record that cannot be written is
 * logged as an error; it never rolls a healthy release back. lambda/release-record/ has the logic.
 */
export class ReleaseRecord extends Construct {
  readonly resource: CustomResource;
  readonly function: ProjectFunction;

  constructor(scope: Construct, id: string, props: ReleaseRecordProps) {
    super(scope, id);
    const { region, account, partition } = Stack.of(this);
    const securityGroup = httpsOnlySecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Release record: calls the CloudWatch and EventBridge APIs over HTTPS only',
      httpsTo: 'HTTPS to the CloudWatch and EventBridge APIs',
    });

    this.function = new ProjectFunction(this, 'Handler', {
      entry: handlerEntry('release-record'),
      handler: 'onEvent',
      description: `Records each ${props.stage} release that reached its services`,
      vpc: props.vpc,
      securityGroups: [securityGroup],
      timeout: Duration.minutes(1),
      ...logSettings(props),
    });
    const fn = this.function.fn;
    this.function.publishesMetrics('PublishTheReleaseMetric', RELEASE_METRICS_NAMESPACE);
    fn.addToRolePolicy(
      new iam.PolicyStatement({ sid: 'PublishTheReleaseEvent', actions: ['events:PutEvents'], resources: [`arn:${partition}:events:${region}:${account}:event-bus/default`] }),
    );

    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: fn,
      vpc: props.vpc,
      vpcSubnets: { subnets: props.vpc.privateSubnets },
      securityGroups: [securityGroup],
      logGroup: this.function.logGroup,
    });
    acknowledgeProviderFindings(provider, [fn]);

    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::ReleaseRecord',
      properties: {
        Stage: props.stage,
        Release: props.release,
        Image: props.image,
        SnapshotId: props.snapshotId,
        ...(props.migration ? { MigrationSeconds: props.migration.seconds, MigrationTask: props.migration.task } : {}),
      },
    });
  }
}
