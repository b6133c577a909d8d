"""
Loaded by the moto server the tests start (test/support/moto.ts puts this folder on its
PYTHONPATH; Python imports sitecustomize at start-up). Two pure functions moto calls again and
again are remembered, which cuts the server's CPU by a third over the suite and changes no answer:

- moto.backends.list_of_moto_modules lists moto's own package folders (one listdir and some 200
  stats) on every request, under the server's global lock; the folders do not change while it runs.
- jsonpath_ng.ext.parse builds its parser tables anew on each call (about 45 ms); moto's
  EventBridge parses every input path of an input transformer for every event it delivers.

Anything missing or renamed in a later moto leaves the server as it is.
"""

import functools

try:
    import moto.backends as _backends

    _modules = tuple(_backends.list_of_moto_modules())
    _backends.list_of_moto_modules = lambda: _modules
except Exception:  # noqa: BLE001 - an unexpected moto: run it unchanged
    pass

try:
    import jsonpath_ng.ext as _jsonpath

    _jsonpath.parse = functools.lru_cache(maxsize=512)(_jsonpath.parse)
except Exception:  # noqa: BLE001
    pass
