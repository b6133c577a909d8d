import { createHash } from 'node:crypto';
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import {
  CreateClusterCommand,
  CreateServiceCommand,
  DescribeServicesCommand,
  DescribeTasksCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
} from '@aws-sdk/client-ecs';
import { GetFindingsCommand, GuardDutyClient } from '@aws-sdk/client-guardduty';
import { CreateRoleCommand, GetRolePolicyCommand, IAMClient, ListRolePoliciesCommand } from '@aws-sdk/client-iam';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectLockConfigurationCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateSecretCommand, DescribeSecretCommand, InvalidRequestException, RotateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, describe, expect, test } from 'vitest';
import { BASELINE_OUTPUTS } from '../../lib/baseline/baseline-stack';
import { EVIDENCE_RETENTION_DAYS } from '../../lib/baseline/evidence-bucket';
import { main as contain, parseArgs as containArgs } from '../../scripts/contain';
import { main as evidence, parseArgs as evidenceArgs } from '../../scripts/evidence';
import type { Manifest } from '../../scripts/lib/evidence';
import { REVOKE_POLICY_NAME, type RegionClients } from '../../scripts/lib/incident';
import { printed } from '../support/console';
import { type Moto, startMoto } from '../support/moto';

/**
 * The incident commands against moto's ECS, CloudWatch Logs, S3, KMS, IAM, Secrets Manager and
 * CloudFormation, in a region of their own. moto runs Fargate tasks (RunTask) but starts none for a
 * service, so the suspect is run with the service's group, as ECS gives a service's tasks. moto
 * 5.2 has no GuardDuty GetFindings: that one call is answered by aws-sdk-client-mock. moto's tasks
 * carry no createdAt, so the trail is read over the week before NOW, where the events are put.
 */
const REGION = 'us-west-1';
const ACCOUNT = '210000000035'; // this file's own account on the shared moto server
const AT = ['--account', ACCOUNT, '-c', `staging.region=${REGION}`];
const NOW = new Date('2026-12-07T03:00:00Z');
const FINDING = 'a'.repeat(32);
const FINDING_BODY = { Id: FINDING, Type: 'Execution:Runtime/NewBinaryExecuted', Severity: 8, Resource: { ResourceType: 'ECSCluster' } };
const DETECTOR = 'd'.repeat(32);
const TRAIL_GROUP = 'incident-test-trail';
const APP_GROUP = 'incident-test-web-logs';
const ROLE = 'incident-test-web-task-role';
const BUCKET = 'incident-test-evidence';
const CLUSTER = 'incident-test-cluster';
const SERVICE = 'incident-test-web';

let moto: Moto;
let clients: RegionClients;
let keyArn: string;
let tokenArn: string;
/** The suspect of the evidence tests and the one contain stops (each command run gets a task of its own). */
let runTask: () => Promise<{ arn: string; id: string }>;
let bystander: string;

