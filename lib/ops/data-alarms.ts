import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import type { DataTier } from '../data/data-stack';
import { DUMP_METRICS, DUMP_METRICS_NAMESPACE } from '../data/logical-backup-names';
import type { AlarmSet } from '../shared/alarm-set';
import { cacheNodeMetric, cacheNodes, restoreMetric } from '../shared/stage-metrics';

export interface DataAlarmsProps {
  readonly alarms: AlarmSet;
  /** The data tier: the database and the cache. */
  readonly data: DataTier;
  /** Alarm when the database averages more than this % of CPU for 10 minutes. */
  readonly rdsCpuPercent: number;
  /** Alarm when the database has less than this many MiB of freeable memory for 15 minutes. */
  readonly rdsFreeableMemoryMiB: number;
  /** Page when less than this % of `allocatedStorageGiB` is free for 10 minutes. */
  readonly rdsFreeStoragePercent: number;
  /** Page when more than this % of max_connections are open for 10 minutes. */
  readonly rdsConnectionsPercent: number;
  /** Alarm when disk reads or writes average more than this many seconds for 15 minutes. */
  readonly rdsLatencySeconds: number;
  /** Alarm when a cache node's engine thread averages more than this % of CPU for 15 minutes. */
  readonly cacheCpuPercent: number;
  /** Page when a cache node uses more than this % of its memory. */
  readonly cacheMemoryPercent: number;
  /** Alarm when more clients than this are connected to a cache node for 10 minutes. */
  readonly cacheConnections: number;
  /** Storage the instance starts with, in GiB (the free-storage threshold is a share of it). */
  readonly allocatedStorageGiB: number;
  /** Nodes of the replication group: the primary plus its replicas. */
  readonly cacheNodes: number;
  /** Watch the restore verifier's results (the stage runs restore tests). */
  readonly restoreTesting?: { readonly stage: string };
  /** Watch the nightly dump, its weekly check where it runs, and the anonymised copy where the stage makes one (`dumps`). */
  readonly dumps: {
    readonly stage: string;
    readonly maxMinutes: number;
    readonly restoreCheck: boolean;
    /** Days the newest copy may age (`dumps.anonymised.maxAgeDays`). */
    readonly anonymised?: { readonly maxAgeDays: number };
  };
}

/**
 * A job that runs every `days` is stale half a day after its next run was due: a run that starts
 * or ends later than the last one (a retried start, a longer restore) does not open a ticket.
 */
export function staleAfterHours(days: number): number {
  return days * 24 + 12;
}

/** The age, in hours, above which the nightly dump and the weekly restore check are stale. */
export const DUMP_STALE_HOURS = { dump: 26, check: staleAfterHours(7) } as const;

const FIVE_MINUTES = Duration.minutes(5);
const ABOVE = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD;
const BELOW = cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD;
const { NOT_BREACHING, MISSING } = cloudwatch.TreatMissingData;

/**
 * Defines the alarms of the stateful tier. PostgreSQL: CPU, freeable memory, free storage,
 * connections against max_connections, read and write latency. There is no replica-lag alarm: the
 * stage runs no read replica, and a Multi-AZ standby replicates synchronously and publishes no lag.
 * Valkey, per node (ElastiCache names them `<group>-001`, `-002`, ...): engine CPU, memory used,
 * evictions (BullMQ loses jobs on any eviction) and client connections.
 *
 * Missing data: these are gauges of resources that report every minute while they run, so missing
 * data means the resource is stopped or gone; it shows as insufficient data instead of paging.
 * Evictions count events and are simply zero (not breaching) when nothing happens.
 */
