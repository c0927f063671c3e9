#!/usr/bin/env bash
# Builds the jsbench image (docker/jsbench.Dockerfile, FROM scratch) by running
# `jsbench image build`, which packs the jsbench binary it runs from, that binary's shared
# libraries and loader, and the pinned nats-server, and builds through the Docker API.
#
#   docker/build-jsbench-image.sh [--tag NAME[:TAG]]
#
# The jsbench binary: $JSBENCH, else `jsbench` on PATH, else this checkout's
# target/release/jsbench, else target/debug/jsbench (build one with `cargo build --release`;
# a debug binary works too, in a ~300 MB image). The image holds exactly that binary.
# Default tag: jsbench/jsbench:<its version>. Prints the tag on stdout.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
die() { echo "build-jsbench-image: $*" >&2; exit 1; }

bin="${JSBENCH:-}"
if [ -z "$bin" ]; then
    if command -v jsbench >/dev/null 2>&1; then
        bin="$(command -v jsbench)"
    else
        for candidate in "$here/../target/release/jsbench" "$here/../target/debug/jsbench"; do
            if [ -x "$candidate" ]; then bin="$candidate"; break; fi
        done
    fi
fi
[ -n "$bin" ] || die "no jsbench binary: set JSBENCH, put jsbench on PATH, or run cargo build --release"
[ -x "$bin" ] || die "not executable: $bin"
echo "build-jsbench-image: $bin image build $*" >&2
exec "$bin" image build "$@"
