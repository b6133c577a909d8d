import { describe } from 'vitest';
import { accepts, type Patch, rejects } from './stage-variant';

describe('app.deployment', () => {
  describe('refuses a bad definition, naming stage, field, value and fix', () => {
    rejects([
      {
        what: 'prod rolling straight onto all traffic',
        stage: 'prod',
        patch: { app: { deployment: { strategy: 'rolling' } } },
        field: 'app.deployment.strategy',
        value: '"rolling"',
        fix: /prod must shift traffic to a release gradually.*Fix: set app\.deployment\.strategy: "canary"/,
      },
      {
        what: 'a deployment strategy that does not exist',
        stage: 'staging',
        patch: { app: { deployment: { strategy: 'bluegreen' } } } as unknown as Patch,
        field: 'app.deployment.strategy',
        value: '"bluegreen"',
        fix: /not a deployment strategy\. Fix: use "rolling", "blueGreen", "canary" or "linear"/,
      },
      {
        what: 'a canary of more than half the traffic',
        stage: 'prod',
        patch: { app: { deployment: { stepPercent: 60 } } },
        field: 'app.deployment.stepPercent',
        value: '60',
        fix: /more than half the traffic is no canary\. Fix: use 1 to 50/,
      },
      {
        what: 'a canary of nothing',
        stage: 'prod',
        patch: { app: { deployment: { stepPercent: 0.5 } } },
        field: 'app.deployment.stepPercent',
        value: '0.5',
        fix: /must be at least 1%/,
      },
      {
        what: 'a bake too short for the rollback alarms',
        stage: 'prod',
        patch: { app: { deployment: { bakeMinutes: 2 } } },
        field: 'app.deployment.bakeMinutes',
        value: '2',
        fix: /the deployment alarms need 3 one-minute periods of data to fire\. Fix: use 5 to 60 minutes/,
      },
      {
        what: 'a bake that holds CloudFormation for hours',
        stage: 'staging',
        patch: { app: { deployment: { bakeMinutes: 240 } } },
        field: 'app.deployment.bakeMinutes',
        value: '240',
        fix: /CloudFormation holds the deploy for the whole bake/,
      },
      {
        what: 'a canary step too short for the rollback alarms',
        stage: 'prod',
        patch: { app: { deployment: { stepMinutes: 1 } } },
        field: 'app.deployment.stepMinutes',
        value: '1',
        fix: /need 3 one-minute periods/,
      },
      {
        what: 'a smoke path that is not absolute',
        stage: 'prod',
        patch: { app: { deployment: { smokePaths: ['/', 'api/health'] } } },
        field: 'app.deployment.smokePaths.1',
        value: '"api/health"',
        fix: /not an absolute URL path/,
      },
      {
        what: 'a smoke-test latency bound no request meets',
        stage: 'prod',
        patch: { app: { deployment: { smokeLatencyMs: 10 } } },
        field: 'app.deployment.smokeLatencyMs',
        value: '10',
        fix: /must be at least 100 ms\. Fix: use 100 to 5000/,
      },
      {
        what: 'traffic shifting on a plain-HTTP stage',
        stage: 'dev',
        patch: { app: { deployment: { strategy: 'blueGreen' } } },
        field: 'app.deployment.strategy',
        value: '"blueGreen"',
        fix: /needs the test listener, which serves the stage's certificate, and dev serves plain HTTP\. Fix: serve HTTPS/,
      },
      {
        what: 'linear steps too small to finish',
        stage: 'staging',
        patch: { app: { deployment: { strategy: 'linear', stepPercent: 5 } } },
        field: 'app.deployment.stepPercent',
        value: '5',
        fix: /more than 10 steps.*Fix: use 10 to 50/,
      },
      {
        what: 'a linear shift longer than a release may hold CloudFormation',
        stage: 'staging',
        patch: { app: { deployment: { strategy: 'linear', stepPercent: 10, stepMinutes: 20 } } },
        field: 'app.deployment.stepMinutes',
        value: '20',
        fix: /takes 205 minutes, over the 120 a release may hold CloudFormation/,
      },
      {
        what: 'a canary share finer than ECS shifts traffic (aws-cdk-lib stops synth with a stack trace)',
        stage: 'prod',
        patch: { app: { deployment: { stepPercent: 10.55 } } },
        field: 'app.deployment.stepPercent',
        value: '10.55',
        fix: /ECS shifts traffic in steps of 0\.1%\. Fix: use at most one decimal, e\.g\. 10 or 12\.5/,
      },
      {
        what: 'a linear step finer than ECS shifts traffic',
        stage: 'staging',
        patch: { app: { deployment: { strategy: 'linear', stepPercent: 12.25 } } },
        field: 'app.deployment.stepPercent',
        value: '12.25',
        fix: /steps of 0\.1%/,
      },
    ]);
  });

  describe('takes values on the edge of each rule', () => {
    accepts([
      {
        what: 'the widest canary steps and the longest bake',
        stage: 'prod',
        patch: { app: { deployment: { stepPercent: 50, stepMinutes: 5, bakeMinutes: 60, smokeLatencyMs: 5000 } } },
      },
      {
        what: 'a linear shift just within the time CloudFormation waits',
        stage: 'prod',
        patch: { app: { deployment: { strategy: 'linear', stepPercent: 10, stepMinutes: 11, bakeMinutes: 10 } } },
      },
      { what: 'a rolling staging', stage: 'staging', patch: { app: { deployment: { strategy: 'rolling' } } } },
    ]);
  });
});
