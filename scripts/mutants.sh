#!/usr/bin/env bash
# Mutation testing of the checks: applies a reference fix, asks cargo-mutants for the
# mutants of the exercise crate, grades each mutant with the harness, and prints
# killed / survived / did not build, naming every survivor. A survivor is either an
# equivalent mutant (no behaviour the brief cares about changes) or a hole in the checks.
#
#   scripts/mutants.sh charge tests/corpus/charge/reference-pending-row.patch
#
# Needs cargo-mutants (`cargo install cargo-mutants --locked`, ~11 minutes on 2 cores).
# Each mutant is a full grade of one exercise: expect minutes per ten mutants.
# MUTANTS_LIMIT=N grades only the first N; MUTANTS_FILTER=regex only matching ones.
set -euo pipefail
exercise=${1:?usage: scripts/mutants.sh EXERCISE PATCH}
patch=$(realpath "${2:?usage: scripts/mutants.sh EXERCISE PATCH}")
repo="$(cd "$(dirname "$0")/.." && pwd)"
command -v cargo-mutants >/dev/null || { echo "cargo-mutants is not installed: cargo install cargo-mutants --locked" >&2; exit 2; }
cd "$repo"
cargo build -q -p harness
package=$(python3 -c 'import sys, tomllib; print(tomllib.load(open(f"exercises/{sys.argv[1]}/Cargo.toml", "rb"))["package"]["name"])' "$exercise")
work=$(mktemp -d /var/tmp/mutants.XXXXXX)
trap 'rm -rf "$work"' EXIT
# A copy, so rebuilding the harness while a long run goes on does not change its judge.
harness="$work/harness"
cp "$repo/target/debug/harness" "$harness"
mkdir -p "$work/base" && git archive HEAD | tar -x -C "$work/base"
(cd "$work/base" && git init -q && git apply "$patch" && git add -A && git -c user.email=m@x -c user.name=m commit -qm base)
(cd "$work/base" && cargo mutants --list --json --diff --package "$package") > "$work/mutants.json"
python3 - "$work" "$harness" "$exercise" <<'PY'
import json, os, re, subprocess, sys, shutil
work, harness, exercise = sys.argv[1:]
mutants = json.load(open(f"{work}/mutants.json"))
flt = os.environ.get("MUTANTS_FILTER")
if flt:
    mutants = [m for m in mutants if re.search(flt, m["name"])]
limit = int(os.environ.get("MUTANTS_LIMIT", "0"))
if limit:
    mutants = mutants[:limit]
killed, survived, unbuildable = [], [], []
# cargo-mutants lists "name" and "diff" per mutant with --json --diff.
for i, m in enumerate(mutants, 1):
    tree = f"{work}/m"
    shutil.rmtree(tree, ignore_errors=True)
    subprocess.run(["cp", "-a", f"{work}/base", tree], check=True)
    # cargo-mutants' diff names the file on its "---" line and the mutant on "+++".
    lines = m["diff"].splitlines(keepends=True)
    body = "".join(l for l in lines if not l.startswith(("--- ", "+++ ")))
    diff = f"--- a/{m['file']}\n+++ b/{m['file']}\n{body}"
    applied = subprocess.run(["git", "apply", "-"], cwd=tree, input=diff.encode())
    if applied.returncode != 0:
        unbuildable.append((m["name"], "diff did not apply"))
        continue
    out = f"{work}/report.json"
    subprocess.run([harness, "grade", tree, "--exercise", exercise, "--format", "json", "--out", out],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        r = json.load(open(out))
    except Exception as e:
        unbuildable.append((m["name"], f"no report ({e})"))
        continue
    ex = r["exercises"][0]
    if ex["build"]["status"] != "ok":
        unbuildable.append((m["name"], "did not build"))
    elif all(c["status"] == "pass" for c in ex["checks"]):
        survived.append(m["name"])
    else:
        killed.append((m["name"], [c["id"] for c in ex["checks"] if c["status"] != "pass"]))
    verdict = ("survived" if survived and survived[-1] == m["name"]
               else "did not build" if unbuildable and unbuildable[-1][0] == m["name"] else "killed")
    print(f"[{i}/{len(mutants)}] {verdict}: {m['name']}", flush=True)
print(f"\n{exercise} with {os.path.basename(sys.argv[0])}: {len(mutants)} mutants, "
      f"{len(killed)} killed, {len(survived)} survived, {len(unbuildable)} did not build")
for name in survived:
    print(f"  survived: {name}")
PY
