import { z } from 'zod';
import { type ProdRule, vpcCidr } from '../fields';

// The DR region made ready before a disaster (docs/disaster-recovery.md, "When the primary region
// is lost"): what takes long to create, or needs the lost region, exists there already.

export const dr = z
  .object({
    pilotLight: z.boolean().default(false).meta({
      description:
        "keep a pilot light in `drRegion` (stack `<stage>-PilotLight`): a VPC without NAT, the subnet groups and security groups of the data tier, an idle internal load balancer with its certificate behind a second CloudFront VPC origin, the SES identity, and the release images in that region's registry, so a region loss is a restore and a deploy, not a build",
      rules: 'needs `backup.drCopies`, `edge.enabled` and `https`; prod: must be true',
    }),
    cidr: vpcCidr.optional().meta({
      description: "the DR VPC's IPv4 block; each subnet gets 1/16 of it",
      rules: 'required with `pilotLight`; as `network.cidr`, and apart from it (the two networks may be joined one day)',
    }),
    appTier: z.boolean().default(false).meta({
      description:
        'run the stage\'s data, app and operations tiers in `drRegion` (stack `<stage>-DrApp`) against the database restored there: the failover and the failover drill turn it on for their deploys (`-c <stage>.dr.appTier=true`); after a failover, commit it with `serveFrom: "dr"`',
      rules: 'needs `pilotLight`',
    }),
    drillIntervalDays: z.number().int().min(1).max(365).default(90).meta({
      description: 'days a stage with a pilot light may go without a completed failover drill (`npm run failover-drill`) before the `<stage>-failover-drill-stale` alarm',
      rules: '1 to 365',
    }),
    serveFrom: z.enum(['primary', 'dr']).default('primary').meta({
      description:
        'the region whose load balancer CloudFront sends viewers to: `dr` while the stage runs in its DR region after a failover (a deploy of the edge stack alone switches it; while it moves, viewers see the maintenance page)',
      rules: '`dr` needs `pilotLight` and `appTier`',
    }),
  })
  .strict()
  .superRefine((value, ctx) => {
    if (value.pilotLight && value.cidr === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['cidr'],
        message: 'the pilot light needs a VPC block in the DR region. Fix: set dr.cidr to a private block apart from network.cidr, e.g. "10.130.0.0/16"',
      });
    }
    if (value.appTier && !value.pilotLight) {
      ctx.addIssue({
        code: 'custom',
        path: ['appTier'],
        message: 'the DR app tier runs in the pilot light (its network, load balancer and subnet groups). Fix: set dr.pilotLight: true (and deploy it) first, or dr.appTier: false',
      });
    }
    if (value.serveFrom === 'dr' && value.pilotLight && !value.appTier) {
      ctx.addIssue({
        code: 'custom',
        path: ['serveFrom'],
        message:
          'CloudFront would send every viewer to the idle DR load balancer (the maintenance page). Fix: set dr.appTier: true with dr.serveFrom: "dr" (npm run failover does both), or dr.serveFrom: "primary"',
      });
    }
    if (value.serveFrom === 'dr' && !value.pilotLight) {
      ctx.addIssue({
        code: 'custom',
        path: ['serveFrom'],
        message:
          'there is no load balancer in the DR region to serve from without the pilot light. Fix: set dr.pilotLight: true (and deploy it) before serving from the DR region, or set dr.serveFrom: "primary"',
      });
    }
  })
  .prefault({})
  .meta({ description: 'what the DR region holds ready for a failover, and which region serves' });

type Dr = z.output<typeof dr>;

export const prodRules: readonly ProdRule<{ readonly dr: Dr }>[] = [
  {
    path: ['dr', 'pilotLight'],
    holds: (c) => c.dr.pilotLight,
    message: 'prod must be able to run in its DR region within the hour when its region is lost. Fix: set dr.pilotLight: true and dr.cidr',
  },
];
