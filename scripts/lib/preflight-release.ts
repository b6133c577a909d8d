/**
 * Preflight's checks of what the deploy will run: the image (in the stage's registry, tagged as a
 * release), the image the stage runs now, the database engine version it moves to, and the NAT
 * instances' pinned image.
 */
import { DescribeImagesCommand as DescribeMachineImagesCommand } from '@aws-sdk/client-ec2';
import { DescribeRepositoriesCommand } from '@aws-sdk/client-ecr';
import { DescribeDBInstancesCommand } from '@aws-sdk/client-rds';
import type { StageConfig } from '../../lib/config';
import { engineChange, engineChangeProblem, MAJOR_UPGRADE_RUNBOOK } from '../../lib/data/engine-version';
import { natImage } from '../../lib/network/nat-instances';
import { stageResourceName } from '../../lib/shared/naming';
import type { Check, PreflightClients, PreflightOptions } from './preflight';
import { named, unlessNotFound } from './preflight-check';
import { imageRef, runningRelease } from './release';
import { findImage, releaseTagCommand } from './release-tags';

export async function imageCheck(config: StageConfig, clients: PreflightClients, options: PreflightOptions): Promise<Omit<Check, 'name'>> {
  const image = options.image ?? config.image.tag;
  const where = `${config.account}/${config.region} ${config.image.repositoryName}`;
  const deadline = options.now().getTime() + (options.waitForImageSeconds ?? 0) * 1000;
  for (;;) {
    try {
      const found = await findImage(clients.ecr, config.image.repositoryName, image);
      if (found?.released) return { status: 'ok', detail: `${image} is in ${where} (${found.digest}), tagged as a release` };
      if (found)
        return {
          status: 'missing',
          detail: `${image} is in ${where} (${found.digest}) but not tagged as a release: its build tags expire after 30 days`,
          fix: releaseTagCommand(config.name, found.digest),
        };
    } catch (error) {
      if (!named(error, 'RepositoryNotFound')) throw error;
    }
    if (!(await repositoryExists(clients.ecr, config.image.repositoryName))) {
      return {
        status: 'missing',
        detail: `${where}: the repository does not exist`,
        fix: `deploy the registry stack first: npx cdk deploy Registry-${config.account}-${config.region}-${config.image.repositoryName}`,
      };
    }
    if (options.now().getTime() >= deadline) break;
    await options.sleep(10_000);
  }
  const { source } = config.image;
  const fromSource = source.account !== config.account || source.region !== config.region;
  return {
    status: 'missing',
    detail: `${image} is not in ${where}${options.waitForImageSeconds ? ` after waiting ${options.waitForImageSeconds} s` : ''}`,
    fix: fromSource
      ? `CI pushes to ${source.account}/${source.region}, which replicates it here within minutes of the push. Check it was pushed and replicated: aws ecr describe-image-replication-status --registry-id ${source.account} --region ${source.region} --repository-name ${config.image.repositoryName} --image-id ${image.startsWith('sha256:') ? `imageDigest=${image}` : `imageTag=${image}`} (images pushed before the replication rule existed are never copied: push them again)`
      : `push it: docker buildx build --platform linux/arm64 --provenance=false -t ${config.account}.dkr.ecr.${config.region}.amazonaws.com/${config.image.repositoryName}:${image} --push .`,
  };
}

/** Whether the registry `ecr` reaches holds the repository (a registry stack not deployed yet does not). */
export async function repositoryExists(ecr: PreflightClients['ecr'], repositoryName: string): Promise<boolean> {
  return (await unlessNotFound(ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [repositoryName] })), 'RepositoryNotFound')) !== undefined;
}

/**
 * The image the stage runs now must be a release too: its build tags would expire under it, and
 * scale-out, task replacement and rollback to it would then fail to pull. Stages deployed before
 * releases were tagged pass once `release-tag --running` tagged it.
 */
