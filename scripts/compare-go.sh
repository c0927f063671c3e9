#!/usr/bin/env bash
# Compares jsbench's two async publish paths with the Go reference publisher (nats.go 1.22
# PublishAsync, ../shared/peers/go-publish) on ONE nats-server, alternating the four publishers
# every round (jsbench-lean, Go without headers, jsbench-jetstream, Go with headers, then again),
# so that whatever else the shared machine is doing falls on all of them alike. Prints every
# round, the medians of msgs/s and client CPU per message, and the ratios (issue 26):
#   - lean / Go without headers (msgs/s, CPU per message): jsbench's lean path
#     (publish.api = "lean") with its default wire format (the 24-byte tag inside the 128-byte
#     payload, no headers) against bare 128-byte Go events: the same bytes on the wire;
#   - jetstream / Go without headers: the JetStream-API path (publish.api = "jetstream", what
#     applications write), same wire format;
#   - Go with headers (--headers: the six Jsb-* headers built per message) is measured for
#     reference: what the same publisher costs when it carries jsbench's identity in headers.
# Same server, R1, same storage, N × 128 B, 16 keys, 10,000 in flight, one connection.
#
# CPU per message, the same phase for everyone: the publishing process's own CPU time (user +
# system, every thread, getrusage(RUSAGE_SELF)) from just before the first publish until the
# last ack is in, divided by the messages. Go measures it around its publish loop and
# PublishAsyncComplete; jsbench around its measured phase (first publish to the drain's end)
# and records it as resources.client_cpu_ns_per_msg. The server's CPU is not in either figure.
#
# The server's CPU, the same way for all four: its process's CPU time (/proc/<pid>/stat, user +
# system) over each publisher's whole invocation (setup included: stream creation is small
# beside N messages), per message, and as cores (that time over the publisher's own measured
# seconds). jsbench's resources.bound needs the server's CPU, which jsbench does not see on an
# external server (it is null there), so the script classifies the jsbench runs itself with the
# same rule (checker/bound.rs: a side is busy from 0.8 cores; together from 0.7 × the machine's
# cores the run is machine-bound): from the client's cores (resources.client_cpu_cores) and the
# server's. That shows whether the lean path leaves the server more of the 2-core machine.
#
#   scripts/compare-go.sh [ROUNDS] [MESSAGES]        # env: STORAGES="memory file"
#                                                    #      JSB_ARGS="--runtime multi-thread"
#
# Needs: the Go peer (built here with its build.sh if missing: Debian's golang-go and nats.go),
# nats-server (NATS_SERVER_BIN or `jsbench fetch-server`), a release build of jsbench (built
# here).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
msgs=${2:-1000000}
storages=${STORAGES:-memory file}
# The peer lives beside the main checkout; from a worktree, beside the main checkout too.
peer_dir=${GO_PEER_DIR:-../shared/peers/go-publish}
if [ ! -d "$peer_dir" ]; then
  main=$(dirname "$(git rev-parse --path-format=absolute --git-common-dir)")
  peer_dir=$main/../shared/peers/go-publish
fi
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

cpus=$(nproc)
# The server's CPU time so far, ns (utime + stime of /proc/<pid>/stat).
server_cpu_ns() {
  awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) * 1e9 / hz}' "/proc/$server/stat"
}

scenario() { # name storage api
  cat >"$work/$1.toml" <<TOML
name = "$1"
seed = 1
[stream]
storage = "$2"
[connections]
strategy = "single"
count = 1
[publish]
api = "$3"
mode = "async"
max_in_flight = 10000
[workload]
messages = $msgs
keys = 16
key_distribution = "round_robin"
payload_size = 128
[observe]
# Not needed for a throughput figure, and it would keep the server busy between the rounds.
read_back = false
TOML
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1])/float(sys.argv[2]):.2f}')" "$1" "$2"; }

# One Go run: "msgs/s cpu_ns_per_msg server_ns_per_msg server_cores".
go_run() { # storage extra-flag...
  local storage=$1 s0
  shift
  s0=$(server_cpu_ns)
  "$go_bin" --url "$url" --mode async --storage "$storage" --msgs "$msgs" --size 128 --pending 10000 "$@" >"$work/go.json"
  python3 - "$work/go.json" "$s0" "$(server_cpu_ns)" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
srv = float(sys.argv[3]) - float(sys.argv[2])
print(round(d["msgs_per_sec"]), round(d["cpu_ns_per_msg"]), round(srv / d["msgs"]),
      f'{srv / 1e9 / d["seconds"]:.2f}')
PY
}

