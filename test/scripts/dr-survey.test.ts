import { describe, expect, test } from 'vitest';
import { pilotLightNames } from '../../lib/dr/pilot-light-names';
import { releaseTag } from '../../lib/registry/release-tag';
import { type RegionClients, type Survey, surveyDr, surveyLines, surveyProblems } from '../../scripts/lib/dr-survey';
import { operatorConfig } from '../../scripts/lib/release';

// What the survey picks among many: moto cannot set restore windows, push times or recovery
// points, so each client here answers from a table (by command name), as the API would.
const config = operatorConfig('prod', { account: '123456789012', context: {} }, {});
const T = (minutesAgo: number) => new Date(Date.parse('2026-12-07T03:00:00Z') - minutesAgo * 60_000);
const digest = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;

type Answers = Record<string, (input: Record<string, unknown>) => unknown>;
const client = (answers: Answers) => ({
  send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
    const answer = answers[command.constructor.name];
    if (!answer) throw new Error(`unexpected ${command.constructor.name}`);
    return answer(command.input);
  },
});
const notFound = (name: string, message = 'not found') => {
  throw Object.assign(new Error(message), { name });
};

function clients(overrides: Partial<Record<keyof RegionClients, Answers>> = {}): RegionClients {
  const answers: Record<keyof RegionClients, Answers> = {
    rds: {
      // The DR region's own instance of that name (a failover's restore) is there too: its backups are not what a restore starts from.
      DescribeDBInstancesCommand: () => ({ DBInstances: [{ DBInstanceIdentifier: 'webapp-prod', DbiResourceId: 'db-LOCAL' }] }),
      // The newest is on the second page, after the DR instance's own and an older one.
      DescribeDBInstanceAutomatedBackupsCommand: (input) =>
        input.Marker
          ? {
              DBInstanceAutomatedBackups: [
                {
                  DBInstanceIdentifier: 'webapp-prod',
                  DbiResourceId: 'db-NEW',
                  DBInstanceAutomatedBackupsArn: 'arn:new',
                  RestoreWindow: { EarliestTime: T(20_000), LatestTime: T(7) },
                },
              ],
            }
          : {
              Marker: 'page-2',
              DBInstanceAutomatedBackups: [
                { DBInstanceIdentifier: 'webapp-prod', DbiResourceId: 'db-OLD', DBInstanceAutomatedBackupsArn: 'arn:old', RestoreWindow: { LatestTime: T(600) } },
                { DBInstanceIdentifier: 'webapp-prod', DbiResourceId: 'db-LOCAL', DBInstanceAutomatedBackupsArn: 'arn:local', RestoreWindow: { LatestTime: T(1) } },
                { DBInstanceIdentifier: 'webapp-other', DbiResourceId: 'db-X', DBInstanceAutomatedBackupsArn: 'arn:other', RestoreWindow: { LatestTime: T(0) } },
                { DBInstanceIdentifier: 'webapp-prod', DbiResourceId: 'db-NOWINDOW', DBInstanceAutomatedBackupsArn: 'arn:nowindow' },
              ],
            },
    },
    backup: {
      ListBackupVaultsCommand: () => ({ BackupVaultList: [{ BackupVaultName: 'webapp-prod-0123456789ab' }, { BackupVaultName: 'webapp-prod-dr-0123456789ab' }] }),
      ListRecoveryPointsByBackupVaultCommand: (input) => {
        expect(input.BackupVaultName).toBe('webapp-prod-dr-0123456789ab');
        // The newest completed one is on the second page, after an older one and a failed newer one.
        return input.NextToken
          ? { RecoveryPoints: [{ Status: 'COMPLETED', CreationDate: T(300) }] }
          : {
              NextToken: 'more',
              RecoveryPoints: [
                { Status: 'COMPLETED', CreationDate: T(1500) },
                { Status: 'FAILED', CreationDate: T(10) },
              ],
            };
      },
    },
    cfn: {
      DescribeStacksCommand: (input) => {
        if (input.StackName === 'prod-Dr')
          return {
            Stacks: [
              {
                Outputs: [
                  { OutputKey: 'BackupKeyArn', OutputValue: 'arn:key' },
                  { OutputKey: 'UploadsReplicaBucketName', OutputValue: 'replica' },
                ],
              },
            ],
          };
        if (input.StackName === pilotLightNames('prod').stackName) return { Stacks: [{ Outputs: [{ OutputKey: 'VpcId', OutputValue: 'vpc-1' }] }] };
        return notFound('ValidationError', `Stack with id ${input.StackName} does not exist`);
      },
    },
    ecr: {
      DescribeImagesCommand: (input) => {
        if (input.imageIds) {
          const [id] = input.imageIds as { imageTag?: string }[];
          return { imageDetails: id.imageTag === 'v2.0.0' ? [{ imageDigest: digest(2), imageTags: ['v2.0.0', releaseTag(digest(2))] }] : [] };
        }
        // The newest release is on the second page, after an older release and a newer build that is none.
        return input.nextToken
          ? { imageDetails: [{ imageDigest: digest(2), imageTags: ['v2.0.0', releaseTag(digest(2))], imagePushedAt: T(100) }] }
          : {
              nextToken: 'page-2',
              imageDetails: [
                { imageDigest: digest(1), imageTags: [releaseTag(digest(1))], imagePushedAt: T(5000) },
                { imageDigest: digest(3), imageTags: ['sha-unreleased'], imagePushedAt: T(1) },
              ],
            };
      },
    },
    ssm: { GetParameterCommand: () => ({ Parameter: { Value: JSON.stringify({ at: '2026-11-30T10:00:00.000Z', minutes: { restore: 21.5 } }) } }) },
    ecs: {},
    lambda: {},
    s3: {},
    autoScaling: {},
    sts: {},
    ...overrides,
  };
  return Object.fromEntries(Object.entries(answers).map(([key, a]) => [key, client(a)])) as unknown as RegionClients;
}

