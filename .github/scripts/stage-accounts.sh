#!/usr/bin/env bash
# Prints the -c overrides that point each stage at its real account, from the repository
# variables AWS_DEV_ACCOUNT_ID, AWS_STAGING_ACCOUNT_ID and AWS_PROD_ACCOUNT_ID (a stage whose
# variable is unset keeps the config's placeholder). Every workflow synthesizes with these, so
# the pull-request review, cdk diff and the deploy see the same templates.
set -euo pipefail
out=()
for stage in dev staging prod; do
  var="AWS_${stage^^}_ACCOUNT_ID"
  account="${!var:-}"
  if [ -n "$account" ]; then
    if ! [[ "$account" =~ ^[0-9]{12}$ ]]; then
      echo "::error::$var is not a 12-digit account id" >&2
      exit 1
    fi
    out+=("-c" "$stage.account=$account")
  fi
done
echo "${out[*]}"
