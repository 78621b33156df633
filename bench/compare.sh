#!/usr/bin/env bash
# Runs OWASP pytm 1.4.0 (from PyPI, in a virtualenv under target/) and Graphviz `dot` on the
# same synthetic models as Threatmap and prints the times, peak memory and ratios side by side.
#
#   bench/compare.sh [N...]        default: 100 2000
#
# Models come from ../shared/bench/gen_pytm_model.py (THREATMAP_SHARED). Needs python3 with
# venv and pip, and Graphviz (`apt-get install graphviz`). Each step runs in a fresh process;
# time is wall time, memory the peak resident set of the measured process (readings under about
# 15 MB are the measuring process's own floor, as the child starts as its copy).
# Steps over LIMIT seconds (default 600) are stopped and shown as "> LIMIT s".
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${THREATMAP_SHARED:-$PWD/../shared}"
gen="$shared/bench/gen_pytm_model.py"
threats="$shared/compat/pytm/threats.json"
[ -f "$gen" ] && [ -f "$threats" ] || { echo "need $gen and $threats (set THREATMAP_SHARED)" >&2; exit 1; }
command -v dot >/dev/null || { echo "need Graphviz: apt-get install graphviz" >&2; exit 1; }
limit="${LIMIT:-600}"
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(100 2000)

venv=target/bench-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q pytm==1.4.0
fi
cargo build -q --release -p threatmap
tm=target/release/threatmap
work=target/bench-compare
mkdir -p "$work"

# measure OUT CMD...: runs CMD (stdout to OUT), prints "seconds peak_MB" or "timeout".
measure() {
  python3 - "$limit" "$@" <<'PY'
import resource, subprocess, sys, time
limit, out, cmd = float(sys.argv[1]), sys.argv[2], sys.argv[3:]
t = time.perf_counter()
try:
    with open(out, "wb") as f:
        r = subprocess.run(cmd, stdout=f, stderr=subprocess.DEVNULL, timeout=limit)
except subprocess.TimeoutExpired:
    print("timeout"); sys.exit()
dt = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"{dt:.3f} {peak:.0f}" if r.returncode == 0 else f"failed(exit {r.returncode} after {dt:.1f} s)")
PY
}
show() {
  case "$1" in
    timeout) echo "> ${limit} s" ;;
    failed*) echo "$1" ;;
    *) awk '{printf "%.3f s, %d MB", $1, $2}' <<<"$1" ;;
  esac
}
ratio() { # ratio A B: how many times B is faster than A
  if [[ "$1" == timeout ]]; then echo "> $(awk -v b="${2%% *}" -v l="$limit" 'BEGIN{printf "%.0f", l/b}')×"
  elif [[ "$1" == failed* || "$2" == failed* || "$2" == timeout ]]; then echo "–"
  else awk -v a="${1%% *}" -v b="${2%% *}" 'BEGIN{printf "%.0f×", a/b}'; fi
}

printf '%-7s %-32s %-28s %-28s %s\n' N step pytm/dot threatmap "threatmap faster"
for n in "${sizes[@]}"; do
  d="$work/n$n"
  mkdir -p "$d"
  # End to end on the same model: pytm builds it, runs its 113 rules and writes --json;
  # Threatmap imports pytm's JSON (`import pytm`), then runs the same rules and writes the same
  # JSON (`json`) or its own findings JSON (`findings --format json`), each step a process.
  p_json=$(measure "$d/pytm.log" "$venv/bin/python" -P "$gen" "$n" --json "$d/pytm.json")
  # What is imported is pytm's file with each finding cut to the fields the importer reads
  # (target, threat id, CVSS and response: overrides are rebuilt from them) and without each
  # element's own copy of its findings (not read), which keeps the file under the import limit
  # (pytm's own is 116 MB at N=2,000, 1.25 GB at 10,000).
  python3 - "$d/pytm.json" "$d/pytm-model.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