export class DataAlarms extends Construct {
  constructor(scope: Construct, id: string, props: DataAlarmsProps) {
    super(scope, id);
    const { alarms } = props;
    const database = props.data.database.instance;
    const { maxConnections } = props.data.database;
    const gauge = { period: FIVE_MINUTES, statistic: 'Average' };

    alarms.add(this, 'DbCpu', {
      name: 'db-cpu',
      description: `The database averaged more than ${props.rdsCpuPercent}% CPU for 10 minutes.`,
      metric: database.metricCPUUtilization(gauge),
      threshold: props.rdsCpuPercent,
      evaluationPeriods: 2,
      comparisonOperator: ABOVE,
      treatMissingData: MISSING,
      severity: 'ticket',
      tier: 'database',
    });
    alarms.add(this, 'DbFreeableMemory', {
      name: 'db-freeable-memory',
      description: `The database had less than ${props.rdsFreeableMemoryMiB} MiB of freeable memory for 15 minutes (it will swap and slow down).`,
      metric: database.metricFreeableMemory(gauge),
      threshold: props.rdsFreeableMemoryMiB * 1024 ** 2,
      evaluationPeriods: 3,
      comparisonOperator: BELOW,
      treatMissingData: MISSING,
      severity: 'ticket',
      tier: 'database',
    });
    alarms.add(this, 'DbFreeStorage', {
      name: 'db-free-storage',
      description: `The database had less than ${props.rdsFreeStoragePercent}% of its ${props.allocatedStorageGiB} GiB free for 10 minutes, and storage autoscaling has not caught up (it waits 6 hours between steps and stops at its ceiling).`,
      metric: database.metricFreeStorageSpace({ ...gauge, statistic: 'Minimum' }),
      threshold: Math.round((props.allocatedStorageGiB * 1024 ** 3 * props.rdsFreeStoragePercent) / 100),
      evaluationPeriods: 2,
      comparisonOperator: BELOW,
      treatMissingData: MISSING,
      severity: 'page',
      tier: 'database',
    });
    const connections = Math.floor((maxConnections * props.rdsConnectionsPercent) / 100);
    alarms.add(this, 'DbConnections', {
      name: 'db-connections',
      description: `More than ${connections} connections (${props.rdsConnectionsPercent}% of max_connections ${maxConnections}) were open for 10 minutes; new ones will soon be refused.`,
      metric: database.metricDatabaseConnections({ ...gauge, statistic: 'Maximum' }),
      threshold: connections,
      evaluationPeriods: 2,
      comparisonOperator: ABOVE,
      treatMissingData: MISSING,
      severity: 'page',
      tier: 'database',
    });
    for (const [kind, metricName] of [
      ['read', 'ReadLatency'],
      ['write', 'WriteLatency'],
    ] as const) {
      alarms.add(this, kind === 'read' ? 'DbReadLatency' : 'DbWriteLatency', {
        name: `db-${kind}-latency`,
        description: `Disk ${kind}s of the database averaged more than ${props.rdsLatencySeconds * 1000} ms for 15 minutes (storage throughput or IOPS exhausted).`,
        metric: database.metric(metricName, gauge),
        threshold: props.rdsLatencySeconds,
        evaluationPeriods: 3,
        comparisonOperator: ABOVE,
        treatMissingData: MISSING,
        severity: 'ticket',
        tier: 'database',
      });
    }

    if (props.restoreTesting) {
      const { stage } = props.restoreTesting;
      const result = (metricName: string) => restoreMetric(stage, metricName, { statistic: 'Minimum', period: Duration.days(1) });
      // Published only when a restore is verified: no test that day is not a failure.
      alarms.add(this, 'RestoreVerificationFailed', {
        name: 'restore-verification-failed',
        description: 'A test restore of the database was verified FAILED: the backups may not restore, or restore without the expected data.',
        metric: result('VerificationSucceeded'),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: BELOW,
        treatMissingData: NOT_BREACHING,
        severity: 'ticket',
        tier: 'database',
      });
      // Published daily by the verifier's watchdog: no value means the watchdog itself stopped.
      alarms.add(this, 'RestoreVerificationStale', {
        name: 'restore-verification-stale',
        description: 'No test restore of the database was verified SUCCESSFUL within the restore-testing interval (plus a day), or the daily check did not run.',
        metric: result('VerifiedWithinInterval'),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: BELOW,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
        severity: 'ticket',
        tier: 'database',
      });
    }

    const { dumps } = props;
    const dumpMetric = (metricName: string, statistic: string, period: Duration) =>
      new cloudwatch.Metric({ namespace: DUMP_METRICS_NAMESPACE, metricName, dimensionsMap: { Stage: dumps.stage }, statistic, period });
    alarms.add(this, 'DumpSlow', {
      name: 'dump-slow',
      description: `The nightly pg_dump took more than ${dumps.maxMinutes} minutes: the database grew, or the dump competes with load; the next may not finish.`,
      metric: dumpMetric(DUMP_METRICS.seconds, 'Maximum', Duration.hours(1)),
      threshold: dumps.maxMinutes * 60,
      evaluationPeriods: 1,
      comparisonOperator: ABOVE,
      // Published only by a dump that succeeded.
      treatMissingData: NOT_BREACHING,
      severity: 'ticket',
      tier: 'database',
    });
    // The ages the hourly check publishes (lib/ops/dump-age.ts), from the newest object under each
    // prefix. Nothing is published before the first object, so a new stage does not page until its
    // job has run once (a first run that fails shows in the failure alarms). Any one hourly
    // reading above the limit in the last three breaches, and missing readings do not: a late or
    // doubled invocation, which leaves an hour without one, does not send an OK in between.
    const stale = (id: string, name: string, metricName: string, hours: number, description: string) =>
      alarms.add(this, id, {
        name,
        description,
        metric: dumpMetric(metricName, 'Maximum', Duration.hours(1)),
        threshold: hours,
        evaluationPeriods: 3,
        datapointsToAlarm: 1,
        comparisonOperator: ABOVE,
        treatMissingData: NOT_BREACHING,
        severity: 'ticket',
        tier: 'database',
      });
    stale(
      'DumpStale',
      'dump-stale',
      DUMP_METRICS.hoursSinceDump,
      DUMP_STALE_HOURS.dump,
      `The newest nightly pg_dump is more than ${DUMP_STALE_HOURS.dump} hours old: the dump failed (a table it may not read, the database unreachable), or its schedule did not start it.`,
    );
    const failed = (id: string, name: string, metricName: string, description: string) =>
      alarms.add(this, id, {
        name,
        description,
        metric: dumpMetric(metricName, 'Minimum', Duration.days(1)),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: BELOW,
        // Published by each run: a day without one is not a failure (the age alarm watches runs that stop).
        treatMissingData: NOT_BREACHING,
        severity: 'ticket',
        tier: 'database',
      });
    // A failed dump (DumpSucceeded 0) is told at once by the failed-job rule (docs/alarms.md,
    // "job-task-failed"), the first night included; the age above says when none is recent.
    if (dumps.restoreCheck) {
      stale(
        'DumpCheckStale',
        'dump-check-stale',
        DUMP_METRICS.hoursSinceCheck,
        DUMP_STALE_HOURS.check,
        `No weekly restore check has passed in ${DUMP_STALE_HOURS.check} hours: the check failed, or its schedule did not start it.`,
      );
      failed('DumpCheckFailed', 'dump-check-failed', DUMP_METRICS.checkSucceeded, 'The weekly restore check of the newest dump failed: the dumps may not restore.');
    }
    if (dumps.anonymised) {
      const hours = staleAfterHours(dumps.anonymised.maxAgeDays);
      stale(
        'AnonymiseStale',
        'anonymise-stale',
        DUMP_METRICS.hoursSinceAnonymised,
        hours,
        `The newest anonymised copy is more than ${hours} hours old (dumps.anonymised.maxAgeDays ${dumps.anonymised.maxAgeDays}, plus 12 hours): the job failed or refused, or its schedule did not start it.`,
      );
      failed(
        'AnonymiseFailed',
        'anonymise-failed',
        DUMP_METRICS.anonymisedSucceeded,
        'An anonymisation run wrote no copy: the job refused a personal-looking column without a rule, or its verifier found original values.',
      );
    }

    for (const [i, node] of cacheNodes(props.cacheNodes).entries()) {
      const scope = new Construct(this, `CacheNode${node}`);
      const metric = (metricName: string, statistic: string) => cacheNodeMetric(props.data.cache.replicationGroup, node, metricName, { statistic, period: FIVE_MINUTES });
      const role = i === 0 ? 'the first node (primary unless it failed over)' : `node ${node} (a replica unless it took over)`;
      alarms.add(scope, 'EngineCpu', {
        name: `cache-cpu-${node}`,
        runbook: 'cache-cpu',
        description: `The Valkey engine thread of ${role} averaged more than ${props.cacheCpuPercent}% CPU for 15 minutes.`,
        metric: metric('EngineCPUUtilization', 'Average'),
        threshold: props.cacheCpuPercent,
        evaluationPeriods: 3,
        comparisonOperator: ABOVE,
        treatMissingData: MISSING,
        severity: 'ticket',
        tier: 'cache',
      });
      alarms.add(scope, 'Memory', {
        name: `cache-memory-${node}`,
        runbook: 'cache-memory',
        description: `Valkey on ${role} used more than ${props.cacheMemoryPercent}% of its memory; at 100% (noeviction) every write, and so every new BullMQ job, fails.`,
        metric: metric('DatabaseMemoryUsagePercentage', 'Maximum'),
        threshold: props.cacheMemoryPercent,
        evaluationPeriods: 1,
        comparisonOperator: ABOVE,
        treatMissingData: MISSING,
        severity: 'page',
        tier: 'cache',
      });
      alarms.add(scope, 'Evictions', {
        name: `cache-evictions-${node}`,
        runbook: 'cache-evictions',
        description: `Valkey on ${role} evicted keys: the eviction policy is not noeviction any more, and BullMQ jobs may be lost.`,
        metric: metric('Evictions', 'Sum'),
        threshold: 0,
        evaluationPeriods: 1,
        comparisonOperator: ABOVE,
        treatMissingData: NOT_BREACHING,
        severity: 'page',
        tier: 'cache',
      });
      alarms.add(scope, 'Connections', {
        name: `cache-connections-${node}`,
        runbook: 'cache-connections',
        description: `More than ${props.cacheConnections} clients were connected to ${role} for 10 minutes (a connection leak, or more tasks than planned).`,
        metric: metric('CurrConnections', 'Maximum'),
        threshold: props.cacheConnections,
        evaluationPeriods: 2,
        comparisonOperator: ABOVE,
        treatMissingData: MISSING,
        severity: 'ticket',
        tier: 'cache',
      });
    }
  }
}
