#!/usr/bin/env bash
# Builds the jsbench nats.go adapter offline from Debian's packages (golang-go and
# golang-github-nats-io-go-nats-dev, nats.go 1.22.1) in GOPATH mode: there is no Go module proxy
# here. Leaves one static executable, OUT_DIR/adapter. Contract: docs/adapters.md and
# adapters/nats.go/README.md.
# Usage: build.sh OUT_DIR
set -euo pipefail
out_dir=${1:?usage: build.sh OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
gopath=/usr/share/gocode
need="nats.go adapter: needs Debian's golang-go and golang-github-nats-io-go-nats-dev: apt-get install golang-go golang-github-nats-io-go-nats-dev"
if ! command -v go >/dev/null 2>&1; then
  echo "$need (no go command on PATH)" >&2
  exit 3
fi
if [ ! -f "$gopath/src/github.com/nats-io/nats.go/js.go" ]; then
  echo "$need (no nats.go source in $gopath/src/github.com/nats-io/nats.go)" >&2
  exit 3
fi
mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The sources only: the build neither reads nor writes the adapter's directory.
mkdir "$work/src"
cp "$here"/*.go "$work/src/"
# GOPATH mode (GO111MODULE=off, no GOFLAGS such as -mod=mod, no user go.env), a throwaway build
# cache, and no cgo: the binary is static and needs nothing from this directory or the build.
(cd "$work/src" && env GOPATH="$gopath" GO111MODULE=off GOFLAGS= GOENV=off GOCACHE="$work/cache" \
  CGO_ENABLED=0 go build -trimpath -o "$work/adapter" .)
# Replace the executable in one rename, so that a concurrent reader never sees half of it.
mv -f "$work/adapter" "$out_dir/adapter.tmp.$$"
mv -f "$out_dir/adapter.tmp.$$" "$out_dir/adapter"
echo "built $out_dir/adapter" >&2