keep = ("target", "threat_id", "cvss", "response")
for k in ("boundaries", "elements", "actors", "assets", "flows"):
    for e in d.get(k) or []:
        e.pop("findings", None)  # each element's own copy, which the importer does not read
for k in ("findings", "excluded_findings"):
    d[k] = [{f: x[f] for f in keep + (("assumption",) if k == "excluded_findings" else ()) if x.get(f)} for x in d.get(k, [])]
json.dump(d, open(sys.argv[2], "w"))
PY
  t_imp=$(measure "$d/import.log" $tm import pytm "$d/pytm-model.json" -o "$d/model.threatmap.json")
  if [[ "$t_imp" == failed* || "$t_imp" == timeout ]]; then
    printf '%-7s %-32s %-28s %s\n' "$n" "import pytm" "$(show "$p_json")" "Threatmap cannot import pytm's output: $(tail -1 "$d/import.log" | cut -c1-80)"
    continue
  fi
  t_json=$(measure /dev/null $tm json "$d/model.threatmap.json" --rules "$threats" -o "$d/threatmap.json")
  t_find=$(measure "$d/findings.json" $tm findings "$d/model.threatmap.json" --rules "$threats" --format json)
  both() { # both A B: the two steps one after the other: seconds added, the larger peak
    awk -v a="$1" -v b="$2" 'BEGIN{split(a,x," "); split(b,y," "); printf "%.3f %d", x[1]+y[1], (x[2]>y[2]?x[2]:y[2])}'
  }
  printf '%-7s %-32s %-28s %-28s %s\n' "$n" "import pytm" "" "$(show "$t_imp")" ""
  printf '%-7s %-32s %-28s %-28s %s\n' "$n" "rules + pytm JSON" "" "$(show "$t_json")" ""
  printf '%-7s %-32s %-28s %-28s %s\n' "$n" "rules + findings JSON" "" "$(show "$t_find")" ""
  printf '%-7s %-32s %-28s %-28s %s\n' "$n" "end to end: import + pytm JSON" "$(show "$p_json")" "$(show "$(both "$t_imp" "$t_json")")" "$(ratio "$p_json" "$(both "$t_imp" "$t_json")")"
  printf '%-7s %-32s %-28s %-28s %s\n' "$n" "end to end: import + findings" "$(show "$p_json")" "$(show "$(both "$t_imp" "$t_find")")" "$(ratio "$p_json" "$(both "$t_imp" "$t_find")")"
  # Findings agree: the same (target, threat id) pairs, counted (a pair twice is two).
  python3 - "$d/pytm.json" "$d/threatmap.json" <<'PY'
import collections, json, sys
def pairs(p):
    d = json.load(open(p))
    return collections.Counter((f.get("target"), f.get("threat_id")) for f in d.get("findings", []))
a, b = pairs(sys.argv[1]), pairs(sys.argv[2])
n_a, n_b = sum(a.values()), sum(b.values())
print(f"{'':7} {'  findings (target, id) pairs':<32} {n_a:<28} {n_b:<28} {'identical' if a == b else f'{sum((a - b).values()) + sum((b - a).values())} differ'}")
PY
  rm -f "$d/pytm.json"
  # DFD: pytm writes DOT, Graphviz lays it out; Threatmap lays out and writes SVG itself.
  p_dfd=$(measure "$d/dfd.dot" "$venv/bin/python" -P "$gen" "$n" --dfd)
  dot_svg=$(measure "$d/dfd-dot.svg" dot -Tsvg "$d/dfd.dot")
  t_dfd=$(measure "$d/dfd.svg" $tm dfd "$d/model.threatmap.json" --auto-layout)
  printf '%-7s %-32s %-28s %-28s %s\n' "$n" "DFD: pytm --dfd" "$(show "$p_dfd")" "" ""
  printf '%-7s %-32s %-28s %-28s %s\n' "$n" "DFD: dot -Tsvg (layout)" "$(show "$dot_svg")" "$(show "$t_dfd")" "$(ratio "$dot_svg" "$t_dfd")"
done
