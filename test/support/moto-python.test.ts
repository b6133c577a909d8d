import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, test } from 'vitest';

/**
 * The moto server the tests start remembers pure functions moto calls often (moto-python/
 * sitecustomize.py). A moto that renamed them would run unchanged and quietly slower: this says
 * so, with the Python that has moto (README, "Prerequisites").
 */
test("the moto server's Python loads the memos, and they answer as moto's own functions did", () => {
  const check = `
import functools, os, sitecustomize, moto, moto.backends, jsonpath_ng.ext
assert sitecustomize.__file__.startswith(${JSON.stringify(join(__dirname, 'moto-python'))}), sitecustomize.__file__
modules = moto.backends.list_of_moto_modules()
root = os.path.dirname(moto.__file__)
assert tuple(modules) == tuple(d for d in sorted(os.listdir(root)) if os.path.isdir(os.path.join(root, d)) and not d.startswith('__')), modules
assert 'events' in modules and 'ec2' in modules
assert isinstance(jsonpath_ng.ext.parse, functools._lru_cache_wrapper)
assert [m.value for m in jsonpath_ng.ext.parse('$.detail.requestParameters.keyId').find({'detail': {'requestParameters': {'keyId': 'k'}}})] == ['k']
import botocore.loaders, logging
first = botocore.loaders.Loader().load_service_model('sts', 'service-2')
assert botocore.loaders.Loader().load_service_model('sts', 'service-2') is first
assert first['metadata']['serviceId'] == 'STS', first['metadata']
assert logging.getLogger('werkzeug').level == logging.WARNING
print('ok')
`;
  const run = spawnSync('python3', ['-c', check], { encoding: 'utf8', env: { ...process.env, PYTHONPATH: join(__dirname, 'moto-python') } });
  expect(run.stderr).toBe('');
  expect(run.stdout.trim()).toBe('ok');
});
