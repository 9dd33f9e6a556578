#!/usr/bin/env bash
# Builds the test tiers' one binary (etcd, kube-apiserver and kubectl; kube-scheduler,
# kube-controller-manager, kube-proxy and kubelet for the node tier; all from Go modules) into a
# cache outside the repo, keyed by the Kubernetes version and a hash of the sources, so a
# warm machine skips the build. Prints the binary's folder on stdout (the last line); progress
# goes to stderr. Used by `make test` and by the cluster and node tests' conftests.
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)

k8s_version=$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' "$src/go.mod")
sources_hash=$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" "$src/build.sh" | sha256sum | cut -c1-12)
cache=${KASUGAI_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kasugai}/apiserver
out=$cache/$k8s_version-$sources_hash

if [ -x "$out/kasugai-testcluster" ]; then
  echo "$out"
  exit 0
fi
if ! command -v go >/dev/null; then
  echo "build.sh: the Go toolchain is needed to build kube-apiserver for the cluster tests" >&2
  exit 1
fi

mkdir -p "$cache"
# One build at a time: a second caller waits here, then finds the first one's result.
exec 9>>"$cache/.lock"
if ! flock -n 9; then
  holder=$(cat "$cache/.lock" 2>/dev/null || true)
  echo "build.sh: waiting for the build that holds $cache/.lock (${holder:-holder unknown})" >&2
  flock 9
fi
# Whoever waits next is told who holds the lock.
echo "pid $$ of $(whoami), since $(date -u +%H:%M:%SZ)" >"$cache/.lock"
if [ -x "$out/kasugai-testcluster" ]; then
  echo "$out"
  exit 0
fi

echo "build.sh: building Kubernetes $k8s_version (apiserver, kubectl, scheduler, controller-manager," \
  "kube-proxy, kubelet) and etcd from Go modules into $out (once per version; about 15-25 minutes" \
  "on 2 cores when the Go caches are cold)" >&2
started=$SECONDS
staging=$(mktemp -d "$cache/.build.XXXXXX")
trap 'rm -rf "$staging"' EXIT
# -trimpath and -s -w keep the binary smaller and its build reproducible; they cost nothing.
# The version stamps are what Kubernetes' own build sets: /version and `kubectl version` tell
# the release instead of v0.0.0-master.
minor=$(echo "$k8s_version" | cut -d. -f2)
stamps=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  stamps+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  stamps+=" -X $pkg.gitTreeState=clean"
done
(cd "$src" && go build -buildvcs=false -trimpath -ldflags="-s -w$stamps" \
  -o "$staging/kasugai-testcluster" .)
for tool in etcd kube-apiserver kubectl kube-scheduler kube-controller-manager kube-proxy kubelet; do
  ln -s kasugai-testcluster "$staging/$tool"
done
# Old builds are dead weight (the binary is large): keep this one and the newest other one, so
# that two checkouts of different sources (a branch and main) do not rebuild each other away.
find "$cache" -mindepth 1 -maxdepth 1 -type d ! -name '.*' -printf '%T@ %p\n' | sort -rn |
  tail -n +2 | cut -d' ' -f2- | xargs -r rm -rf
mv -T "$staging" "$out"
trap - EXIT
echo "build.sh: built in $((SECONDS - started)) s" >&2
echo "$out"
