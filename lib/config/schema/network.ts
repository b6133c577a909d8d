import { z } from 'zod';
import { type ProdRule, unique, vpcCidr } from '../fields';

/** The stage's VPC: its block, zones and egress. The zones' names are checked against `region` in lib/config/schema.ts. */
export const network = z
  .object({
    cidr: vpcCidr.meta({ description: 'VPC IPv4 block; each subnet gets 1/16 of it', rules: 'private (10/8, 172.16/12, 192.168/16), `/16` to `/24`, no host bits set' }),
    azCount: z
      .number()
      .int()
      .min(2, 'the database and load balancer need at least 2 AZs. Fix: use 2 or 3')
      .max(3, 'at most 3 AZs are laid out. Fix: use 2 or 3')
      .meta({ description: 'Availability Zones the VPC spans', rules: '2 or 3' }),
    availabilityZones: unique(z.string(), 'zone').optional().meta({
      description: 'zone names, in order (unset: `<region>a`, `b`, `c`); set them where the account lacks one of those (zone letters map per account)',
      rules: '`azCount` different zones `region` has (pinned list); unset, `a` to `c` must exist there (not in ca-central-1)',
    }),
    natGateways: z
      .number()
      .int()
      .min(1, 'private subnets need a NAT gateway to reach AWS APIs and the image registry. Fix: use 1 or more')
      .meta({ description: 'NAT gateways (1 is cheapest; one per AZ survives an AZ outage)', rules: '1 to `azCount`' }),
    nat: z.enum(['gateway', 'instance']).default('gateway').meta({
      description:
        'what the NAT is: `gateway` (AWS\'s managed NAT gateways) or `instance` (one EC2 instance per `natGateways`, Graviton, Amazon Linux 2023: about a tenth of the cost, no managed failover: a failed instance stops the private subnets\' egress until EC2 recovers it; docs/architecture.md, "NAT")',
      rules: 'prod: `gateway`',
    }),
    flowLogs: z.enum(['all', 'rejected']).default('all').meta({
      description:
        'what the VPC flow log records: `all` connections, or only those security groups and network ACLs refused, `rejected` (a tenth of the volume or less: enough to debug a blocked path, not to investigate what got through)',
      rules: 'prod: `all`',
    }),
    natInstanceType: z
      .string()
      .regex(/^t4g\.(nano|micro|small|medium)$/, 'a NAT instance here is a burstable Graviton type. Fix: use t4g.nano, t4g.micro, t4g.small or t4g.medium')
      .default('t4g.nano')
      .meta({ description: 'instance type of a NAT instance (Graviton)', rules: '`t4g.nano` to `t4g.medium`' }),
  })
  .strict()
  .superRefine(({ azCount, natGateways }, ctx) => {
    if (natGateways > azCount) {
      ctx.addIssue({ code: 'custom', path: ['natGateways'], message: `more NAT gateways than AZs (${azCount}). Fix: use 1 to ${azCount}` });
    }
  });

type Network = z.output<typeof network>;

export const prodRules: readonly ProdRule<{ readonly network: Network }>[] = [
  {
    path: ['network', 'nat'],
    holds: (c) => c.network.nat === 'gateway',
    message: 'prod must not lose its egress (image pulls, AWS APIs) to one failed instance. Fix: set network.nat: "gateway"',
  },
  {
    path: ['network', 'flowLogs'],
    holds: (c) => c.network.flowLogs === 'all',
    message: 'prod must keep a record of every connection for investigations. Fix: set network.flowLogs: "all"',
  },
];
