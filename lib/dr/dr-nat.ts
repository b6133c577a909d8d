import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct, type IDependable } from 'constructs';

export interface DrNatProps {
  /** The pilot light's public subnets, one per AZ: a gateway goes into each of the first `count`. */
  readonly publicSubnetIds: readonly string[];
  /** The route tables of the pilot light's private subnets, one per AZ: each gets a default route to a gateway. */
  readonly privateRouteTableIds: readonly string[];
  /** NAT gateways: the primary's count (`network.natGateways`), at most one per AZ. */
  readonly count: number;
}

/**
 * The way out of the DR VPC's private subnets while the DR tiers run: NAT gateways in the pilot
 * light's public subnets and a default route in each private subnet's route table, made in the DR
 * app tier's stack so they come and go with it. The pilot light idles without NAT (a gateway costs
 * about $35 a month doing nothing); the tasks need it to pull their image and reach AWS's APIs, the
 * database setup and the smoke test likewise. Gateways even where the primary runs NAT instances:
 * their images are pinned per region, and a stage that has lost its region should not depend on an
 * instance's boot script. With fewer gateways than AZs, the route tables share them in turn.
 */
export class DrNat extends Construct {
  readonly gateways: ec2.CfnNatGateway[];
  /** The default routes: what needs the way out depends on them. */
  readonly routes: IDependable[];

  constructor(scope: Construct, id: string, props: DrNatProps) {
    super(scope, id);
    const count = Math.max(1, Math.min(props.count, props.publicSubnetIds.length));
    this.gateways = props.publicSubnetIds.slice(0, count).map((subnetId, i) => {
      const address = new ec2.CfnEIP(this, `Address${i + 1}`, { domain: 'vpc' });
      return new ec2.CfnNatGateway(this, `Gateway${i + 1}`, { subnetId, allocationId: address.attrAllocationId });
    });
    this.routes = props.privateRouteTableIds.map(
      (routeTableId, i) => new ec2.CfnRoute(this, `DefaultRoute${i + 1}`, { routeTableId, destinationCidrBlock: '0.0.0.0/0', natGatewayId: this.gateways[i % count].ref }),
    );
  }
}
