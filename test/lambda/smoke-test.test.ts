import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateNetworkInterfaceCommand, CreateSubnetCommand, CreateVpcCommand, DescribeNetworkInterfacesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { onHook } from '../../lambda/smoke-test/index';
import { loadBalancerAddresses, type SmokeTestSettings, settingsFromEnv, smokeTest } from '../../lambda/smoke-test/smoke';
import { type Moto, startMoto } from '../support/moto';

let moto: Moto;
let ec2: EC2Client;
let server: Server;
let port: number;
/** A port nothing listens on: a server was bound to it and closed. */
let closedPort: number;
let loadBalancer: string;
const seen: { path: string; host?: string; agent?: string }[] = [];

const EVENT = {
  serviceArn: 'arn:aws:ecs:eu-west-1:333333333333:service/prod-App-Cluster/prod-App-WebService',
  targetServiceRevisionArn: 'arn:aws:ecs:eu-west-1:333333333333:service-revision/prod-App-Cluster/prod-App-WebService/4711',
  testTrafficWeights: {},
};

const settings = (overrides: Partial<SmokeTestSettings> = {}): SmokeTestSettings => ({
  loadBalancerFullName: loadBalancer,
  port,
  hostName: 'app.example.com',
  paths: ['/health/ready', '/'],
  latencyMs: 300,
  protocol: 'http',
  ...overrides,
});

/** The test listener's stand-in: the new revision, answering like a Next.js server would (or would not). */
function startServer(): Promise<Server> {
  const s = createServer((req, res) => {
    seen.push({ path: req.url ?? '', host: req.headers.host, agent: req.headers['user-agent'] });
    switch (req.url) {
      case '/health/ready':
      case '/':
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html>ok</html>');
        return;
      case '/api/status':
        res.writeHead(204).end();
        return;
      case '/broken':
        res.writeHead(500).end('Internal Server Error');
        return;
      case '/missing':
        res.writeHead(404).end();
        return;
      case '/moved':
        res.writeHead(308, { location: '/' }).end();
        return;
      case '/choices':
        res.writeHead(300).end();
        return;
      case '/slow':
        setTimeout(() => res.writeHead(200).end('late'), 1000).unref();
        return;
      case '/stalls':
        // Headers at once, the body never: not an answer.
        res.writeHead(200, { 'content-type': 'text/html' });
        res.write('<html>');
        return;
      default:
        res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(s)));
}

beforeAll(async () => {
  moto = await startMoto();
  ec2 = new EC2Client(moto.clientConfig());
  server = await startServer();
  port = (server.address() as AddressInfo).port;
  const closed = await startServer();
  closedPort = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));

  // The load balancer's network interfaces as EC2 describes them, in a VPC on the loopback range
  // so the probes reach the local server; and an unrelated interface that must not be picked.
  loadBalancer = `app/webapp-smoke-${Date.now()}/50dc6c495c0c9188`;
  const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '127.0.0.0/16' }));
  const subnet = async (cidr: string) => (await ec2.send(new CreateSubnetCommand({ VpcId: vpc.Vpc!.VpcId, CidrBlock: cidr }))).Subnet!.SubnetId;
  const [a, b] = [await subnet('127.0.0.0/24'), await subnet('127.0.9.0/24')];
  await ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: b, PrivateIpAddress: '127.0.9.10', Description: `ELB ${loadBalancer}` }));
  await ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: a, PrivateIpAddress: '127.0.0.1', Description: `ELB ${loadBalancer}` }));
  await ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: a, PrivateIpAddress: '127.0.0.2', Description: 'ELB app/another-load-balancer/0123456789abcdef' }));
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

afterEach(() => {
  seen.length = 0;
  vi.restoreAllMocks();
});

describe('the load balancer addresses', () => {
  test('are the private addresses of its own network interfaces, sorted', async () => {
    expect(await loadBalancerAddresses(ec2, loadBalancer)).toEqual(['127.0.0.1', '127.0.9.10']);
  });

  test('of a load balancer with no interfaces are none', async () => {
    expect(await loadBalancerAddresses(ec2, 'app/no-such-load-balancer/0000000000000000')).toEqual([]);
  });
});

