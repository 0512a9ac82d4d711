#!/usr/bin/env bash
# Fresh machine, both README commands: a clean clone of HEAD, an empty cargo home
# (registry access allowed, nothing fetched yet), its own target directory. Prints how
# long each command took and fails unless the pristine grade is a real grade (every
# exercise built, exit 1 because the pristine flaws fail) and the tests pass.
#
#   scripts/fresh-machine.sh            # grade only
#   scripts/fresh-machine.sh --tests    # grade, then `cargo test --workspace`
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d /var/tmp/fresh-machine.XXXXXX)"
trap 'rm -rf "$work"' EXIT
git clone -q "$repo" "$work/clone"
export CARGO_HOME="$work/cargo-home"
mkdir -p "$CARGO_HOME"
cd "$work/clone"

start=$(date +%s)
set +e
cargo run -q -p harness -- grade . --format json --out "$work/report.json"
code=$?
set -e
grade_secs=$(( $(date +%s) - start ))
echo "grade: exit $code in ${grade_secs}s"
python3 - "$work/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
bad = [e["id"] for e in r["exercises"] if e["build"]["status"] != "ok"]
for e in r["exercises"]:
    print(f'  {e["id"]}: build {e["build"]["status"]}, {e["points"]}/{e["max_points"]}')
sys.exit(f"builds failed: {bad}" if bad else 0)
PY
[ "$code" = 1 ] || { echo "expected exit 1 (the pristine flaws fail), got $code"; exit 1; }

if [ "${1:-}" = "--tests" ]; then
  start=$(date +%s)
  cargo test -q --workspace
  echo "cargo test --workspace: passed in $(( $(date +%s) - start ))s"
fi
