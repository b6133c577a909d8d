import { Stage, type StageProps, Tags } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { AppStack } from '../app/app-stack';
import { IDLE_TIMEOUT_SECONDS } from '../app/load-balancer';
import { type DeployOptions, hasDrStack, type StageConfig } from '../config';
import { DataStack } from '../data/data-stack';
import { DrAppStack } from '../dr/dr-app-stack';
import { DrStack } from '../dr/dr-stack';
import { pilotLightNames } from '../dr/pilot-light-names';
import { PilotLightStack } from '../dr/pilot-light-stack';
import { EDGE_REGION, EdgeStack } from '../edge/edge-stack';
import type { WafRules } from '../edge/waf';
import { NetworkStack } from '../network/network-stack';
import { defineRoutes } from '../ops/alarm-topic';
import { projectFunctions } from '../ops/function-alarms';
import { OpsStack } from '../ops/ops-stack';
import type { AlarmRoutes } from '../shared/alarm-set';
import { PROJECT } from '../shared/naming';

export interface AppStageProps extends StageProps {
  readonly config: StageConfig;
  /** The switches of this deploy, read from context by the config loader. @default none set */
  readonly deploy?: DeployOptions;
  /** The home region of the stage's account baseline (lib/baseline). @default the stage's region */
  readonly accountHomeRegion?: string;
}

/**
 * Defines one deployment stage (dev, staging or prod) as a `cdk.Stage` whose id is the stage name,
 * so `npx cdk deploy 'staging/*'` deploys exactly that stage. Stacks are split by lifecycle:
 * the network first; the stateful data tier, the stateless app tier, operations and the DR-region
 * stack are added beside it and receive what they need from the stacks before them.
 */
export class AppStage extends Stage {
  readonly config: StageConfig;
  readonly network: NetworkStack;
  /** The stage's paging and ticket topics, in the network stack: alarms and rules in every stack of its region notify them. */
  readonly alarmRoutes: AlarmRoutes;
  readonly data: DataStack;
  readonly app: AppStack;
  readonly ops: OpsStack;
  /** The stack in the DR region; only when the stage replicates to it. */
  readonly dr?: DrStack;
  /** What the DR region holds ready for a failover (network, load balancer, SES); only where `dr.pilotLight`. */
  readonly pilotLight?: PilotLightStack;
  /** The data, app and operations tiers in the DR region; only while `dr.appTier` (a failover, or its drill). */
  readonly drApp?: DrAppStack;
  /** The CloudFront stack in us-east-1; only where the stage serves through CloudFront (edge.enabled). */
  readonly edge?: EdgeStack;