const run = (entry: typeof evidence, argv: string[]) => printed(() => entry(argv, {}, () => clients, NOW));
const objects = async (prefix: string) => ((await clients.s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }))).Contents ?? []).map((o) => o.Key!).sort();
const body = async (key: string) => await (await clients.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToString();

beforeAll(async () => {
  moto = await startMoto({ as: 'webapp-break-glass', account: ACCOUNT });
  const cfg = moto.clientConfig(REGION);
  const guardduty = new GuardDutyClient(cfg);
  mockClient(guardduty)
    .on(GetFindingsCommand)
    .callsFake((input) => ({ Findings: input.DetectorId === DETECTOR && input.FindingIds?.includes(FINDING) ? [FINDING_BODY] : [] }));
  clients = {
    sts: new STSClient(cfg),
    cfn: new CloudFormationClient(cfg),
    ecs: new ECSClient(cfg),
    logs: new CloudWatchLogsClient(cfg),
    guardduty,
    s3: new S3Client({ ...cfg, forcePathStyle: true }),
    iam: new IAMClient(cfg),
    secrets: new SecretsManagerClient(cfg),
  };

  keyArn = (await new KMSClient(cfg).send(new CreateKeyCommand({ Description: 'evidence' }))).KeyMetadata!.Arn!;
  await clients.s3.send(new CreateBucketCommand({ Bucket: BUCKET, CreateBucketConfiguration: { LocationConstraint: REGION }, ObjectLockEnabledForBucket: true }));
  await clients.s3.send(
    new PutObjectLockConfigurationCommand({
      Bucket: BUCKET,
      ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: EVIDENCE_RETENTION_DAYS } } },
    }),
  );
  const stack = async (name: string, outputs: Record<string, string>) =>
    clients.cfn.send(
      new CreateStackCommand({
        StackName: name,
        TemplateBody: JSON.stringify({
          Resources: { Topic: { Type: 'AWS::SNS::Topic' } },
          Outputs: Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, { Value: v }])),
        }),
      }),
    );
  await stack('staging-App', { ClusterName: CLUSTER });
  await stack(`Baseline-${ACCOUNT}-${REGION}`, {
    [BASELINE_OUTPUTS.evidenceBucket]: BUCKET,
    [BASELINE_OUTPUTS.evidenceKey]: keyArn,
    [BASELINE_OUTPUTS.trailLogGroup]: TRAIL_GROUP,
    [BASELINE_OUTPUTS.detector]: DETECTOR,
  });

  const roleArn = (await clients.iam.send(new CreateRoleCommand({ RoleName: ROLE, AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [] }) }))).Role!
    .Arn!;
  tokenArn = (await clients.secrets.send(new CreateSecretCommand({ Name: 'incident-test-cache-token', SecretString: 'old-token' }))).ARN!;

  await clients.ecs.send(new CreateClusterCommand({ clusterName: CLUSTER }));
  const definition = (
    await clients.ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'incident-test-web',
        // The app's tasks are awsvpc; moto 5.2 fails to run one (its ENI lacks a DNS name), so the
        // stand-in runs in bridge mode: the task then has no network attachment to print.
        networkMode: 'bridge',
        cpu: '256',
        memory: '512',
        taskRoleArn: roleArn,
        containerDefinitions: [
          {
            name: 'app',
            image: 'webapp:v1',
            // moto sums the containers' memory to place a task.
            memory: 512,
            secrets: [{ name: 'REDIS_AUTH_TOKEN', valueFrom: tokenArn }],
            logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': APP_GROUP, 'awslogs-stream-prefix': 'web', 'awslogs-region': REGION } },
          },
        ],
      }),
    )
  ).taskDefinition!.taskDefinitionArn!;
  await clients.ecs.send(
    new CreateServiceCommand({
      cluster: CLUSTER,
      serviceName: SERVICE,
      taskDefinition: definition,
      desiredCount: 1,
      launchType: 'FARGATE',
    }),
  );
  await clients.logs.send(new CreateLogGroupCommand({ logGroupName: APP_GROUP }));
  await clients.logs.send(new CreateLogGroupCommand({ logGroupName: TRAIL_GROUP }));
  const logEvents = async (groupName: string, stream: string, messages: string[]) => {
    await clients.logs.send(new CreateLogStreamCommand({ logGroupName: groupName, logStreamName: stream }));
    await clients.logs.send(
      new PutLogEventsCommand({ logGroupName: groupName, logStreamName: stream, logEvents: messages.map((message, i) => ({ timestamp: NOW.getTime() - 60_000 + i, message })) }),
    );
  };
  runTask = async () => {
    const task = (
      await clients.ecs.send(
        new RunTaskCommand({
          cluster: CLUSTER,
          taskDefinition: definition,
          launchType: 'FARGATE',
          group: `service:${SERVICE}`,
        }),
      )
    ).tasks![0];
    const id = task.taskArn!.split('/').pop()!;
    await logEvents(APP_GROUP, `web/app/${id}`, [`started ${id}`, 'GET /api/health 200', 'spawned /tmp/x']);
    await logEvents(TRAIL_GROUP, `trail-${id}`, [
      JSON.stringify({ eventName: 'GetObject', userIdentity: { arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${ROLE}/${id}` } }),
      JSON.stringify({ eventName: 'ListBuckets', userIdentity: { arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${ROLE}/another-task` } }),
      JSON.stringify({ eventName: 'DescribeInstances', userIdentity: { arn: `arn:aws:sts::${ACCOUNT}:assumed-role/someone-else/x` } }),
    ]);
    return { arn: task.taskArn!, id };
  };
  bystander = (await runTask()).id;
});

