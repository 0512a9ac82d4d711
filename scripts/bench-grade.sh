#!/usr/bin/env bash
# Grading speed with a warm build cache: builds once, then grades EXERCISE (default
# charge) RUNS times and prints wall time, build (stage + incremental cargo) time and
# the time spent in the checks themselves. The pristine exercise by default; with
# PATCH=tests/corpus/<id>/<name>.patch, that corpus fix applied to a copy of HEAD.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
exercise=${EXERCISE:-charge}
cargo build -q -p harness
bin=target/debug/harness
subject=.
if [[ -n "${PATCH:-}" ]]; then
  subject=$(mktemp -d)
  trap 'rm -rf "$subject"' EXIT
  git archive HEAD | tar -x -C "$subject"
  patch=$(realpath "$PATCH")
  (cd "$subject" && git apply "$patch")
fi
"$bin" grade "$subject" --exercise "$exercise" --format json --out /dev/null 2>/dev/null || true # warm the cache
for i in $(seq "$runs"); do
  out=$(mktemp)
  start=$(date +%s%N)
  "$bin" grade "$subject" --exercise "$exercise" --format json --out "$out" 2>/dev/null || true
  end=$(date +%s%N)
  python3 - "$out" "$(( (end - start) / 1000000 ))" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ex = r["exercises"][0]
checks = sum(c["duration_ms"] for c in ex["checks"])
print(f"wall {sys.argv[2]} ms · build {ex['build']['duration_ms']} ms · checks {checks} ms · {r['points']}/{r['max_points']} points")
PY
  rm -f "$out"
done
