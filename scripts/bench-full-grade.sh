#!/usr/bin/env bash
# Full-grade speed: one submission that fixes all five exercises (the first reference
# fix of each, from tests/corpus/), graded by the grader's binary, and a batch of such
# submissions. Prints, per run: wall time, each exercise's build and checks, and points.
#
#   scripts/bench-full-grade.sh                 # warm grades at --parallel 1 and 3
#   BATCH=20 JOBS=2 scripts/bench-full-grade.sh # also a grade-batch of 20 submissions
#   COLD=1 scripts/bench-full-grade.sh          # first grade with an empty build cache
#
# "Warm, unchanged" re-grades the same tree (every build is a cache hit); "warm, edited"
# touches each exercise's main.rs first, so cargo compiles each service incrementally,
# as it does for every new submission once the dependencies are built. Two floors are
# printed: "floor", all builds in turn plus the slowest exercise's checks (what a grade
# that built everything first could not beat), and "chain", the longest one exercise's
# build plus its checks (two at a time: the longest check or half their sum, whichever
# is more, so no schedule beats it).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-2}
cargo build -q -p harness
bin=$PWD/target/debug/harness
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fixed=$work/fixed
mkdir -p "$fixed"
git archive HEAD | tar -x -C "$fixed"
for ex in charge orders transfer quote checkout; do
  ref=$(ls tests/corpus/$ex/reference-*.patch | head -1)
  (cd "$fixed" && git apply "$OLDPWD/$ref")
  echo "using $ref"
done

summary() { # report.json wall_ms label
  python3 - "$@" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
wall, label = int(sys.argv[2]), sys.argv[3]
parts, builds, slowest, chain = [], 0, 0, 0
for ex in r["exercises"]:
    b = ex["build"]["duration_ms"]
    # Two checks at a time: no schedule beats the longest check or half their sum.
    d = [c["duration_ms"] for c in ex["checks"]]
    c = max(max(d, default=0), sum(d) // 2)
    builds += b
    slowest = max(slowest, c)
    chain = max(chain, b + c)
    parts.append(f"{ex['id']} {b / 1000:.1f}+{c / 1000:.1f}")
print(f"{label}: wall {wall / 1000:.1f} s · {r['points']}/{r['max_points']} points · build+checks s: {', '.join(parts)}")
print(f"  builds {builds / 1000:.1f} s, slowest exercise's checks {slowest / 1000:.1f} s, floor {(builds + slowest) / 1000:.1f} s (wall/floor {wall / (builds + slowest):.2f}), chain {chain / 1000:.1f} s (wall/chain {wall / chain:.2f})")
PY
}

grade() { # label parallel
  local out=$work/report.json start end
  start=$(date +%s%N)
  "$bin" grade "$fixed" --format json --out "$out" --parallel "$2" 2>/dev/null || true
  end=$(date +%s%N)
  summary "$out" $(((end - start) / 1000000)) "$1"
}

touch_all() {
  for ex in charge orders transfer quote checkout; do
    echo "// bench edit $RANDOM$RANDOM" >>"$fixed/exercises/$ex/src/main.rs"
  done
}

if [[ -n "${COLD:-}" ]]; then
  rm -rf target/harness
  grade "first grade, empty build cache, --parallel 3" 3
fi
grade "warm-up" 3 >/dev/null
for parallel in 1 3; do
  for i in $(seq "$runs"); do
    grade "warm, unchanged, --parallel $parallel" "$parallel"
    touch_all
    grade "warm, edited, --parallel $parallel" "$parallel"
  done
done

if [[ -n "${BATCH:-}" ]]; then
  subs=$work/subs
  mkdir -p "$subs"
  for i in $(seq "$BATCH"); do
    cp -r "$fixed" "$subs/candidate-$i"
    for ex in charge orders transfer quote checkout; do
      echo "// candidate $i" >>"$subs/candidate-$i/exercises/$ex/src/main.rs"
    done
  done
  start=$(date +%s%N)
  "$bin" grade-batch "$subs" --out "$work/results" --jobs "${JOBS:-2}" >/dev/null 2>&1 || true
  end=$(date +%s%N)
  python3 - "$work/results" $(((end - start) / 1000000)) "$BATCH" "${JOBS:-2}" <<'PY'
import json, sys, pathlib
results, wall, n, jobs = pathlib.Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
reports = [json.load(open(p)) for p in sorted(results.glob("*/report.json"))]
full = sum(1 for r in reports if r["points"] == r["max_points"])
print(f"grade-batch of {n} edited submissions, --jobs {jobs}: wall {wall / 1000:.0f} s, {wall / 1000 / n:.1f} s per submission, {len(reports)} graded, {full} with full marks")
PY
fi