describe('the smoke test', () => {
  test('succeeds when every path answers 2xx in time, asking for the site by name', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    expect(await smokeTest(EVENT, settings({ paths: ['/health/ready', '/', '/api/status'] }), ec2)).toEqual({ hookStatus: 'SUCCEEDED' });
    expect(seen.map((s) => s.path)).toEqual(['/health/ready', '/', '/api/status']);
    expect(seen.every((s) => s.host === 'app.example.com' && s.agent === 'webapp-release-smoke-test')).toBe(true);
    const line = JSON.parse(log.mock.calls[0][0] as string);
    expect(line).toMatchObject({ message: 'smoke test passed: 3 paths answered 2xx within 300 ms', revision: EVENT.targetServiceRevisionArn, address: '127.0.0.1' });
  });

  test.each([
    ['/broken', 'answered 500'],
    ['/missing', 'answered 404'],
    ['/moved', 'answered 308'],
    ['/choices', 'answered 300'],
    ['/slow', 'no answer within 300 ms'],
    ['/stalls', 'no answer within 300 ms'],
  ])('fails when %s does not answer 2xx in time (%s), naming the path, and still tries every path', async (path, problem) => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(await smokeTest(EVENT, settings({ paths: ['/health/ready', path, '/'] }), ec2)).toEqual({ hookStatus: 'FAILED' });
    expect(seen.map((s) => s.path)).toEqual(['/health/ready', path, '/']);
    const line = JSON.parse(error.mock.calls[0][0] as string);
    expect(line.message).toBe(`smoke test FAILED: ${path} ${problem}; the release rolls back before production traffic moves`);
    expect(line.results.map((r: { path: string; ok: boolean }) => [r.path, r.ok])).toEqual([
      ['/health/ready', true],
      [path, false],
      ['/', true],
    ]);
    if (path === '/slow') expect(line.results[1].ms).toBeLessThan(1000);
  });

  // The DR app tier's smoke test is invoked directly by the failover and its drill, with no hook's fields.
  test('answers a direct invocation with {} as it answers ECS: SUCCEEDED when every path answers, FAILED when one does not', async () => {
    vi.spyOn(console, 'log').mockImplementation(() => {});
    vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(await smokeTest({}, settings(), ec2)).toEqual({ hookStatus: 'SUCCEEDED' });
    expect(await smokeTest({}, settings({ paths: ['/health/ready', '/broken'] }), ec2)).toEqual({ hookStatus: 'FAILED' });
    expect(seen.map((s) => s.path)).toEqual(['/health/ready', '/', '/health/ready', '/broken']);
  });

  test('fails when the test listener refuses the connection', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(await smokeTest(EVENT, settings({ port: closedPort }), ec2)).toEqual({ hookStatus: 'FAILED' });
    expect(JSON.parse(error.mock.calls[0][0] as string).message).toMatch(
      /^smoke test FAILED: \/health\/ready ECONNREFUSED: connect ECONNREFUSED 127\.0\.0\.1:\d+; \/ ECONNREFUSED/,
    );
  });

  test('fails closed when the load balancer has no network interfaces to test through', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(await smokeTest(EVENT, settings({ loadBalancerFullName: 'app/gone/0000000000000000' }), ec2)).toEqual({ hookStatus: 'FAILED' });
    expect(seen).toEqual([]);
    expect(JSON.parse(error.mock.calls[0][0] as string).message).toBe(
      'smoke test FAILED: no network interface is described "ELB app/gone/0000000000000000", so the release rolls back',
    );
  });

  test('fails closed when EC2 cannot be asked (throttled past the retries)', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const throttled = new EC2Client(moto.clientConfig());
    const mock = mockClient(throttled);
    mock.on(DescribeNetworkInterfacesCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'RequestLimitExceeded' }));
    expect(await smokeTest(EVENT, settings(), throttled)).toEqual({ hookStatus: 'FAILED' });
    expect(seen).toEqual([]);
    expect(JSON.parse(error.mock.calls[0][0] as string)).toMatchObject({
      message: 'smoke test FAILED: the load balancer could not be looked up, so the release rolls back',
      problem: 'RequestLimitExceeded: Rate exceeded',
    });
    mock.restore();
  });
});

describe('the hook handler', () => {
  const ENV = { LOAD_BALANCER_FULL_NAME: 'app/x/1', TEST_LISTENER_PORT: '8443', SITE_HOST_NAME: 'app.example.com', SMOKE_PATHS: '["/health/ready","/"]', SMOKE_LATENCY_MS: '2000' };

  test('reads its settings from the environment, over HTTPS', () => {
    expect(settingsFromEnv(ENV)).toEqual({
      loadBalancerFullName: 'app/x/1',
      port: 8443,
      hostName: 'app.example.com',
      paths: ['/health/ready', '/'],
      latencyMs: 2000,
      protocol: 'https',
    });
  });

  test.each([
    [{ SITE_HOST_NAME: '' }, 'SITE_HOST_NAME is not set'],
    [{ SMOKE_PATHS: '["health"]' }, 'SMOKE_PATHS must be a JSON list of absolute paths, got ["health"]'],
    [{ SMOKE_PATHS: '[]' }, 'SMOKE_PATHS must be a JSON list of absolute paths, got []'],
    [{ SMOKE_PATHS: '[1]' }, 'SMOKE_PATHS must be a JSON list of absolute paths, got [1]'],
    [{ SMOKE_PATHS: '["/ok","bad"]' }, 'SMOKE_PATHS must be a JSON list of absolute paths, got ["/ok","bad"]'],
    [{ SMOKE_PATHS: '{"path":"/"}' }, 'SMOKE_PATHS must be a JSON list of absolute paths, got {"path":"/"}'],
    [{ SMOKE_LATENCY_MS: '2.5' }, 'SMOKE_LATENCY_MS must be a positive integer, got 2.5'],
    [{ TEST_LISTENER_PORT: '0' }, 'TEST_LISTENER_PORT must be a positive integer, got 0'],
  ])('rejects a bad environment %j', (change, message) => {
    expect(() => settingsFromEnv({ ...ENV, ...change })).toThrow(message);
  });

  test('answers FAILED, not an exception, when misconfigured', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    // The test process has none of the function's variables.
    expect(await onHook(EVENT)).toEqual({ hookStatus: 'FAILED' });
    expect(JSON.parse(error.mock.calls[0][0] as string)).toEqual({
      message: 'smoke test FAILED: the function is misconfigured, so the release rolls back',
      problem: 'SMOKE_PATHS is not set',
    });
  });
});