# One jsbench run: "msgs/s cpu_ns_per_msg server_ns_per_msg server_cores client_cores bound".
jsb_run() { # scenario round
  local out="$work/out-$1-$2" s0
  s0=$(server_cpu_ns)
  # shellcheck disable=SC2086 # JSB_ARGS is a list of flags
  "$jsb" run "$work/$1.toml" --server-url "$url" --out "$out" --no-progress ${JSB_ARGS:-} >/dev/null 2>&1 || true
  python3 - "$out" "$s0" "$(server_cpu_ns)" "$cpus" <<'PY'
import glob, json, sys
r = json.load(open(glob.glob(sys.argv[1] + "/*/result.json")[0]))
res, n = r["resources"], r["counts"]["published"]
srv = float(sys.argv[3]) - float(sys.argv[2])
server = srv / 1e9 / r["throughput"]["duration_s"]
client = res.get("client_cpu_cores") or 0.0
# checker/bound.rs, with the server's cores measured here (jsbench cannot see an external one).
busy_c, busy_s = client >= 0.8, server >= 0.8
if client + server >= 0.7 * int(sys.argv[4]):
    bound = "machine"
elif busy_c and (not busy_s or client >= server):
    bound = "client"
elif busy_s:
    bound = "server"
else:
    bound = "neither"
print(round(r["throughput"]["msgs_per_sec"]), round(res.get("client_cpu_ns_per_msg") or 0),
      round(srv / max(n, 1)), f"{server:.2f}", f"{client:.2f}", bound)
PY
}

for storage in $storages; do
  scenario "lean-$storage" "$storage" lean
  scenario "jetstream-$storage" "$storage" jetstream
  : >"$work/lean"; : >"$work/go"; : >"$work/js"; : >"$work/goh"
  for r in $(seq 1 "$rounds"); do
    jsb_run "lean-$storage" "$r" >>"$work/lean"
    go_run "$storage" >>"$work/go"
    jsb_run "jetstream-$storage" "$r" >>"$work/js"
    go_run "$storage" --headers >>"$work/goh"
    echo "$storage round $r (msgs/s, client cpu ns/msg, server cpu ns/msg, server cores[, client cores, bound]): lean $(tail -1 "$work/lean") | go $(tail -1 "$work/go") | jetstream $(tail -1 "$work/js") | go --headers $(tail -1 "$work/goh")"
  done
  for f in lean go js goh; do
    cut -d' ' -f1 "$work/$f" | median >"$work/$f.rate"
    cut -d' ' -f2 "$work/$f" | median >"$work/$f.cpu"
  done
  for f in lean go js goh; do
    cut -d' ' -f3 "$work/$f" | median >"$work/$f.srvns"
    cut -d' ' -f4 "$work/$f" | median >"$work/$f.srv"
  done
  for f in lean js; do
    cut -d' ' -f5 "$work/$f" | median >"$work/$f.cores"
    cut -d' ' -f6 "$work/$f" | sort | uniq -c | awk '{printf "%s%s x%s", (NR>1?", ":""), $2, $1}' >"$work/$f.bound"
  done
  l=$(cat "$work/lean.rate"); g=$(cat "$work/go.rate"); j=$(cat "$work/js.rate"); gh=$(cat "$work/goh.rate")
  lc=$(cat "$work/lean.cpu"); gc=$(cat "$work/go.cpu"); jc=$(cat "$work/js.cpu"); ghc=$(cat "$work/goh.cpu")
  echo "$storage medians of $rounds: lean $l msgs/s ($lc ns/msg) | go $g ($gc) | jetstream $j ($jc) | go --headers $gh ($ghc)"
  echo "$storage lean / go without headers: msgs/s $(ratio "$l" "$g")x, cpu per msg $(ratio "$lc" "$gc")x"
  echo "$storage jetstream / go without headers: msgs/s $(ratio "$j" "$g")x, cpu per msg $(ratio "$jc" "$gc")x"
  echo "$storage lean / jetstream: msgs/s $(ratio "$l" "$j")x, cpu per msg $(ratio "$lc" "$jc")x"
  echo "$storage server cpu, medians (ns/msg, cores): lean $(cat "$work/lean.srvns") $(cat "$work/lean.srv") | go $(cat "$work/go.srvns") $(cat "$work/go.srv") | jetstream $(cat "$work/js.srvns") $(cat "$work/js.srv") | go --headers $(cat "$work/goh.srvns") $(cat "$work/goh.srv")"
  echo "$storage jsbench client cores (median) and bound: lean $(cat "$work/lean.cores") [$(cat "$work/lean.bound")] | jetstream $(cat "$work/js.cores") [$(cat "$work/js.bound")]"
done
