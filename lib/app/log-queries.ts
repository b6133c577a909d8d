import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface LogQueriesProps {
  /** Folder the queries appear under in CloudWatch Logs Insights ("webapp-prod"). */
  readonly folder: string;
  readonly web: logs.ILogGroup;
  readonly worker: logs.ILogGroup;
}

/**
 * The app's log contract these queries read (docs/architecture.md, "What the app logs"): one JSON
 * object per line with `level` as a label ("error"), `msg`, and per request `requestId`,
 * `method`, `route`, `status`, `durationMs`; per job `queue`, `jobName`, `jobId`, `err`.
 */
export const LOG_QUERIES = {
  'errors-by-route': {
    groups: ['web'],
    query: 'fields @timestamp, route, status, msg | filter level = "error" or status >= 500 | stats count() as errors by route, status | sort errors desc | limit 50',
  },
  'slowest-requests': {
    groups: ['web'],
    query: 'fields @timestamp, method, route, status, durationMs, requestId | filter ispresent(durationMs) | sort durationMs desc | limit 50',
  },
  'request-trail': {
    groups: ['web', 'worker'],
    query: 'fields @timestamp, @logStream, level, msg, route, status, durationMs, jobName | filter requestId = "PASTE-THE-REQUEST-ID" | sort @timestamp asc | limit 500',
  },
  'worker-job-failures': {
    groups: ['worker'],
    query:
      'fields @timestamp, queue, jobName, jobId, err.message | filter level = "error" and ispresent(jobId) | stats count() as failures, latest(err.message) as lastError by queue, jobName | sort failures desc',
  },
} as const satisfies Record<string, { groups: readonly ('web' | 'worker')[]; query: string }>;

/** Saved CloudWatch Logs Insights queries on the web and worker logs, in the stage's folder. */
export class LogQueries extends Construct {
  constructor(scope: Construct, id: string, props: LogQueriesProps) {
    super(scope, id);
    const groups = { web: props.web, worker: props.worker };
    for (const [name, { groups: on, query }] of Object.entries(LOG_QUERIES)) {
      new logs.CfnQueryDefinition(this, name, {
        name: `${props.folder}/${name}`,
        queryString: query,
        logGroupNames: on.map((g) => groups[g].logGroupName),
      });
    }
  }
}
