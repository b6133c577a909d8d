import type { CostLine, PricingModule } from './module';

/** An hourly public IPv4 address charge (an Elastic IP, or a load balancer's address in each AZ). */
export const publicIpv4Line = (id: string, quantity: string, monthlyUsd: number): CostLine => ({
  category: 'Public IPv4 addresses',
  item: `Public IPv4 ${id}`,
  quantity,
  monthlyUsd,
});

/** What the VPC bills by the hour: NAT gateways (with the traffic they process), Elastic IPs, interface endpoints per AZ. Gateway endpoints are free. */
export const network: PricingModule = {
  resourceTypes: ['AWS::EC2::NatGateway', 'AWS::EC2::EIP', 'AWS::EC2::VPCEndpoint'],
  price({ id, type, props: p }, { prices, usage }) {
    const h = prices.hoursPerMonth;
    if (type === 'AWS::EC2::NatGateway') {
      return {
        lines: [
          {
            category: 'NAT gateways',
            item: `NAT gateway ${id}`,
            quantity: `1 + ${usage.natGbProcessedPerGateway} GB`,
            monthlyUsd: prices.natGateway.hour * h + prices.natGateway.gbProcessed * usage.natGbProcessedPerGateway,
          },
        ],
      };
    }
    if (type === 'AWS::EC2::EIP') return { lines: [publicIpv4Line(id, '1 address', prices.publicIpv4Hour * h)] };
    if (p.VpcEndpointType !== 'Interface') return { lines: [] };
    const azs = Array.isArray(p.SubnetIds) ? p.SubnetIds.length : 1;
    return { lines: [{ category: 'VPC endpoints', item: `Interface endpoint ${id}`, quantity: `${azs} AZ`, monthlyUsd: azs * prices.interfaceEndpointAzHour * h }] };
  },
};
