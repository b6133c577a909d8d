import type { PricingModule } from './module';

/** EC2 instances (the NAT instances): the instance hour, its gp3 volumes and, where it has one, its public address. */
export const ec2: PricingModule = {
  resourceTypes: ['AWS::EC2::Instance'],
  price({ id, props: p }, { prices }) {
    const h = prices.hoursPerMonth;
    const type = String(p.InstanceType);
    const hour = prices.ec2.instanceHour[type];
    if (hour === undefined) return { notPriced: type };
    const volumes = (p.BlockDeviceMappings ?? []) as { Ebs?: { VolumeSize?: number } }[];
    const gb = volumes.reduce((sum, v) => sum + Number(v.Ebs?.VolumeSize ?? 0), 0) || 8;
    const publicIp = ((p.NetworkInterfaces ?? []) as { AssociatePublicIpAddress?: boolean }[]).some((n) => n.AssociatePublicIpAddress === true);
    return {
      lines: [
        {
          category: 'EC2 instances (NAT)',
          item: `EC2 instance ${id}`,
          quantity: `${type} + ${gb} GB gp3${publicIp ? ' + public IPv4' : ''}`,
          monthlyUsd: hour * h + gb * prices.ec2.gp3GbMonth + (publicIp ? prices.publicIpv4Hour * h : 0),
        },
      ],
    };
  },
};
