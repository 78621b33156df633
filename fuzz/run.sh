#!/usr/bin/env bash
# Runs every fuzz target (or those named) for SECONDS each and prints execs and findings per target.
#
#   fuzz/run.sh [SECONDS] [TARGET...]        default: 60 seconds, every target
#
# Needs a nightly toolchain (`rustup toolchain install nightly`) and cargo-fuzz
# (`cargo install cargo-fuzz`). Seed corpora come from fuzz/seeds and, when present, from the
# reference files in ../shared/compat (THREATMAP_SHARED) and tests/hostile, copied into fuzz/corpus
# at run time.
# Limits: 1 s per input, 512 MB in one allocation, 1 GB for the whole process (the in-memory
# corpus included); an input over any is a finding. Run on an otherwise idle machine: a fuzzer
# starved of CPU reports false timeouts.
# Findings land in fuzz/artifacts/TARGET/; replay one with
#   cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/crash-…
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
shift || true
all=(condition rule_pack model pytm_json tm7 threat_dragon otm template)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")
shared="${THREATMAP_SHARED:-$PWD/../../shared}"
[ -d "$shared/compat" ] || echo "note: $shared/compat not found; seeding from fuzz/seeds and the project only" >&2

seed() { # seed TARGET FILE...
  local dir="corpus/$1"; shift
  mkdir -p "$dir"
  for f in "$@"; do [ -f "$f" ] && cp -f "$f" "$dir/seed-$(basename "$f")"; done
  return 0
}
for t in "${all[@]}"; do [ -d "seeds/$t" ] && seed "$t" seeds/"$t"/*; done
seed rule_pack ../rules/*.toml "$shared/compat/pytm/threats.json"
seed model ../assets/examples/*.json
seed pytm_json "$shared"/compat/pytm/models/*/out.json
seed tm7 "$shared"/compat/tmt/*.tm7
seed threat_dragon "$shared"/compat/threat-dragon/*.json
seed template "$shared"/compat/pytm/templates/*.md
# The hostile-input corpus: bad files are good starting points.
seed model ../tests/hostile/model/*
seed pytm_json ../tests/hostile/pytm/*
seed tm7 ../tests/hostile/tm7/*
seed threat_dragon ../tests/hostile/threat-dragon/*
seed otm ../tests/hostile/otm/*
seed rule_pack ../tests/hostile/rules/*
seed template ../tests/hostile/template/*
if [ -f "$shared/compat/pytm/threats.json" ] && command -v python3 >/dev/null; then
  python3 - "$shared/compat/pytm/threats.json" corpus/condition <<'PY'
import json, sys, hashlib, pathlib
out = pathlib.Path(sys.argv[2])
for t in json.load(open(sys.argv[1])):
    c = t.get("condition", "")
    (out / ("pytm-" + hashlib.sha1(c.encode()).hexdigest()[:12])).write_text(c)
PY
fi

cargo +nightly fuzz build -O
mkdir -p logs
printf '%-14s %10s %10s %12s %s\n' target seconds execs "execs/s" findings
for t in "${targets[@]}"; do
  mkdir -p "artifacts/$t"
  before=$(ls "artifacts/$t" | wc -l)
  set +e
  cargo +nightly fuzz run -O "$t" "corpus/$t" -- \
    -max_total_time="$seconds" -rss_limit_mb=1024 -malloc_limit_mb=512 -timeout=1 \
    -print_final_stats=1 >"logs/$t.log" 2>&1
  set -e
  after=$(ls "artifacts/$t" | wc -l)
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$t.log" | grep -o '[0-9]*$' || echo 0)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "logs/$t.log" | grep -o '[0-9]*$' || echo 0)
  printf '%-14s %10s %10s %12s %s\n' "$t" "$seconds" "${execs:-0}" "${rate:-0}" "$((after - before)) (artifacts/$t)"
done
