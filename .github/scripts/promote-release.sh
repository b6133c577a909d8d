#!/usr/bin/env bash
# Copies a release, by digest, from the registry of the stage it is promoted from into the
# registry of the stage it is promoted to, so that registry holds releases only (no replication
# brings builds into it). `dir:` keeps the manifest byte for byte and --preserve-digests refuses
# any conversion, so the digest the second stage runs is the one the first ran. --multi-arch all
# copies an image index (several platforms, or a build with attestations) whole: without it
# skopeo copies the runner's platform alone, whose digest is not the release's.
#
#   promote-release.sh pull DIGEST SOURCE_REPOSITORY DIR         (with the source stage's read role)
#   promote-release.sh push DIR DESTINATION_REPOSITORY [TAG]      (with the destination's deploy role)
#
# A repository is <registry host>/<name>; the registry's password comes from
# `aws ecr get-login-password` with the credentials of the step, in the region the host names
# (<account>.dkr.ecr.<region>.amazonaws.com: an ECR login is valid in its own region only, and
# prod's releases go to its DR region's registry too). The push tags the image release-<digest>
# and, where the release is named by a tag (image.tag), that tag too.
# REGISTRY_TLS_VERIFY=false is for the tests' local registries only.
set -euo pipefail
tls="${REGISTRY_TLS_VERIFY:-true}"

# Sets creds for the registry of repository $1.
login() {
  local password
  if [[ "$1" =~ ^[0-9]{12}\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?/ ]]; then
    password=$(aws ecr get-login-password --region "${BASH_REMATCH[1]}")
  else
    password=$(aws ecr get-login-password)
  fi
  echo "::add-mask::$password"
  creds="AWS:$password"
}

case "${1:-}" in
  pull)
    digest="$2" source="$3" dir="$4"
    if ! [[ "$digest" =~ ^sha256:[a-f0-9]{64}$ ]]; then
      echo "::error::not an image digest: '$digest'" >&2
      exit 1
    fi
    login "$source"
    skopeo copy --quiet --multi-arch all --preserve-digests --src-tls-verify="$tls" --src-creds "$creds" "docker://$source@$digest" "dir:$dir"
    copied=$(skopeo manifest-digest "$dir/manifest.json")
    if [ "$copied" != "$digest" ]; then
      echo "::error::the copy's digest is $copied, not $digest" >&2
      exit 1
    fi
    ;;
  push)
    dir="$2" destination="$3" tag="${4:-}"
    login "$destination"
    digest=$(skopeo manifest-digest "$dir/manifest.json")
    for name in "release-${digest#sha256:}" ${tag:+"$tag"}; do
      # Tags are immutable there: a tag already on this digest (a job run again) is done; on another
      # digest, the push fails, as it must.
      held=$(mktemp)
      if skopeo inspect --raw --tls-verify="$tls" --creds "$creds" "docker://$destination:$name" > "$held" 2> /dev/null && [ "$(skopeo manifest-digest "$held")" = "$digest" ]; then
        rm -f "$held"
        continue
      fi
      rm -f "$held"
      skopeo copy --quiet --multi-arch all --preserve-digests --dest-tls-verify="$tls" --dest-creds "$creds" "dir:$dir" "docker://$destination:$name"
    done
    echo "$digest"
    ;;
  *)
    echo "usage: promote-release.sh pull DIGEST SOURCE_REPOSITORY DIR | push DIR DESTINATION_REPOSITORY [TAG]" >&2
    exit 2
    ;;
esac
