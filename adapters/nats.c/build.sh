#!/usr/bin/env bash
# Builds jsbench-nats.c into OUT_DIR/adapter with gcc and Debian's libnats-dev
# (nats.c 3.4.1). Usage: build.sh OUT_DIR
# Exit 3 when the toolchain is missing (one line naming the install command).
set -euo pipefail
out=${1:?usage: build.sh OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
need="nats.c adapter: needs Debian's gcc, pkg-config and libnats-dev: apt-get install gcc pkg-config libnats-dev"
if ! command -v gcc >/dev/null || ! command -v pkg-config >/dev/null || ! pkg-config --exists libnats \
    || [ ! -f /usr/include/nats/nats.h ]; then
  echo "$need" >&2
  exit 3
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
# Build to a temp name and rename, so a failed or concurrent build never
# leaves a half-written OUT_DIR/adapter.
tmp=$(mktemp "$out/.adapter.XXXXXX")
trap 'rm -f "$tmp"' EXIT
# shellcheck disable=SC2046 # pkg-config output is a list of flags
gcc -O2 -g -std=gnu11 -Wall -Wextra -pthread $(pkg-config --cflags libnats) \
  "$here"/adapter.c "$here"/client.c "$here"/config.c "$here"/json.c "$here"/report.c \
  $(pkg-config --libs libnats) -o "$tmp"
chmod 755 "$tmp"
mv -f "$tmp" "$out/adapter"
trap - EXIT
echo "built $out/adapter ($(pkg-config --modversion libnats))"
