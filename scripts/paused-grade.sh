#!/usr/bin/env bash
# Verdicts on a machine that pauses the grader: grades corpus entries while stopping
# the harness process (SIGSTOP) for FOR seconds every EVERY seconds — the services it
# runs keep running, as on a machine too busy to schedule the grader — and prints each
# entry's points and every check that did not pass. A reference must still pass
# everything (or get no verdict, when the harness spent most of a check paused);
# a decoy's failures may shrink only where its flaw hid in the pauses.
#
#   scripts/paused-grade.sh quote reference-hand-written    # EVERY=6 FOR=2 SEED=1
#   EVERY=5 FOR=2 scripts/paused-grade.sh checkout reference-pending-order
#   CHECKS='quote.deadline quote.circuit-breaker' scripts/paused-grade.sh quote pristine
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
ex=${1:?exercise}
entry=${2:?corpus entry, or pristine}
every=${EVERY:-6}
for=${FOR:-2}
seed=${SEED:-1}
checks=()
for c in ${CHECKS:-}; do checks+=(--check "$c"); done
work="$(mktemp -d /var/tmp/paused-grade.XXXXXX)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/sub/exercises"
cp -r "$repo/exercises/$ex" "$work/sub/exercises/"
if [ "$entry" != pristine ]; then
  (cd "$work/sub" && GIT_CEILING_DIRECTORIES="$work" git apply --whitespace=nowarn \
    --exclude=Cargo.lock "$repo/tests/corpus/$ex/$entry.patch")
fi
cd "$repo"
cargo build -q -p harness
out="$work/report.json"
./target/debug/harness grade "$work/sub" --exercise "$ex" --seed "$seed" "${checks[@]}" \
  --format json --out "$out" >/dev/null 2>&1 &
pid=$!
# Only once the checks run (a service is up): a paused build proves nothing.
while kill -0 "$pid" 2>/dev/null && ! pgrep -f "/bin/$ex --listen" >/dev/null; do
  sleep 0.2
done
stops=0
while kill -0 "$pid" 2>/dev/null; do
  sleep "$every"
  kill -STOP "$pid" 2>/dev/null || break
  sleep "$for"
  kill -CONT "$pid" 2>/dev/null || true
  stops=$((stops + 1))
done
wait "$pid" || true
echo "$ex/$entry: $stops stops of ${for} s every ${every} s"
python3 - "$out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("points", r["points"], "/", r["max_points"])
for c in r["exercises"][0]["checks"]:
    if c["status"] != "pass":
        print(" ", c["id"], c["status"])
        shown = [l for l in c["evidence"] if l.startswith("✗")]
        if c["status"] == "error" or not shown:
            shown = c["evidence"][-4:]
        for line in shown:
            print("     ", line[:300])
PY
