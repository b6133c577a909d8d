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
    serveFrom: z.enum(['primary', 'dr']).default('primary').meta({
      description:
        'the region whose load balancer CloudFront sends viewers to: `dr` while the stage runs in its DR region after a failover (a deploy of the edge stack alone switches it; while it moves, viewers see the maintenance page)',
      rules: '`dr` needs `pilotLight`',
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
