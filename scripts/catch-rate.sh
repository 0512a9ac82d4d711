#!/usr/bin/env bash
# How often a check catches a wrong fix whose flaw is random (not a corpus entry, whose
# verdicts must be deterministic): applies PATCH to a copy of the exercise, grades CHECK
# over seeds 1..N and prints each seed's verdict and the count.
#
#   scripts/catch-rate.sh quote scripts/decoys/quote-jittered-cool-down.patch quote.long-incidents 10
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
ex=${1:?exercise}
patch=$(realpath "${2:?patch}")
check=${3:?check id}
n=${4:-10}
work="$(mktemp -d /var/tmp/catch-rate.XXXXXX)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/sub/exercises"
cp -r "$repo/exercises/$ex" "$work/sub/exercises/"
(cd "$work/sub" && GIT_CEILING_DIRECTORIES="$work" git apply --whitespace=nowarn \
  --exclude=Cargo.lock "$patch")
cd "$repo"
cargo build -q -p harness
caught=0
for seed in $(seq 1 "$n"); do
  ./target/debug/harness grade "$work/sub" --exercise "$ex" --check "$check" --seed "$seed" \
    --format json --out "$work/r.json" >/dev/null 2>&1 || true
  status=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print([c for c in r['exercises'][0]['checks'] if c['id']==sys.argv[2]][0]['status'])" "$work/r.json" "$check")
  echo "seed $seed: $status"
  [ "$status" = fail ] && caught=$((caught + 1))
done
echo "$check caught it on $caught of $n seeds"
