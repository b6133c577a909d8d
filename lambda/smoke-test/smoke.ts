/**
 * The smoke test of a traffic-shifting web release: ECS calls it at POST_TEST_TRAFFIC_SHIFT, when
 * the test listener sends all its traffic to the new revision and production still goes to the
 * old one. It requests the readiness path and the configured paths through the test listener,
 * and the release goes on only if every one answers 2xx within the latency bound. Anything else,
 * including not finding the load balancer, is FAILED: ECS then rolls the release back before a
 * single production request reaches it.
 *
 * The load balancer is internet-facing, so its DNS name resolves to public addresses, which a
 * function in the VPC reaches only through NAT (where the load balancer's security group cannot
 * tell it from the internet). The test requests go to the load balancer's private addresses
 * instead (its network interfaces in the public subnets), with the site's name as TLS server
 * name and Host header: the certificate is still checked, and the test listener admits the
 * function's security group alone.
 */

import * as http from 'node:http';
import * as https from 'node:https';
import { DescribeNetworkInterfacesCommand, type EC2Client } from '@aws-sdk/client-ec2';

export interface SmokeTestSettings {
  /** The load balancer's full name (`app/<name>/<id>`): its network interfaces are described "ELB app/<name>/<id>". */
  readonly loadBalancerFullName: string;
  readonly port: number;
  /** The site's name: TLS server name and Host header. */
  readonly hostName: string;
  /** Paths to request, the readiness path first. */
  readonly paths: readonly string[];
  /** Milliseconds a request may take, connection included. */
  readonly latencyMs: number;
  /** "https" in AWS; tests run the same probes against a plain HTTP server. */
  readonly protocol: 'https' | 'http';
}

/** What ECS sends a lifecycle hook (the fields this hook reads). */
export interface LifecycleHookEvent {
  readonly serviceArn?: string;
  readonly targetServiceRevisionArn?: string;
  readonly testTrafficWeights?: Record<string, number>;
}

/** What a hook answers; anything but SUCCEEDED rolls the deployment back. */
export interface LifecycleHookResponse {
  readonly hookStatus: 'SUCCEEDED' | 'FAILED';
}

export interface ProbeResult {
  readonly path: string;
  readonly ok: boolean;
  readonly status?: number;
  readonly ms: number;
  /** Why a probe failed: a status, a timeout or a connection error. */
  readonly problem?: string;
}

/** The load balancer's private IPv4 addresses, one per subnet it runs in, sorted. */
export async function loadBalancerAddresses(ec2: Pick<EC2Client, 'send'>, loadBalancerFullName: string): Promise<string[]> {
  const out = await ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'description', Values: [`ELB ${loadBalancerFullName}`] }] }));
  return (out.NetworkInterfaces ?? [])
    .map((eni) => eni.PrivateIpAddress)
    .filter((ip): ip is string => typeof ip === 'string' && ip.length > 0)
    .sort();
}

/** One GET of `path` at `address`; never throws. */
export function probe(settings: SmokeTestSettings, address: string, path: string): Promise<ProbeResult> {
  const started = Date.now();
  const client = settings.protocol === 'https' ? https : http;
  return new Promise((resolve) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const done = (result: Omit<ProbeResult, 'path' | 'ms'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.destroy();
      resolve({ path, ms: Date.now() - started, ...result });
    };
    const request = client.request(
      {
        host: address,
        port: settings.port,
        path,
        method: 'GET',
        headers: { host: settings.hostName, 'user-agent': 'webapp-release-smoke-test' },
        ...(settings.protocol === 'https' ? { servername: settings.hostName } : {}),
      },
      (response) => {
        const status = response.statusCode ?? 0;
        // Read the body: a server that sends headers and then stalls has not answered.
        response.resume();
        response.on('end', () => {
          const ok = status >= 200 && status < 300;
          done({ ok, status, ...(ok ? {} : { problem: `answered ${status}` }) });
        });
        response.on('error', (error) => done({ ok: false, status, problem: `response broke off: ${error.message}` }));
      },
    );
    timer = setTimeout(() => done({ ok: false, problem: `no answer within ${settings.latencyMs} ms` }), settings.latencyMs);
    request.on('error', (error: NodeJS.ErrnoException) => done({ ok: false, problem: `${error.code ?? 'error'}: ${error.message}` }));
    request.end();
  });
}

/** Runs the smoke test and answers ECS; logs one line with every probe, as an error when it fails. */
export async function smokeTest(event: LifecycleHookEvent, settings: SmokeTestSettings, ec2: Pick<EC2Client, 'send'>): Promise<LifecycleHookResponse> {
  const context = { serviceArn: event.serviceArn, revision: event.targetServiceRevisionArn, hostName: settings.hostName, port: settings.port };
  let addresses: string[];
  try {
    addresses = await loadBalancerAddresses(ec2, settings.loadBalancerFullName);
  } catch (error) {
    console.error(
      JSON.stringify({
        message: 'smoke test FAILED: the load balancer could not be looked up, so the release rolls back',
        ...context,
        problem: `${(error as Error).name}: ${(error as Error).message}`,
      }),
    );
    return { hookStatus: 'FAILED' };
  }
  if (addresses.length === 0) {
    console.error(
      JSON.stringify({ message: `smoke test FAILED: no network interface is described "ELB ${settings.loadBalancerFullName}", so the release rolls back`, ...context }),
    );
    return { hookStatus: 'FAILED' };
  }
  const address = addresses[0];
  const results: ProbeResult[] = [];
  for (const path of settings.paths) results.push(await probe(settings, address, path));
  const failed = results.filter((r) => !r.ok);
  if (failed.length > 0) {
    console.error(
      JSON.stringify({
        message: `smoke test FAILED: ${failed.map((r) => `${r.path} ${r.problem}`).join('; ')}; the release rolls back before production traffic moves`,
        ...context,
        address,
        results,
      }),
    );
    return { hookStatus: 'FAILED' };
  }
  console.log(JSON.stringify({ message: `smoke test passed: ${results.length} paths answered 2xx within ${settings.latencyMs} ms`, ...context, address, results }));
  return { hookStatus: 'SUCCEEDED' };
}

/** The settings from the function's environment; a missing or malformed one throws (ECS then rolls back). */
export function settingsFromEnv(env: NodeJS.ProcessEnv): SmokeTestSettings {
  const need = (name: string) => {
    const value = env[name];
    if (!value) throw new Error(`${name} is not set`);
    return value;
  };
  const paths = JSON.parse(need('SMOKE_PATHS')) as unknown;
  if (!Array.isArray(paths) || paths.length === 0 || !paths.every((p) => typeof p === 'string' && p.startsWith('/'))) {
    throw new Error(`SMOKE_PATHS must be a JSON list of absolute paths, got ${env.SMOKE_PATHS}`);
  }
  const number = (name: string) => {
    const value = Number(need(name));
    if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got ${env[name]}`);
    return value;
  };
  return {
    loadBalancerFullName: need('LOAD_BALANCER_FULL_NAME'),
    port: number('TEST_LISTENER_PORT'),
    hostName: need('SITE_HOST_NAME'),
    paths,
    latencyMs: number('SMOKE_LATENCY_MS'),
    protocol: 'https',
  };
}