export async function runningReleaseCheck(config: StageConfig, clients: PreflightClients): Promise<Omit<Check, 'name'>> {
  const running = await runningRelease(clients, config.name);
  if (!running) return { status: 'ok', detail: `${config.name} runs no web service yet` };
  const ref = imageRef(running.image);
  const found = await findImage(clients.ecr, config.image.repositoryName, ref);
  if (found?.released) return { status: 'ok', detail: `${config.name} runs ${ref}, a release` };
  return {
    status: 'missing',
    detail: found
      ? `${config.name} runs ${ref} (${found.digest}), which is not tagged as a release: its build tags expire after 30 days`
      : `${config.name} runs ${ref}, which is no longer in its registry: new tasks cannot start`,
    fix: found
      ? `npm run release-tag -- --stage ${config.name} --running --yes`
      : `deploy a release that is in the registry: npm run deploy -- --stage ${config.name} --image <release>`,
  };
}

/** The engine version the deploy asks for, against the one the stage's instance runs (RDS upgrades only forward, majors only when allowed). */
export async function engineCheck(config: StageConfig, clients: PreflightClients): Promise<Omit<Check, 'name'>> {
  const identifier = stageResourceName(config.name);
  const { engineVersion: wanted, allowMajorVersionUpgrade } = config.database;
  let running: string | undefined;
  try {
    running = (await clients.rds(config.region).send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: identifier })))?.DBInstances?.[0]?.EngineVersion;
  } catch (error) {
    if (!named(error, 'DBInstanceNotFound')) throw error;
  }
  if (!running) return { status: 'ok', detail: `no ${identifier} instance yet: the deploy creates it on PostgreSQL ${wanted}` };
  const problem = engineChangeProblem(running, wanted, allowMajorVersionUpgrade);
  if (problem) {
    const [detail, fix] = problem.split(' Fix: ');
    return { status: 'missing', detail, fix };
  }
  const change = engineChange(running, wanted, allowMajorVersionUpgrade);
  if (change.kind === 'major') {
    return {
      status: 'warn',
      detail: `the deploy upgrades ${identifier} from PostgreSQL ${running} to ${wanted} in place: the database is down for the upgrade (minutes, more with more data), and the database setup runs again`,
      fix: `follow ${MAJOR_UPGRADE_RUNBOOK}; afterwards set database.allowMajorVersionUpgrade: false`,
    };
  }
  if (allowMajorVersionUpgrade) {
    return {
      status: 'warn',
      detail: `${identifier} runs PostgreSQL ${running} already; database.allowMajorVersionUpgrade is still on`,
      fix: 'set database.allowMajorVersionUpgrade: false',
    };
  }
  return {
    status: 'ok',
    detail:
      change.kind === 'minor'
        ? `the deploy upgrades ${identifier} from PostgreSQL ${running} to ${wanted} (a minor upgrade: a restart)`
        : `${identifier} runs PostgreSQL ${running}, as configured`,
  };
}

/**
 * The NAT instances' pinned image: it must exist in the region as an arm64 Amazon Linux 2023 image
 * (the boot script is written for it); a deprecated one still launches, but it is time to refresh.
 */
export async function natImageCheck(config: StageConfig, clients: PreflightClients, options: PreflightOptions): Promise<Omit<Check, 'name'>> {
  const pinned = natImage(config.region);
  const refresh = `npm run nat-image -- --region ${config.region} --write, then deploy ${config.name}/Network (it replaces the NAT instances)`;
  if ('problem' in pinned) return { status: 'missing', detail: pinned.problem, fix: refresh };
  const [image] = (await clients.ec2.send(new DescribeMachineImagesCommand({ ImageIds: [pinned.imageId] }))).Images ?? [];
  if (image?.State !== 'available') {
    return { status: 'missing', detail: `the pinned image ${pinned.imageId} is not available in ${config.region}${image ? ` (${image.State})` : ''}`, fix: refresh };
  }
  if (image.Architecture !== 'arm64' || !image.Name?.startsWith('al2023-ami-')) {
    return { status: 'missing', detail: `the pinned image ${pinned.imageId} is ${image.Name} (${image.Architecture}), not Amazon Linux 2023 for arm64`, fix: refresh };
  }
  if (image.DeprecationTime && new Date(image.DeprecationTime) <= options.now()) {
    return {
      status: 'warn',
      detail: `the pinned image ${image.Name} is deprecated since ${image.DeprecationTime}: it still launches, without newer security updates`,
      fix: refresh,
    };
  }
  return { status: 'ok', detail: `${image.Name} (${pinned.imageId})` };
}
