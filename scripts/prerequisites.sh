#!/usr/bin/env bash
# Installs what `npm ci` and `npm test` need besides npm packages, and only what is missing:
#   - Node.js at the version package.json's "engines" names (checked, never installed: use nvm,
#     your package manager or nodejs.org);
#   - from Debian/Ubuntu (apt-get, with sudo when not root): shellcheck (the workflow lint),
#     skopeo and docker-registry (the release promotion's copy against a local registry),
#     redis-server (stands in for Valkey in the cache tests), openssl (the TLS tests) and
#     postgresql (initdb, pg_ctl, pg_dump, pg_restore: the dump job's round trip; Debian keeps
#     them in /usr/lib/postgresql/<major>/bin, off the PATH, and creates the unprivileged postgres
#     user the tests, run as root, start the server as);
#   - from PyPI: cfn-lint and moto's server at the versions in requirements-dev.txt.
# Elsewhere than Debian it names what to install and exits 1. `--check` installs nothing: it
# lists what is missing (exit 1) or says all is there (exit 0).
set -euo pipefail
cd "$(dirname "$0")/.."

check_only=false
case "${1:-}" in
  "") ;;
  --check) check_only=true ;;
  *)
    echo "usage: bash scripts/prerequisites.sh [--check]" >&2
    exit 2
    ;;
esac

problems=0

# Node.js: the lowest version of package.json's engines range ("^20.19.0 || >=22.12.0" -> 20.19.0).
wanted_node=$(sed -n 's/.*"node": *"[^0-9]*\([0-9][0-9.]*\).*/\1/p' package.json | head -1)
if ! command -v node > /dev/null; then
  echo "missing: Node.js ${wanted_node} or newer (https://nodejs.org, nvm or your package manager)"
  problems=1
else
  have_node=$(node -p 'process.versions.node')
  if [ "$(printf '%s\n%s\n' "$wanted_node" "$have_node" | sort -V | head -1)" != "$wanted_node" ]; then
    echo "too old: Node.js ${have_node}; npm ci needs ${wanted_node} or newer (https://nodejs.org, nvm or your package manager)"
    problems=1
  fi
fi

# Debian packages, as command:package.
packages=()
for tool in shellcheck:shellcheck skopeo:skopeo docker-registry:docker-registry redis-server:redis-server openssl:openssl; do
  command -v "${tool%%:*}" > /dev/null || packages+=("${tool#*:}")
done
postgres_dir=${POSTGRES_LIB_DIR:-/usr/lib/postgresql}
if ! command -v initdb > /dev/null && ! compgen -G "${postgres_dir}/*/bin/initdb" > /dev/null; then
  packages+=(postgresql)
fi
if [ "${#packages[@]}" -gt 0 ]; then
  if $check_only; then
    echo "missing: ${packages[*]} (Debian/Ubuntu: sudo apt-get install ${packages[*]})"
    problems=1
  elif command -v apt-get > /dev/null; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    echo "installing from Debian: ${packages[*]}"
    $sudo apt-get update -qq && $sudo apt-get install -y -qq "${packages[@]}" > /dev/null
  else
    echo "missing: ${packages[*]}; install them with your package manager (the tests call them by these names)"
    problems=1
  fi
fi

# Python tools, at the pinned versions.
pin() { sed -n "s/^$1\(\[[a-z]*\]\)\?==\(.*\)$/\2/p" requirements-dev.txt; }
python_tools_ok() {
  [ "$(cfn-lint --version 2> /dev/null)" = "cfn-lint $(pin cfn-lint)" ] &&
    command -v moto_server > /dev/null &&
    [ "$(python3 -c 'import moto; print(moto.__version__)' 2> /dev/null)" = "$(pin moto)" ]
}
if ! python_tools_ok; then
  if $check_only; then
    echo "missing: cfn-lint $(pin cfn-lint) and moto $(pin moto) (python3 -m pip install -r requirements-dev.txt)"
    problems=1
  elif command -v python3 > /dev/null; then
    echo "installing from PyPI: requirements-dev.txt"
    python3 -m pip install --quiet -r requirements-dev.txt
  else
    echo "missing: Python 3 with pip, for cfn-lint and moto (requirements-dev.txt)"
    problems=1
  fi
fi

if [ "$problems" -ne 0 ]; then
  echo "Install the above, then run this again." >&2
  exit 1
fi
echo "prerequisites: all there (Node.js $(node -p 'process.versions.node'), Debian tools, cfn-lint $(pin cfn-lint), moto $(pin moto))"
