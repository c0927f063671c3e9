#!/usr/bin/env bash
# Compares jsbench's async publisher with the Go reference publisher (nats.go PublishAsync,
# ../shared/peers/go-publish) on one nats-server, alternating runs (A B C D A B C D …), and prints
# the medians of msgs/s and of client CPU per message, and both ratios:
#   - like for like: jsbench's default wire format (its 24-byte tag inside the 128-byte
#     payload, no headers) against Go without headers (bare 128-byte events): the same bytes on
#     the wire;
#   - headers: jsbench with publish.wire = "headers" against Go with --headers (the same six
#     Jsb-* headers, built per message).
# Same server, R1, same storage, N × 128 B, 16 keys, 10k in flight.
#
#   scripts/compare-go.sh [ROUNDS] [MESSAGES]        # env: STORAGES="file memory"
#
# Needs: the Go peer (built here with its build.sh if missing: Debian's golang-go and nats.go),
# nats-server (NATS_SERVER_BIN or `jsbench fetch-server`), a release build of jsbench.
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

scenario() { # name strategy count storage wire
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
wire = "$5"
[workload]
messages = $msgs
keys = 16
key_distribution = "round_robin"
payload_size = 128
TOML
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1])/float(sys.argv[2]):.2f}')" "$1" "$2"; }

# One Go run: "msgs/s cpu_ns_per_msg".
go_run() { # storage extra-flag...
  local storage=$1
  shift
  "$go_bin" --url "$url" --mode async --storage "$storage" --msgs "$msgs" --size 128 --pending 10000 "$@" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(round(d["msgs_per_sec"]), round(d["cpu_ns_per_msg"]))'
}

# One jsbench run: "msgs/s cpu_ns_per_msg".
jsb_run() { # scenario round
  local out="$work/out-$1-$2"
  "$jsb" run "$work/$1.toml" --server-url "$url" --out "$out" --no-progress >/dev/null 2>&1 || true
  python3 -c 'import json,sys,glob; r=json.load(open(glob.glob(sys.argv[1]+"/*/result.json")[0])); print(round(r["throughput"]["msgs_per_sec"]), round(r["resources"].get("client_cpu_ns_per_msg") or 0))' "$out"
}

for storage in $storages; do
  scenario "payload-$storage" single 1 "$storage" payload
  scenario "headers-$storage" single 1 "$storage" headers
  : >"$work/go"; : >"$work/goh"; : >"$work/jsb"; : >"$work/jsbh"
  for r in $(seq 1 "$rounds"); do
    go_run "$storage" >>"$work/go"
    jsb_run "payload-$storage" "$r" >>"$work/jsb"
    go_run "$storage" --headers >>"$work/goh"
    jsb_run "headers-$storage" "$r" >>"$work/jsbh"
    echo "$storage round $r (msgs/s cpu-ns/msg): go $(tail -1 "$work/go") | jsbench $(tail -1 "$work/jsb") | go --headers $(tail -1 "$work/goh") | jsbench wire=headers $(tail -1 "$work/jsbh")"
  done
  for f in go goh jsb jsbh; do
    cut -d' ' -f1 "$work/$f" | median >"$work/$f.rate"
    cut -d' ' -f2 "$work/$f" | median >"$work/$f.cpu"
  done
  g=$(cat "$work/go.rate"); gh=$(cat "$work/goh.rate"); j=$(cat "$work/jsb.rate"); jh=$(cat "$work/jsbh.rate")
  gc=$(cat "$work/go.cpu"); ghc=$(cat "$work/goh.cpu"); jc=$(cat "$work/jsb.cpu"); jhc=$(cat "$work/jsbh.cpu")
  echo "$storage medians of $rounds: go $g msgs/s ($gc ns/msg) | jsbench $j ($jc) | go --headers $gh ($ghc) | jsbench wire=headers $jh ($jhc)"
  echo "$storage like for like (jsbench payload tag / go without headers): msgs/s $(ratio "$j" "$g")x, cpu per msg $(ratio "$jc" "$gc")x"
  echo "$storage headers (jsbench wire=headers / go --headers): msgs/s $(ratio "$jh" "$gh")x, cpu per msg $(ratio "$jhc" "$ghc")x"
done
