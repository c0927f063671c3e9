#!/usr/bin/env bash
# A/B on one machine: is <head-ref> slower than <base-ref>? Builds both commits, runs the same
# scenarios with each in alternating rounds (A B, A B, …: a slow drift of the machine spreads
# over both sides instead of biasing one), then gates on `jsbench compare` of the two result
# sets. What performance CI runs nightly, and what to run before pushing.
#
#   scripts/ab.sh <base-ref> [<head-ref>]      # head defaults to the working tree (HEAD + changes)
#   scripts/ab.sh - [<head-ref>]               # head only, no gate (performance CI's trend points)
#
# Settings (environment):
#   AB_ROUNDS=3                      rounds; compare needs 3 runs a side to decide
#   AB_SCENARIOS="scenarios/single-sync-none.toml scenarios/single-async-none.toml scenarios/rr4-async-none.toml"
#                                    scenario files or directories, relative to each side's tree
#                                    (each side runs its own copy: a benchmark as of that commit)
#   AB_RUN_ARGS="--messages 20000 --warmup 1000"   extra `jsbench run` arguments, both sides
#   AB_OUT=results/ab-<stamp>        where both sides' results and compare.md go
#   AB_COMPARE_ARGS=""               extra `jsbench compare` arguments (e.g. --threshold p99=15)
#
# Both sides run with the same seeds (the scenario files'), the same backend and the same
# machine; compare refuses sets from different environments. Exit: compare's (0 no regression,
# 1 a regression, 2 bad input, 3 environments differ), or the failing build's.
set -euo pipefail

usage() {
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}
[ $# -ge 1 ] && [ $# -le 2 ] || usage
base_ref=$1
head_ref=${2:-}

repo=$(git rev-parse --show-toplevel)
cd "$repo"
rounds=${AB_ROUNDS:-3}
scenarios=${AB_SCENARIOS:-scenarios/single-sync-none.toml scenarios/single-async-none.toml scenarios/rr4-async-none.toml}
run_args=${AB_RUN_ARGS:---messages 20000 --warmup 1000}
out=${AB_OUT:-results/ab-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
out=$(cd "$out" && pwd)

# "-": no base side; the head's runs are compared with themselves (no gate, just the figures).
sides=(base head)
if [ "$base_ref" = "-" ]; then
  sides=(head)
  base_sha=none
else
  base_sha=$(git rev-parse --verify "$base_ref^{commit}")
fi
work=$(mktemp -d)
# Worktrees and builds go when the script ends, whatever happens.
# shellcheck disable=SC2329 # invoked by the EXIT trap
cleanup() {
  if [ "$base_sha" != none ]; then git worktree remove --force "$work/base" >/dev/null 2>&1 || true; fi
  if [ -n "$head_ref" ]; then git worktree remove --force "$work/head" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ "$base_sha" != none ]; then git worktree add --detach --quiet "$work/base" "$base_sha"; fi
if [ -n "$head_ref" ]; then
  head_sha=$(git rev-parse --verify "$head_ref^{commit}")
  git worktree add --detach --quiet "$work/head" "$head_sha"
  head_tree="$work/head"
  head_label="$head_ref ($head_sha)"
else
  head_tree="$repo"
  head_label="working tree ($(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ', with changes'))"
fi

# One target directory for both builds (dependencies compiled once); each binary is copied out.
export CARGO_TARGET_DIR="${AB_TARGET_DIR:-$repo/target/ab}"
build() { # tree name
  echo "building $2 in $1"
  (cd "$1" && cargo build --release --locked --bin jsbench)
  cp "$CARGO_TARGET_DIR/release/jsbench" "$work/jsbench-$2"
}
if [ "$base_sha" != none ]; then build "$work/base" base; fi
build "$head_tree" head
tree_of() { if [ "$1" = base ]; then echo "$work/base"; else echo "$head_tree"; fi; }

run_side() { # name tree round
  local args=()
  read -r -a args <<<"$run_args"
  local files=()
  for s in $scenarios; do files+=("$2/$s"); done
  echo "round $3/$rounds: $1"
  # A run that fails is recorded in its result; compare judges it (a status flip).
  (cd "$2" && "$work/jsbench-$1" run "${files[@]}" --out "$out/$1" --no-progress --format quiet "${args[@]}") || true
}
for ((r = 1; r <= rounds; r++)); do
  for side in "${sides[@]}"; do run_side "$side" "$(tree_of "$side")" "$r"; done
done

echo
baseline_dir="$out/base"
if [ "$base_sha" = none ]; then
  echo "head only: $head_label, $rounds round(s) (compared with itself: figures, no gate)"
  baseline_dir="$out/head"
else
  echo "A/B: base $base_ref ($base_sha) vs head $head_label, $rounds round(s)"
fi
set +e
# shellcheck disable=SC2086 # AB_COMPARE_ARGS is a list of flags
"$work/jsbench-head" compare "$baseline_dir" "$out/head" --min-runs "$rounds" \
  --markdown "$out/compare.md" --json "$out/compare.json" ${AB_COMPARE_ARGS:-}
code=$?
set -e
echo "results: $out (compare.md, compare.json)"
exit "$code"