describe('npm run evidence', () => {
  test('without --yes says what it would collect and writes nothing', async () => {
    const { id } = await runTask();
    const out = await run(evidence, ['--stage', 'staging', ...AT, '--task', id, '--finding', FINDING]);
    expect(out.result).toBe(0);
    expect(out.stdout).toContain(`would collect the evidence of task ${id} into s3://${BUCKET}/incidents/staging/${id}/2026-12-07T03-00-00-000Z/`);
    for (const name of ['task.json', 'task-definition.json', 'logs/app.jsonl', 'cloudtrail-task.jsonl', 'cloudtrail-role.jsonl', `guardduty-finding-${FINDING}.json`]) {
      expect(out.stdout).toContain(`  ${name}: `);
    }
    expect(out.stdout).toContain(`  logs/app.jsonl: logs ${APP_GROUP} web/app/${id}`);
    expect(out.stdout).toContain('dry run: nothing collected. Run again with --yes.');
    expect(await objects(`incidents/staging/${id}/`)).toEqual([]);
  });

  test('with --yes writes each piece encrypted with the evidence key under Object Lock, and a manifest of their SHA-256', async () => {
    const { id, arn } = await runTask();
    const out = await run(evidence, ['--stage', 'staging', ...AT, '--task', arn, '--finding', FINDING, '--yes']);
    expect(out.stderr).toBe('');
    expect(out.result).toBe(0);
    const prefix = `incidents/staging/${id}/2026-12-07T03-00-00-000Z/`;
    const names = ['task.json', 'task-definition.json', 'logs/app.jsonl', 'cloudtrail-task.jsonl', 'cloudtrail-role.jsonl', `guardduty-finding-${FINDING}.json`];
    expect(await objects(prefix)).toEqual([...names, 'manifest.json'].map((n) => `${prefix}${n}`).sort());

    const manifestText = await body(`${prefix}manifest.json`);
    const manifest = JSON.parse(manifestText) as Manifest;
    expect(manifest).toMatchObject({ stage: 'staging', task: arn, finding: FINDING, collectedAt: NOW.toISOString(), notCollected: [] });
    expect(manifest.collectedBy).toMatch(/^arn:aws:sts::210000000035:/);
    expect(manifest.objects.map((o) => o.key)).toEqual(names.map((n) => `${prefix}${n}`));
    for (const entry of manifest.objects) {
      const text = await body(entry.key);
      expect(entry.sha256, entry.key).toBe(createHash('sha256').update(text).digest('hex'));
      expect(entry.bytes, entry.key).toBe(Buffer.byteLength(text));
      const head = await clients.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: entry.key }));
      expect(head.ServerSideEncryption).toBe('aws:kms');
      expect(head.SSEKMSKeyId).toBe(keyArn);
      expect(head.ObjectLockMode).toBe('GOVERNANCE');
    }
    expect(out.stdout).toContain(`(SHA-256 ${createHash('sha256').update(manifestText).digest('hex')}: note it in the incident record)`);

    // What each piece holds: this task's stream only, the trail's events that name it or its role, the finding.
    expect(JSON.parse(await body(`${prefix}task.json`)).taskArn).toBe(arn);
    const logLines = (await body(`${prefix}logs/app.jsonl`))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).message);
    expect(logLines).toEqual([`started ${id}`, 'GET /api/health 200', 'spawned /tmp/x']);
    const events = async (name: string) =>
      (await body(`${prefix}${name}`))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(JSON.parse(l).message).userIdentity.arn);
    expect(await events('cloudtrail-task.jsonl')).toEqual([`arn:aws:sts::${ACCOUNT}:assumed-role/${ROLE}/${id}`]);
    const byRole = await events('cloudtrail-role.jsonl');
    expect(byRole).toContain(`arn:aws:sts::${ACCOUNT}:assumed-role/${ROLE}/${id}`);
    expect(byRole).toContain(`arn:aws:sts::${ACCOUNT}:assumed-role/${ROLE}/${bystander}`);
    expect(byRole.some((a) => a.includes('someone-else'))).toBe(false);
    expect(JSON.parse(await body(`${prefix}guardduty-finding-${FINDING}.json`))).toEqual([FINDING_BODY]);
  });

  test('says in the manifest what it could not collect, and collects the rest', async () => {
    const { id } = await runTask();
    const unknown = 'b'.repeat(32);
    const out = await run(evidence, ['--stage', 'staging', ...AT, '--task', id, '--finding', unknown, '--yes']);
    expect(out.result).toBe(0);
    const prefix = `incidents/staging/${id}/2026-12-07T03-00-00-000Z/`;
    const manifest = JSON.parse(await body(`${prefix}manifest.json`)) as Manifest;
    expect(manifest.notCollected).toEqual([`finding ${unknown}: GuardDuty has no such finding in detector ${DETECTOR}`]);
    expect(manifest.objects).toHaveLength(5);
  });

  test('refuses a task the stage does not run, an ARN of another region, and a bad --finding, naming the fix', async () => {
    const missing = await run(evidence, ['--stage', 'staging', ...AT, '--task', 'f'.repeat(32)]);
    expect(missing.result).toBe(2);
    expect(missing.stderr).toMatch(/^evidence: no task f{32} in staging's cluster incident-test-cluster \(us-west-1\)\..* Fix: /);
    const elsewhere = await run(evidence, ['--stage', 'staging', ...AT, '--task', `arn:aws:ecs:eu-west-1:${ACCOUNT}:task/${CLUSTER}/${'e'.repeat(32)}`]);
    expect(elsewhere.result).toBe(2);
    expect(elsewhere.stderr).toContain(`is not in staging's account ${ACCOUNT} and region ${REGION}. Fix: run with the stage that runs it.`);
    expect(() => evidenceArgs(['--stage', 'staging', '--task', 'x', '--finding', 'not-a-finding'])).toThrow(/--finding takes a GuardDuty finding id .*, not "not-a-finding"/);
    expect(() => evidenceArgs(['--stage', 'staging'])).toThrow(/--task is required/);
    expect(() => containArgs(['--stage', 'staging', '--task', 'a b'])).toThrow(/--task takes a task id .* not "a b"\. Fix: /);
  });
});

