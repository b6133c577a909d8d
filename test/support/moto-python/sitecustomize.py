"""
Loaded by the moto server the tests start (test/support/moto.ts puts this folder on its
PYTHONPATH; Python imports sitecustomize at start-up). Pure functions moto calls again and again
are remembered, which changes no answer (the first two cut the server's CPU by a third over the
suite):

- moto.backends.list_of_moto_modules lists moto's own package folders (one listdir and some 200
  stats) on every request, under the server's global lock; the folders do not change while it runs.
- jsonpath_ng.ext.parse builds its parser tables anew on each call (about 45 ms); moto's
  EventBridge parses every input path of an input transformer for every event it delivers.
- botocore's Loader.load_service_model reads and parses a service's JSON model once per Loader,
  and moto makes new Loaders as it goes: the parsed models are shared.

And werkzeug's line per request on stderr, which nothing reads, is left out: 13% of the server's
busy time over the suite in a py-spy profile.

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

try:
    import botocore.loaders as _loaders

    _load_service_model = _loaders.Loader.load_service_model
    _models = {}

    def _shared_load_service_model(self, service_name, type_name, api_version=None):
        key = (tuple(self.search_paths), service_name, type_name, api_version)
        if key not in _models:
            _models[key] = _load_service_model(self, service_name, type_name, api_version)
        return _models[key]

    _loaders.Loader.load_service_model = _shared_load_service_model
except Exception:  # noqa: BLE001
    pass

try:
    import logging as _logging

    _logging.getLogger("werkzeug").setLevel(_logging.WARNING)
except Exception:  # noqa: BLE001
    pass
