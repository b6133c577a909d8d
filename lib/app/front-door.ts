import { Validations } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { Waf, type WafRules } from '../edge/waf';
import { type LogSettings, logSettings } from '../shared/log-group';
import { stageResourceName } from '../shared/naming';
import { LoadBalancer, type LoadBalancerProps } from './load-balancer';

export interface FrontDoorProps extends LoadBalancerProps, LogSettings {
  /** The stage: the web ACL's name. */
  readonly stage: string;
  /** The rules of a web ACL on the load balancer. @default no web ACL on it */
  readonly waf?: WafRules;
  /** The stage's web ACL sits on the CloudFront distribution in front of the load balancer. @default false */
  readonly isWafOnDistribution?: boolean;
}

/**
 * Where requests come in: the load balancer (HTTPS where the stage has a domain) and, where the
 * stage has a WAF and no CloudFront in front, the web ACL on it. Behind CloudFront the load
 * balancer is internal and the web ACL is the distribution's.
 *
 * Not a construct: it builds into the given scope (the app stack), where the load balancer and
 * the web ACL have their logical ids; a construct of its own would put them under a new path and
 * replace them.
 */
export class FrontDoor {
  readonly loadBalancer: LoadBalancer;
  readonly waf?: Waf;

  constructor(scope: Construct, props: FrontDoorProps) {
    const { stage, waf, isWafOnDistribution, logsKey, logRetention, logRemovalPolicy, ...loadBalancer } = props;
    this.loadBalancer = new LoadBalancer(scope, 'LoadBalancer', loadBalancer);
    const { alb } = this.loadBalancer;
    if (waf) {
      this.waf = new Waf(scope, 'Waf', { name: stageResourceName(stage), scope: 'REGIONAL', loadBalancerArn: alb.loadBalancerArn, ...waf, ...logSettings(props) });
      return;
    }
    Validations.of(alb.node.defaultChild!).acknowledge({
      id: 'NIST.800.53.R5-ALBWAFEnabled',
      reason: isWafOnDistribution
        ? 'The web ACL sits on the CloudFront distribution (edge stack), the only way to this internal load balancer.'
        : `No WAF by configuration in ${stage} (app.waf: false, cost); the config schema requires it in prod.`,
    });
  }
}