  constructor(scope: Construct, props: AppStageProps) {
    const { config, deploy = { skipPreDeploySnapshot: false } } = props;
    super(scope, config.name, { ...props, env: { account: config.account, region: config.region } });
    this.config = config;

    // Listeners, listener rules and scaling targets are left out: the CloudFormation schema cfn-lint
    // checks against has no Tags on them, and cost allocation does not need them.
    const untagged = {
      excludeResourceTypes: ['AWS::ElasticLoadBalancingV2::Listener', 'AWS::ElasticLoadBalancingV2::ListenerRule', 'AWS::ApplicationAutoScaling::ScalableTarget'],
    };
    Tags.of(this).add('app', PROJECT, untagged);
    Tags.of(this).add('stage', config.name, untagged);

    // Deleting the VPC would take every tier with it: outside throw-away stages CloudFormation refuses.
    this.network = new NetworkStack(this, 'Network', {
      config,
      pinnedReads: deploy.pinnedReads,
      description: `Network of the ${config.name} stage: VPC, subnets, NAT, flow logs`,
      terminationProtection: config.retainOnDelete,
    });
    // Operations' topics in the longest-lived stack, the last of its constructs: the path the
    // ticket topic's subscriptions were confirmed at. The ops stack reads them by their fixed ARNs.
    this.alarmRoutes = defineRoutes(this.network, {
      stage: config.name,
      emails: config.alarms.emails,
      httpsEndpoints: config.alarms.httpsEndpoints,
      slack: config.alarms.slack,
      logRetention: this.network.logRetention,
      removalPolicy: this.network.statefulRemovalPolicy,
    });
    if (hasDrStack(config)) {
      this.dr = new DrStack(this, 'Dr', {
        config,
        pinnedReads: deploy.pinnedReads,
        env: { account: config.account, region: config.drRegion },
        description: `DR-region copies of the ${config.name} stage (${config.drRegion}): uploads replica, backup key and vault`,
        terminationProtection: config.retainOnDelete,
      });
    }
    this.data = new DataStack(this, 'Data', {
      config,
      pinnedReads: deploy.pinnedReads,
      description: `Stateful tier of the ${config.name} stage: PostgreSQL with pgvector, Valkey, uploads bucket, keys`,
      terminationProtection: config.retainOnDelete,
      network: this.network,
      alarmTopic: this.alarmRoutes.ticket,
      dr: this.dr,
      deploy,
    });
    // One web ACL in front of the site: on the distribution where the stage serves through
    // CloudFront (a regional one would see CloudFront's addresses), else on the load balancer.
    const waf = config.app.waf ? wafRules(config.app) : undefined;
    this.app = new AppStack(this, 'App', {
      config,
      pinnedReads: deploy.pinnedReads,
      description: `Stateless tier of the ${config.name} stage: ECS services, load balancer, WAF, SES`,
      network: this.network,
      data: this.data,
      alarmRoutes: this.alarmRoutes,
      drBackupKey: this.dr?.backupKey,
      deploy,
      waf: config.edge.enabled ? undefined : waf,
    });
    // Before the edge, which points its DR origin at the pilot light's load balancer.
    if (config.dr.pilotLight) {
      // The schema makes a pilot light need https, and so a domain: the network stack has the site.
      const { site } = this.network;
      if (!site) throw new Error(`${config.name}: dr.pilotLight needs the stage's domain and https: true (the DR load balancer serves the site's certificate)`);
      this.pilotLight = new PilotLightStack(this, 'PilotLight', {
        config,
        pinnedReads: deploy.pinnedReads,
        site,
        env: { account: config.account, region: config.drRegion },
        stackName: pilotLightNames(config.name).stackName,
        description: `Pilot light of the ${config.name} stage in ${config.drRegion}: VPC without NAT, data-tier subnet and security groups, idle internal load balancer and certificate, SES identity`,
        terminationProtection: config.retainOnDelete,
      });
      if (config.dr.appTier) {
        // The schema makes a pilot light need backup.drCopies, and so the DR stack.
        if (!this.dr) throw new Error(`${config.name}: dr.appTier needs the DR stack (backup.drCopies), whose backup key the restored database is encrypted with`);
        this.drApp = new DrAppStack(this, 'DrApp', {
          config,
          pinnedReads: deploy.pinnedReads,
          pilotLight: this.pilotLight,
          dr: this.dr,
          deploy,
          env: { account: config.account, region: config.drRegion },
          stackName: pilotLightNames(config.name).drAppStackName,
          description: `The ${config.name} stage's data, app and operations tiers in ${config.drRegion}, against the database restored there: cache, ECS services behind the pilot light's load balancer, smoke test, alarms`,
        });
      }
    }
    if (config.edge.enabled) {
      this.edge = new EdgeStack(this, 'Edge', {
        config,
        pinnedReads: deploy.pinnedReads,
        env: { account: config.account, region: EDGE_REGION },
        description: `Edge of the ${config.name} stage (${EDGE_REGION}): CloudFront distribution, certificate, WAF, access logs, site records`,
        domain: this.network.site,
        loadBalancer: this.app.loadBalancer,
        drLoadBalancer: this.pilotLight?.loadBalancer,
        originIdleTimeoutSeconds: IDLE_TIMEOUT_SECONDS,
        waf,
      });
    }
    this.ops = new OpsStack(this, 'Ops', {
      config,
      pinnedReads: deploy.pinnedReads,
      edge: this.edge,
      description: `Operations of the ${config.name} stage: alarms, notifications, dashboard, budget`,
      network: this.network,
      data: this.data,
      app: this.app,
      dr: this.dr,
      functions: projectFunctions(this.data, this.app),
      inAccountHomeRegion: (props.accountHomeRegion ?? config.region) === config.region,
    });
    // The alarm topics are referenced by their fixed ARNs; they must exist first all the same.
    this.ops.addStackDependency(this.network, 'alarm topics');
  }
}

/** The stage's WAF settings (`app.waf*`) as the web ACL takes them, wherever it sits. */
function wafRules(app: StageConfig['app']): WafRules {
  return {
    rateLimitPer5Min: app.wafRateLimitPer5Min,
    authPaths: app.wafAuthPaths,
    authRateLimitPer5Min: app.wafAuthRateLimitPer5Min,
    largeBodyPaths: app.wafLargeBodyPaths,
    inspectServerActions: app.wafServerActions,
    bodyInspectionLimitKb: app.wafBodyInspectionKb,
    redactedHeaders: app.wafRedactedHeaders,
  };
}
