import { describe, expect, test } from 'vitest';
import { loadStageConfigs, loadStages, STAGE_NAMES, StageConfigError } from '../../lib/config';

function loadError(context: Record<string, unknown>): string {
  try {
    loadStageConfigs(context);
  } catch (error) {
    expect(error).toBeInstanceOf(StageConfigError);
    return (error as Error).message;
  }
  throw new Error('expected the context to be rejected');
}

describe('loadStageConfigs', () => {
  test('loads all three stages by default, in order', () => {
    expect(loadStageConfigs({}).map((c) => c.name)).toEqual([...STAGE_NAMES]);
  });

  test('-c stages narrows the stages synthesized', () => {
    expect(loadStageConfigs({ stages: 'staging,prod' }).map((c) => c.name)).toEqual(['staging', 'prod']);
    expect(loadStageConfigs({ stages: ['dev'] }).map((c) => c.name)).toEqual(['dev']);
  });

  test('an unknown stage in -c stages fails and lists the stages', () => {
    expect(loadError({ stages: 'dev,qa' })).toMatch(/unknown stage "qa" in -c stages\. Fix: use one of dev, staging, prod/);
  });

  test('a stage named twice in -c stages fails', () => {
    expect(loadError({ stages: 'dev,prod,dev' })).toContain('-c stages names "dev" twice. Fix: list each stage once, e.g. -c stages=dev,prod');
  });

  test('an override for an unknown stage fails', () => {
    expect(loadError({ 'qa.account': '123456789012' })).toMatch(/unknown stage "qa" in -c qa\.account/);
  });

  test('-c <stage>.<field> overrides one stage, read as the type it replaces', () => {
    const [dev, staging] = loadStageConfigs({
      stages: 'dev,staging',
      'staging.account': '012345678901',
      'staging.web.desiredCount': '3',
      'staging.database.multiAz': 'false',
      'dev.alarms.emails': '["a@example.com","b@example.com"]',
    });
    expect(staging.account).toBe('012345678901');
    expect(staging.web.desiredCount).toBe(3);
    expect(staging.database.multiAz).toBe(false);
    expect(dev.alarms.emails).toEqual(['a@example.com', 'b@example.com']);
    expect(dev.account).toBe('111111111111');
  });

  test('an object override (a domain for dev) is read as JSON', () => {
    const [dev] = loadStageConfigs({
      stages: 'dev',
      'dev.https': 'true',
      'dev.domain': '{"zoneName":"dev.example.com","recordName":"dev.example.com","parentZoneName":"example.com"}',
    });
    expect(dev.domain?.recordName).toBe('dev.example.com');
  });

  test('-c imageTag sets the image of every stage', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(loadStageConfigs({ imageTag: digest }).map((c) => c.image.tag)).toEqual([digest, digest, digest]);
  });

  test('a bad override names the -c key it came from', () => {
    expect(loadError({ 'prod.database.multiAz': 'false' })).toMatch(
      /stage "prod", field "database\.multiAz", value false: .*Fix: set database\.multiAz: true \(this value came from -c prod\.database\.multiAz\)/,
    );
  });

  test('a bad image tag from -c imageTag is rejected for each stage', () => {
    const message = loadError({ imageTag: 'not a tag' });
    for (const stage of STAGE_NAMES) expect(message).toContain(`stage "${stage}", field "image.tag", value "not a tag"`);
  });

  test("every stage's overrides are checked, also when only some stages are synthesized", () => {
    expect(loadError({ stages: 'dev', 'prod.database.multiAz': 'false' })).toMatch(/stage "prod", field "database\.multiAz", value false/);
  });

  test('-c imageTag sets only the synthesized stages', () => {
    const { selected, all } = loadStages({ stages: 'dev', imageTag: 'v2.0.0' });
    expect(selected.map((c) => c.image.tag)).toEqual(['v2.0.0']);
    expect(all.map((c) => [c.name, c.image.tag])).toEqual([
      ['dev', 'v2.0.0'],
      ['staging', 'v0.1.0'],
      ['prod', 'v0.1.0'],
    ]);
  });

  test.each([
    [
      { 'prod.image.source': '{"account":"333333333333","region":"eu-west-1"}' },
      /stage "prod", field "image\.source", value \{"account":"333333333333","region":"eu-west-1"\}: differs from stage "dev" .*CI pushes each build once, to one registry.*Fix: set the same image\.source in every stage/,
    ],
    [{ 'staging.image.repositoryName': 'other' }, /stage "staging", field "image\.repositoryName", value "other": differs from stage "dev"/],
    [
      { 'prod.ci.repository': 'someone/else' },
      /stage "prod", field "ci\.repository", value "someone\/else": differs from stage "dev".*one repository's workflows deploy every stage/,
    ],
    [
      { 'prod.domain': '{"zoneName":"staging.example.com","recordName":"staging.example.com","parentZoneName":"example.com"}' },
      /stage "prod", field "domain\.zoneName", value "staging\.example\.com": stage "staging" uses it too: two stages would write the same DNS records\. Fix: give each stage its own name, e\.g\. "prod\.example\.com"/,
    ],
  ])('rules across stages: %j', (context, message) => {
    expect(loadError(context)).toMatch(message);
  });

  test.each([
    ['dev.multi_az', 'false', 'dev.database.multiAz'],
    ['dev.web.min-capacity', '1', 'dev.web.minCapacity'],
    ['prod/database/multiAz', 'false', 'prod.database.multiAz'],
    ['stage', 'dev', 'stages'],
    ['imagetag', 'v1.2.3', 'imageTag'],
    ['staging.database.instanceclass', 'm7g.large', 'staging.database.instanceClass'],
    ['prod.databse.multiAz', 'false', 'prod.database.multiAz'],
  ])('a context key the app does not know (%s) fails, naming the nearest known one', (key, value, nearest) => {
    expect(loadError({ [key]: value })).toContain(`unknown context key "${key}" (from -c or the context of cdk.json): the app would ignore it. Fix: did you mean "${nearest}"?`);
  });

  test.each([
    [
      'dev.web.desiredCount',
      'abc',
      /field "web\.desiredCount", value "abc": -c dev\.web\.desiredCount=abc: "abc" is not a number\. Fix: give a number, e\.g\. -c dev\.web\.desiredCount=1$/,
    ],
    ['dev.web.desiredCount', 'Infinity', /value "Infinity": .*"Infinity" is not a number/],
    ['dev.web.desiredCount', '', /value "": .*"" is not a number/],
    ['dev.database.multiAz', 'yes', /value "yes": .*"yes" is neither true nor false\. Fix: -c dev\.database\.multiAz=true or/],
    ['dev.alarms.emails', 'a@example.com,b@example.com', /a list is written as JSON\. Fix: -c 'dev\.alarms\.emails=\["a@example\.com","b@example\.com"\]'/],
    // Fields a stage leaves to the schema's default are read as the default's type.
    ['staging.app.containerPort', 'abc', /value "abc": .*"abc" is not a number\. Fix: give a number, e\.g\. -c staging\.app\.containerPort=3000$/],
    ['staging.app.wafServerActions', 'no', /value "no": .*"no" is neither true nor false/],
  ])('a -c value that cannot be read as its field says what was given (%s=%s), and nothing else about it', (key, value, message) => {
    const problems = loadError({ [key]: value })
      .split('\n')
      .slice(1);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
  });

  test('-c <stage>.<list>.<index> sets that item, or adds one after the last, and the field stays a list', () => {
    const [dev] = loadStageConfigs({ stages: 'dev', 'dev.alarms.emails.0': 'a@example.com', 'dev.app.wafAuthPaths.4': '/magic-link' });
    expect(dev.alarms.emails).toEqual(['a@example.com']);
    expect(dev.app.wafAuthPaths).toEqual(['/api/auth/', '/login', '/signup', '/reset-password', '/magic-link']);
    // Items in any order, on a list the stage leaves out, and items that are objects (JSON).
    const [staging] = loadStageConfigs({
      stages: 'staging',
      'staging.network.availabilityZones.1': 'eu-west-1c',
      'staging.network.availabilityZones.0': 'eu-west-1b',
      'staging.network.azCount': '2',
      'staging.network.natGateways': '2',
      'staging.backup.verify.tables.0': '{"name":"documents","minRows":1}',
    });
    expect(staging.network.availabilityZones).toEqual(['eu-west-1b', 'eu-west-1c']);
    expect(staging.backup.verify.tables).toEqual([{ name: 'documents', minRows: 1 }]);
  });

  test('a list item past the end, or one the schema refuses, names the -c key and the fix', () => {
    const gap = loadError({ 'dev.alarms.emails.3': 'b@example.com' }).split('\n').slice(1);
    expect(gap).toEqual([
      `  - stage "dev", field "alarms.emails.3", value "b@example.com": -c dev.alarms.emails.3=b@example.com: alarms.emails has 1 item, so index 3 would leave a gap. Fix: -c dev.alarms.emails.1=... adds an item, or give the whole list as JSON: -c 'dev.alarms.emails=["dev-alerts@example.com","b@example.com"]'`,
    ]);
    expect(loadError({ 'dev.alarms.emails.1': 'dev-alerts@example.com' })).toMatch(
      /field "alarms\.emails\.1", value "dev-alerts@example\.com": "dev-alerts@example\.com" is listed twice.*\(this value came from -c dev\.alarms\.emails\.1\)/,
    );
    expect(loadError({ 'dev.backup.verify.tables.0': 'documents' })).toMatch(/field "backup\.verify\.tables\.0", value "documents": .*an object is written as JSON/);
  });

  test('an index on a field that is no list is an unknown key, not a field turned into an object', () => {
    expect(loadError({ 'dev.database.multiAz.0': 'true' })).toContain('unknown context key "dev.database.multiAz.0"');
  });

  test('-c <stage>.<optional field>=null leaves the field out; a required field cannot be left out', () => {
    const [dev] = loadStageConfigs({ stages: 'dev', 'dev.app.migrationCommand': 'null' });
    expect(dev.app.migrationCommand).toBeUndefined();
    expect(loadError({ 'dev.account': 'null' })).toMatch(/field "account", value "null"/);
  });

  test('an object the schema fills in is a field a stage may leave out: null gives it its defaults, and a value must be JSON', () => {
    const [dev] = loadStageConfigs({ stages: 'dev', 'dev.operations.slo': 'null' });
    expect(dev.operations.slo).toEqual({ enabled: true, availabilityPercent: 99.9, latencyPercent: 95, latencyThresholdMs: 500 });
    expect(loadError({ 'dev.baseline.trail': 'on' })).toContain(
      `stage "dev", field "baseline.trail", value "on": -c dev.baseline.trail=on: an object is written as JSON. Fix: -c 'dev.baseline.trail={}' with your values`,
    );
  });

  test('a field left to its default takes a -c value of its type', () => {
    const [staging] = loadStageConfigs({ stages: 'staging', 'staging.app.containerPort': '8080', 'staging.operations.ecsCpuPercent': '70' });
    expect(staging.app.containerPort).toBe(8080);
    expect(staging.operations).toMatchObject({ ecsCpuPercent: 70, ecsMemoryPercent: 80 });
  });

  test('the deploy switches are read here and nowhere else; a value that is not a switch fails', () => {
    expect(loadStages({}).deploy).toEqual({ skipPreDeploySnapshot: false });
    // cdk.json's context holds booleans as booleans.
    expect(loadStages({ skipPreDeploySnapshot: true }).deploy.skipPreDeploySnapshot).toBe(true);
    expect(loadStages({ skipPreDeploySnapshot: false }).deploy.skipPreDeploySnapshot).toBe(false);
    expect(loadStages({ skipPreDeploySnapshot: 'true', rerunDatabaseSetup: 1764576000 }).deploy).toEqual({ skipPreDeploySnapshot: true, rerunDatabaseSetup: '1764576000' });
    expect(loadError({ skipPreDeploySnapshot: 'yes' })).toContain(
      '-c skipPreDeploySnapshot=yes is neither true nor false. Fix: pass -c skipPreDeploySnapshot=true to skip the snapshot, or leave it out',
    );
    expect(loadError({ rerunDatabaseSetup: ' ' })).toContain('-c rerunDatabaseSetup is empty. Fix: pass a new value each time');
    // The commit the release record keeps: a git SHA, or nothing.
    const sha = '0123456789abcdef0123456789abcdef01234567';
    expect(loadStages({ commit: sha }).deploy.commit).toBe(sha);
    expect(loadError({ commit: 'main' })).toContain('-c commit=main is not a git commit. Fix: pass the full SHA, -c commit=$(git rev-parse HEAD), or leave it out');
  });

  test('pinned reads are a JSON object of "<stack>/<output>" to text, from the CLI or cdk.json; anything else fails, naming the fix', () => {
    const pins = { 'prod-Network/PublishOutputRefZone2A4024A48017E932': 'Z0123' };
    expect(loadStages({ pinnedReads: JSON.stringify(pins) }).deploy.pinnedReads).toEqual(new Map(Object.entries(pins)));
    expect(loadStages({ pinnedReads: pins }).deploy.pinnedReads).toEqual(new Map(Object.entries(pins)));
    expect(loadError({ pinnedReads: '{not json' })).toContain('-c pinnedReads is not a JSON object. Fix: let npm run deploy -- --primary-lost pass it');
    expect(loadError({ pinnedReads: '["a"]' })).toContain('-c pinnedReads is not a JSON object.');
    expect(loadError({ pinnedReads: '{"prod-Network":"Z1"}' })).toContain('-c pinnedReads "prod-Network" is not "<stack>/<output>" with a text value.');
    expect(loadError({ pinnedReads: '{"prod-Network/Out":""}' })).toContain('"prod-Network/Out" is not "<stack>/<output>" with a text value');
    expect(loadError({ pinnedReads: 'null' })).toContain('-c pinnedReads is not a JSON object.');
    expect(loadError({ pinnedReads: '{"x y/prod-Network/Out":"Z1"}' })).toContain('"x y/prod-Network/Out" is not "<stack>/<output>"');
    expect(loadError({ pinnedReads: '{"prod-Network/Out.Value":"Z1"}' })).toContain('"prod-Network/Out.Value" is not "<stack>/<output>"');
    expect(loadError({ pinnedReads: '{"prod-Network/Out":1}' })).toContain('"prod-Network/Out" is not "<stack>/<output>" with a text value');
  });

  test('stages sharing an account and a break-glass role agree on it: the account has that role once', () => {
    const shared = {
      'staging.account': '111111111111',
      'prod.dumps.anonymised.readerAccount': '111111111111',
      'staging.baseline': JSON.stringify({ guardDuty: { enabled: false, runtimeMonitoring: false }, securityHub: false, configRecorder: 'off' }),
    };
    expect(loadError({ ...shared, 'staging.access.breakGlass': JSON.stringify({ createRole: true, principals: ['sso:PlatformAdmin'] }) })).toMatch(
      /stage "staging", field "access\.breakGlass", value .*: differs from stage "dev" .*same account 111111111111 with the same break-glass role webapp-break-glass: the account has that role once\. Fix: set the same access\.breakGlass in both stages .*, or give each its own backup\.breakGlassRoleName/,
    );
    expect(() =>
      loadStages({
        ...shared,
        'staging.access.breakGlass': JSON.stringify({ createRole: true, principals: ['sso:PlatformAdmin'] }),
        'staging.backup.breakGlassRoleName': 'webapp-staging-break-glass',
      }),
    ).not.toThrow();
  });

  test('stages sharing an account must share its baseline (one baseline stack per account and region)', () => {
    expect(loadError({ 'staging.account': '111111111111' })).toMatch(
      /stage "staging", field "baseline", value .*: differs from stage "dev" .*which runs in the same account 111111111111: the account has one baseline\. Fix: set the same baseline in both stages/,
    );
    expect(() =>
      loadStages({
        'staging.account': '111111111111',
        'prod.dumps.anonymised.readerAccount': '111111111111',
        'staging.baseline': JSON.stringify({ guardDuty: { enabled: false, runtimeMonitoring: false }, securityHub: false, configRecorder: 'off' }),
      }),
    ).not.toThrow();
  });

  test('the stage making an anonymised copy and the stage refreshing from it name each other, with their real accounts', () => {
    expect(loadError({ 'prod.dumps.anonymised.readerAccount': '444444444444' })).toMatch(
      /stage "prod", field "dumps\.anonymised\.readerAccount", value "444444444444": stage "staging" runs in account 222222222222.*Fix: set dumps\.anonymised\.readerAccount: "222222222222"/,
    );
    expect(loadError({ 'staging.dumps.refreshFrom': 'null' })).toMatch(
      /stage "staging", field "dumps\.refreshFrom", value undefined: stage "prod" anonymises its dumps for staging.*Fix: set dumps\.refreshFrom: \{ sourceStage: "prod", sourceAccount: "333333333333", sourceRegion: "eu-west-1" \} in staging/,
    );
    expect(loadError({ 'staging.dumps.refreshFrom.sourceAccount': '111111111111' })).toMatch(
      /stage "staging", field "dumps\.refreshFrom\.sourceAccount", value "111111111111": stage "prod" runs in account 333333333333.*Fix: set dumps\.refreshFrom\.sourceAccount: "333333333333"/,
    );
    // Where the stage holding the account is not synthesized, an operator command's -c account is its own business.
    expect(() => loadStages({ stages: 'staging', 'staging.account': '444444444444' })).not.toThrow();
    expect(loadError({ stages: 'prod', 'staging.account': '444444444444' })).toMatch(
      /field "dumps\.anonymised\.readerAccount", value "222222222222": stage "staging" runs in account 444444444444/,
    );
    // Another region is no reason to refuse (the refresh reads the copy through S3 and KMS of the
    // source's region), but the region named must be the source's.
    expect(() => loadStageConfigs({ 'prod.region': 'eu-west-2', 'prod.drRegion': 'eu-west-1', 'staging.dumps.refreshFrom.sourceRegion': 'eu-west-2' })).not.toThrow();
    expect(loadError({ 'prod.region': 'eu-west-2', 'prod.drRegion': 'eu-west-1' })).toMatch(
      /stage "staging", field "dumps\.refreshFrom\.sourceRegion", value "eu-west-1": stage "prod" runs in eu-west-2.*Fix: set dumps\.refreshFrom\.sourceRegion: "eu-west-2"/,
    );
    const noCopy = loadError({ 'prod.dumps.anonymised': 'null' });
    expect(noCopy).toMatch(
      /stage "staging", field "dumps\.refreshFrom\.sourceStage", value "prod": stage "prod" makes no anonymised copy for staging.*Fix: set dumps\.anonymised: \{ readerStage: "staging", readerAccount: "222222222222" \} in prod/,
    );
    expect(() => loadStages({ 'prod.dumps.anonymised': 'null', 'staging.dumps.refreshFrom': 'null' })).not.toThrow();
  });

  test('two stages promoting from one stage fail: the release-read role is named after the stage it reads', () => {
    expect(loadError({ 'staging.image.promotedFrom': 'dev', 'prod.image.promotedFrom': 'dev' })).toMatch(
      /stage "prod", field "image\.promotedFrom", value "dev": stage "staging" promotes from dev too/,
    );
  });

  test("a stage whose name differs from its key gets that one problem, not the other stage's rules", () => {
    const problems = loadError({ 'dev.name': 'prod' }).split('\n').slice(1);
    expect(problems).toEqual(['  - stage "dev", field "name", value "prod": the definition under "dev" names itself "prod". Fix: set name: "dev" in lib/config/stages.ts']);
  });

  test('problems on list items and from rules across fields still name the -c key they came from', () => {
    expect(loadError({ 'staging.alarms.emails': '["ok@example.com","not-an-email"]' })).toMatch(
      /field "alarms\.emails\.1", value "not-an-email": not an email address.*\(this value came from -c staging\.alarms\.emails\)/,
    );
    expect(loadError({ 'prod.alarms.httpsEndpoints': '[]' })).toMatch(/field "alarms", .*would reach no pager.*\(this value came from -c prod\.alarms\.httpsEndpoints\)/);
  });

  test('CDK context keys (feature flags, lookups) are not taken for overrides', () => {
    expect(() =>
      loadStageConfigs({
        '@aws-cdk/core:enablePartitionLiterals': true,
        'availability-zones:account=111111111111:region=eu-west-1': ['eu-west-1a'],
        'aws:cdk:enable-path-metadata': true,
        'hosted-zone:account=111111111111:domainName=example.com:region=eu-west-1': { Id: '/hostedzone/Z1' },
        'acknowledged-issue-numbers': [32775],
        skipPreDeploySnapshot: 'true',
        rerunDatabaseSetup: '1',
      }),
    ).not.toThrow();
  });
});
