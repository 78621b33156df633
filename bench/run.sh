#!/usr/bin/env bash
# Runs every benchmark (`cargo bench --workspace`, criterion) and prints one table: the median
# of each benchmark, then the benches' own summaries (peak memory, sizes, findings).
#
#   bench/run.sh [criterion filter]
#
# The pytm / Graphviz comparison is bench/compare.sh. Figures are recorded in BENCHMARKS.md.
# Reference inputs (pytm's rules and templates, TMT and Threat Dragon files) come from
# ../shared (THREATMAP_SHARED); benches that need a missing one say so and skip it.
set -euo pipefail
cd "$(dirname "$0")/.."
export THREATMAP_SHARED="${THREATMAP_SHARED:-$PWD/../shared}"
log=target/bench.log
mkdir -p target
touch target/bench.started
cargo bench --workspace -- "$@" 2>&1 | tee "$log" >/dev/null || { tail -30 "$log"; exit 1; }

python3 - "$log" <<'PY'
import json, pathlib, sys
root = pathlib.Path("target/criterion")
rows = []
started = pathlib.Path("target/bench.started").stat().st_mtime
for est in sorted(root.glob("**/new/estimates.json")):
    if est.stat().st_mtime < started:
        continue  # a benchmark from an earlier run that did not run now
    name = str(est.parent.parent.relative_to(root))
    median = json.loads(est.read_text())["median"]["point_estimate"] / 1e9
    rows.append((name, median))
def fmt(s):
    return f"{s * 1e3:10.2f} ms" if s < 1 else f"{s:10.3f} s "
print(f"{'benchmark':<52} {'median':>13}")
print("-" * 66)
for name, m in rows:
    print(f"{name:<52} {fmt(m)}")
# The benches' own one-run summaries (memory, sizes, counts).
print()
keep = False
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    if line.startswith("Threatmap "):
        keep = True
        print(line.rstrip())
    elif keep and line.startswith("  ") and not line.lstrip().startswith("Running"):
        print(line.rstrip())
    else:
        keep = False
PY