describe('what the survey picks', () => {
  test('the newest replicated backups of the stage database but its own DR instance, across pages; the newest completed copy of the DR vault; the newest release', async () => {
    const survey = await surveyDr(config, clients(), T(0));
    expect(survey.backups).toEqual({ arn: 'arn:new', earliest: T(20_000), latest: T(7) });
    expect(survey.vaultCopy).toEqual({ vault: 'webapp-prod-dr-0123456789ab', created: T(300) });
    expect(survey.image).toEqual({ ref: digest(2), digest: digest(2), pushedAt: T(100) });
    expect(survey.drill).toEqual({ at: '2026-11-30T10:00:00.000Z', minutes: { restore: 21.5 } });
    expect(survey.uploadsReplica).toBe('replica');
    expect(surveyLines(config, survey).join('\n')).toContain('RPO: the writes of the last 7 minutes before that are lost (within the 15-minute RPO)');
  });

  test('an image asked for by tag is taken only when released; a registry without the repository has none; a drill record that is not JSON is none', async () => {
    expect((await surveyDr(config, clients(), T(0), 'v2.0.0')).image).toEqual({ ref: 'v2.0.0', digest: digest(2) });
    expect((await surveyDr(config, clients(), T(0), 'v9.9.9')).image).toBeUndefined();
    const noRepository = clients({ ecr: { DescribeImagesCommand: () => notFound('RepositoryNotFoundException') } });
    expect((await surveyDr(config, noRepository, T(0))).image).toBeUndefined();
    const broken = clients({ ssm: { GetParameterCommand: () => ({ Parameter: { Value: '{not json' } }) } });
    expect((await surveyDr(config, broken, T(0))).drill).toBeUndefined();
    // Anything but "not there" stops the survey rather than passing for an absence.
    const throttled = clients({ ecr: { DescribeImagesCommand: () => notFound('ThrottlingException') } });
    await expect(surveyDr(config, throttled, T(0))).rejects.toThrow();
    const cfnThrottled = clients({ cfn: { DescribeStacksCommand: () => notFound('ValidationError', 'Rate exceeded') } });
    await expect(surveyDr(config, cfnThrottled, T(0))).rejects.toThrow('Rate exceeded');
    const noStacks = clients({ cfn: { DescribeStacksCommand: (input) => notFound('ValidationError', `Stack with id ${input.StackName} does not exist`) } });
    const bare = await surveyDr(config, noStacks, T(0));
    expect([bare.pilotLight, bare.drOutputs, bare.drBackupKeyArn]).toEqual([undefined, undefined, undefined]);
  });

  test("replicated backups of another PostgreSQL major than the config's (and the pilot light's parameter group) are refused before the restore", async () => {
    const survey = await surveyDr(config, clients(), T(0));
    const major = config.database.engineVersion.split('.')[0];
    const same = { ...survey, backups: { ...survey.backups!, engineVersion: `${major}.1` } };
    expect(surveyProblems(config, same, 'latest').filter((p) => p.includes('PostgreSQL'))).toEqual([]);
    const older = { ...survey, backups: { ...survey.backups!, engineVersion: `${Number(major) - 1}.9` } };
    expect(surveyProblems(config, older, 'latest').filter((p) => p.includes('PostgreSQL'))).toEqual([
      expect.stringMatching(new RegExp(`^the replicated backups are PostgreSQL ${Number(major) - 1}\\.9, the config .* ${config.database.engineVersion}: .*--only PilotLight`)),
    ]);
  });

  test('replication behind the RPO is said; a time outside the restorable window is refused at either end', async () => {
    const survey: Survey = { ...(await surveyDr(config, clients(), T(0))), backups: { arn: 'arn:new', earliest: T(600), latest: T(30) } };
    expect(surveyLines(config, survey).join('\n')).toContain('the last 30 minutes before that are lost (beyond the 15-minute RPO: replication had fallen behind)');
    const outside = (time: Date) => surveyProblems(config, survey, time).filter((p) => p.includes('outside the restorable window'));
    expect(outside(T(601))).toHaveLength(1);
    expect(outside(T(29))).toHaveLength(1);
    expect(outside(T(600))).toEqual([]);
    expect(outside(T(30))).toEqual([]);
  });
});
