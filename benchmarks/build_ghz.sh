#!/usr/bin/env bash
# Builds ghz (https://ghz.sh), a gRPC load driver written in Go, from Go modules into a cache
# outside the repo (as tests/apiserver/build.sh does for kube-apiserver), so calc_chain.py can
# drive the chain with a driver that is not itself the bottleneck. Prints the binary's path on
# stdout (the last line); progress goes to stderr.
set -euo pipefail
version=${GHZ_VERSION:-v0.120.0}
cache=${KASUGAI_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kasugai}/ghz
out=$cache/$version

if [ -x "$out/ghz" ]; then
  echo "$out/ghz"
  exit 0
fi
if ! command -v go >/dev/null; then
  echo "build_ghz.sh: the Go toolchain is needed to build ghz" >&2
  exit 1
fi
mkdir -p "$cache"
# One build at a time: a second caller waits here, then finds the first one's result.
exec 9>>"$cache/.lock"
flock 9
if [ -x "$out/ghz" ]; then
  echo "$out/ghz"
  exit 0
fi
echo "build_ghz.sh: building ghz $version from Go modules into $out (a few minutes, once)" >&2
staging=$(mktemp -d "$cache/.build.XXXXXX")
trap 'rm -rf "$staging"' EXIT
GOBIN=$staging go install -trimpath -ldflags="-s -w" "github.com/bojand/ghz/cmd/ghz@$version"
mv -T "$staging" "$out"
trap - EXIT
echo "$out/ghz"