describe('npm run contain', () => {
  const inlinePolicies = async () => (await clients.iam.send(new ListRolePoliciesCommand({ RoleName: ROLE }))).PolicyNames ?? [];
  const status = async (arn: string) => (await clients.ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: [arn] }))).tasks![0];
  const versions = async () => (await clients.secrets.send(new DescribeSecretCommand({ SecretId: tokenArn }))).VersionIdsToStages;
  const deployment = async () => (await clients.ecs.send(new DescribeServicesCommand({ cluster: CLUSTER, services: [SERVICE] }))).services![0].deployments?.[0]?.id;

  test('without --yes says each step and changes nothing', async () => {
    const { id, arn } = await runTask();
    const [tokenBefore, deploymentBefore] = [await versions(), await deployment()];
    const out = await run(contain, ['--stage', 'staging', ...AT, '--task', id]);
    expect(out.result).toBe(0);
    expect(out.stdout).toContain(`  1. would revoke every session of its role ${ROLE} issued before 2026-12-07T03:00:00.000Z (inline policy ${REVOKE_POLICY_NAME})`);
    expect(out.stdout).toContain(`  5. would rotate the cache AUTH token it held (${tokenArn})`);
    expect(out.stdout).toContain(`  4. would start a new deployment of ${SERVICE}`);
    expect(out.stdout).toContain('dry run: nothing changed. Run again with --yes.');
    expect(await inlinePolicies()).toEqual([]);
    expect((await status(arn)).desiredStatus).toBe('RUNNING');
    expect(await versions()).toEqual(tokenBefore);
    expect(await deployment()).toBe(deploymentBefore);
    expect(await objects(`incidents/staging/${id}/`)).toEqual([]);
  });

  test("with --yes revokes the role's older sessions, keeps the evidence, stops the task, rotates its token and redeploys its service", async () => {
    const { id, arn } = await runTask();
    const [tokenBefore, deploymentBefore] = [await versions(), await deployment()];
    expect(deploymentBefore).toBeDefined();
    const out = await run(contain, ['--stage', 'staging', ...AT, '--task', id, '--yes']);
    expect(out.stderr).toBe('');
    expect(out.result).toBe(0);

    expect(await inlinePolicies()).toEqual([REVOKE_POLICY_NAME]);
    const policy = await clients.iam.send(new GetRolePolicyCommand({ RoleName: ROLE, PolicyName: REVOKE_POLICY_NAME }));
    expect(JSON.parse(decodeURIComponent(policy.PolicyDocument!))).toEqual({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Deny', Action: ['*'], Resource: ['*'], Condition: { DateLessThan: { 'aws:TokenIssueTime': '2026-12-07T03:00:00.000Z' } } }],
    });
    const prefix = `incidents/staging/${id}/2026-12-07T03-00-00-000Z/`;
    expect(await objects(prefix)).toContain(`${prefix}manifest.json`);
    const stopped = await status(arn);
    expect(stopped.desiredStatus).toBe('STOPPED');
    expect(stopped.stoppedReason).toBe(`Contained (security incident); evidence ${prefix}manifest.json`);
    // moto has no rotation function to call: it moves the stages itself, as a finished rotation would.
    expect(await versions()).not.toEqual(tokenBefore);
    expect(await deployment()).not.toBe(deploymentBefore);
    expect(out.stdout).toContain(`started a new deployment of ${SERVICE}.`);
    expect(out.stdout).toContain("SELECT pid, backend_start FROM pg_stat_activity WHERE usename = 'webapp_app';");
    // The order matters: the sessions go first and the task right after (a session ECS issued it
    // after the revocation's time would not be denied); the evidence outlives it.
    const steps = ['revoked the sessions', `stopped ${id}`, 'wrote 5 objects', 'started a new deployment', 'rotation of the cache AUTH token started'];
    expect(steps.map((s) => out.stdout.indexOf(s))).toEqual(steps.map((s) => out.stdout.indexOf(s)).sort((a, b) => a - b));
    expect(steps.every((s) => out.stdout.includes(s))).toBe(true);
  });

  test('a rotation Secrets Manager refuses is reported after the rest is done, and the command exits 1', async () => {
    // moto starts a rotation whatever the secret's state; Secrets Manager refuses one while another
    // has not finished. That refusal alone comes from aws-sdk-client-mock.
    const secrets = new SecretsManagerClient(moto.clientConfig(REGION));
    mockClient(secrets)
      .on(RotateSecretCommand)
      .rejects(new InvalidRequestException({ message: 'A previous rotation isn’t complete. That rotation will be reattempted.', $metadata: {} }));
    const { id, arn } = await runTask();
    const deploymentBefore = await deployment();
    const out = await printed(() => contain(['--stage', 'staging', ...AT, '--task', id, '--yes'], {}, () => ({ ...clients, secrets }), NOW));
    expect(out.result).toBe(1);
    expect(out.stdout).toContain(
      `FAILED to start the rotation of the cache AUTH token (InvalidRequestException: A previous rotation isn’t complete. That rotation will be reattempted.). Start it by hand: aws secretsmanager rotate-secret --secret-id ${tokenArn}`,
    );
    expect(await deployment()).not.toBe(deploymentBefore);
    expect((await status(arn)).desiredStatus).toBe('STOPPED');
  });

  test('refuses before it changes anything where the account has no evidence bucket', async () => {
    // A region of its own with the stage's cluster and a task, and no baseline stack.
    const region = 'us-east-2';
    const cfg = moto.clientConfig(region);
    const [cfn, ecs] = [new CloudFormationClient(cfg), new ECSClient(cfg)];
    const role = 'incident-test-unprotected-role';
    const roleArn = (await clients.iam.send(new CreateRoleCommand({ RoleName: role, AssumeRolePolicyDocument: '{"Version":"2012-10-17","Statement":[]}' }))).Role!.Arn!;
    await cfn.send(
      new CreateStackCommand({
        StackName: 'staging-App',
        TemplateBody: JSON.stringify({ Resources: { T: { Type: 'AWS::SNS::Topic' } }, Outputs: { ClusterName: { Value: CLUSTER } } }),
      }),
    );
    await ecs.send(new CreateClusterCommand({ clusterName: CLUSTER }));
    const definition = (
      await ecs.send(
        new RegisterTaskDefinitionCommand({
          family: 'incident-test-web',
          networkMode: 'bridge',
          taskRoleArn: roleArn,
          containerDefinitions: [{ name: 'app', image: 'webapp:v1', memory: 512 }],
        }),
      )
    ).taskDefinition!.taskDefinitionArn!;
    const task = (await ecs.send(new RunTaskCommand({ cluster: CLUSTER, taskDefinition: definition, launchType: 'FARGATE', group: `service:${SERVICE}` }))).tasks![0];
    const out = await printed(() =>
      contain(
        ['--stage', 'staging', '--account', ACCOUNT, '-c', `staging.region=${region}`, '--task', task.taskArn!, '--yes'],
        {},
        (r) => ({ ...clients, cfn: new CloudFormationClient(moto.clientConfig(r)), ecs: new ECSClient(moto.clientConfig(r)) }),
        NOW,
      ),
    );
    expect(out.result).toBe(2);
    expect(out.stderr).toContain(
      `contain: Baseline-${ACCOUNT}-${region} has no EvidenceBucketName and EvidenceKeyArn outputs in ${region}: the evidence bucket is not deployed. Fix: `,
    );
    expect((await clients.iam.send(new ListRolePoliciesCommand({ RoleName: role }))).PolicyNames).toEqual([]);
    expect((await ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: [task.taskArn!] }))).tasks![0].desiredStatus).toBe('RUNNING');
  });

  test('refuses credentials of another account before it reads anything', async () => {
    const out = await run(contain, ['--stage', 'staging', '--account', '210987654321', '-c', `staging.region=${REGION}`, '--task', bystander, '--yes']);
    expect(out.result).toBe(2);
    expect(out.stderr).toMatch(/^contain: the credentials are for account 210000000035 .* but staging is in 210987654321\./);
    expect((await status(bystander)).desiredStatus).toBe('RUNNING');
  });
});
