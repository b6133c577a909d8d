#!/usr/bin/env bash
# Installs the lockfile's packages in a job that can mint AWS credentials: no package's lifecycle
# script runs, except those of ALLOWED (esbuild checks its platform binary; the Lambda bundles need
# it). The `node` devDependency's preinstall would run a nested `npm install` of a Node binary that
# the lockfile's integrity does not cover, and npm puts node_modules/.bin first on PATH: its link is
# removed, so every npm run and npx here runs on the Node that setup-node installed. DENIED are
# decided the other way: msgpackr-extract (through BullMQ's msgpackr) would compile a native
# accelerator that msgpackr does without, and the queue-health bundle leaves it out.
set -euo pipefail
ALLOWED=(esbuild)
DENIED=(msgpackr-extract)
npm ci --ignore-scripts
npm rebuild "${ALLOWED[@]}"
rm -f node_modules/.bin/node
echo "install scripts run: ${ALLOWED[*]}; not run: ${DENIED[*]}"
