#!/usr/bin/env bash
# Size and start-up time of threatmap binaries, side by side: file size, `--version` (process
# start), `findings` on the bundled example (start + load + rules), and the desktop app from
# launch to its first painted frame (under Xvfb, when Xvfb is installed). Medians of RUNS runs.
#
#   bench/startup.sh target/release/threatmap target/dist/threatmap [...]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-15}"
example=assets/examples/web-app.threatmap.json

median_ms() { # command...: median wall time in ms over $runs runs
  local t=()
  for _ in $(seq "$runs"); do
    local s e
    s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N)
    t+=($(( (e - s) / 1000 )))
  done
  printf '%s\n' "${t[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'
}

first_frame_ms() { # binary: ms from launch to the first frame it reports painting
  local bin="$1" home log t=()
  home=$(mktemp -d); log="$home/stderr"
  for _ in $(seq 5); do
    local s e pid
    s=$(date +%s%N)
    HOME="$home" DISPLAY="$display" THREATMAP_TRACE_FRAMES=1 "$bin" "$example" >/dev/null 2>"$log" & pid=$!
    for _ in $(seq 6000); do
      grep -q '^threatmap: frame' "$log" 2>/dev/null && break
      sleep 0.01
    done
    e=$(date +%s%N)
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
    grep -q '^threatmap: frame' "$log" && t+=($(( (e - s) / 1000 )))
    rm -rf "$home/.local" "$home/.config"
  done
  rm -rf "$home"
  [ ${#t[@]} -gt 0 ] || { printf 'n/a'; return; }
  printf '%s\n' "${t[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.0f", a[int((NR+1)/2)]/1000}'
}

display=""
if command -v Xvfb >/dev/null; then
  Xvfb :97 -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 & xvfb=$!
  trap 'kill $xvfb 2>/dev/null' EXIT
  display=:97; sleep 1
fi

printf '%-40s %10s %14s %14s %16s\n' binary "size (MB)" "--version (ms)" "findings (ms)" "first frame (ms)"
for bin in "$@"; do
  size=$(stat -c %s "$bin" | awk '{printf "%.1f", $1/1048576}')
  v=$(median_ms "$bin" --version)
  f=$(median_ms "$bin" findings "$example" --format tsv)
  g=n/a; [ -n "$display" ] && g=$(first_frame_ms "$(realpath "$bin")")
  printf '%-40s %10s %14s %14s %16s\n' "$bin" "$size" "$v" "$f" "$g"
done
