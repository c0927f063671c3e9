#!/usr/bin/env bash
# Compares jsbench's async publishers with the Go reference publisher (nats.go PublishAsync,
# ../shared/peers/go-publish) on one nats-server, alternating runs (A B C A B C …), and prints
# the median msgs/s of each and the ratios. Like with like: same server, R1, same storage,
# 1M × 128 B, 16 keys, 10k in flight.
#
#   scripts/compare-go.sh [ROUNDS] [MESSAGES]        # env: STORAGES="file memory"
#
# Needs: the Go peer (built here with its build.sh if missing), nats-server (NATS_SERVER_BIN or
# `jsbench fetch-server`), a release build of jsbench.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
msgs=${2:-1000000}
storages=${STORAGES:-file memory}
peer_dir=${GO_PEER_DIR:-../shared/peers/go-publish}
go_bin=${GO_PUBLISH:-target/go-publish}

cargo build --release -q -p jsbench
jsb=target/release/jsbench
[ -x "$go_bin" ] || bash "$peer_dir/build.sh" "$go_bin" >&2
nats=${NATS_SERVER_BIN:-$($jsb fetch-server 2>/dev/null)}

work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
"$nats" -a 127.0.0.1 -p "$port" -js -sd "$work/store" >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
sleep 1
url=nats://127.0.0.1:$port

scenario() { # name strategy count storage
  cat >"$work/$1.toml" <<TOML
name = "$1"
seed = 1
[stream]
storage = "$4"
[connections]
strategy = "$2"
count = $3
[publish]
mode = "async"
max_in_flight = 10000
[workload]
messages = $msgs
keys = 16
key_distribution = "round_robin"
payload_size = 128
TOML
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for storage in $storages; do
  scenario "single-$storage" single 1 "$storage"
  scenario "ka4-$storage" key_affine 4 "$storage"
  : >"$work/go"; : >"$work/single"; : >"$work/ka4"
  for r in $(seq 1 "$rounds"); do
    g=$("$go_bin" --url "$url" --mode async --storage "$storage" --msgs "$msgs" --size 128 --pending 10000 \
        | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["msgs_per_sec"]))')
    echo "$g" >>"$work/go"
    for s in single ka4; do
      out="$work/out-$storage-$s-$r"
      "$jsb" run "$work/$s-$storage.toml" --server-url "$url" --out "$out" --no-progress >/dev/null 2>&1 || true
      v=$(python3 -c 'import json,sys,glob; print(round(json.load(open(glob.glob(sys.argv[1]+"/*/result.json")[0]))["throughput"]["msgs_per_sec"]))' "$out")
      echo "$v" >>"$work/$s"
    done
    echo "$storage round $r: go $g | jsbench single $(tail -1 "$work/single") | jsbench ka4 $(tail -1 "$work/ka4") msgs/s"
  done
  mg=$(median <"$work/go"); ms=$(median <"$work/single"); mk=$(median <"$work/ka4")
  echo "$storage medians: go $mg | jsbench single $ms ($(python3 -c "print(f'{$ms/$mg:.2f}')")x) | jsbench ka4 $mk ($(python3 -c "print(f'{$mk/$mg:.2f}')")x)"
done
