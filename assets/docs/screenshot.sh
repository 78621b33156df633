#!/usr/bin/env bash
# Screenshots of the desktop app under Xvfb, for the README:
#   assets/docs/screenshot.sh [MODEL] [OUT.png] [X Y]
# opens MODEL (default: the web-app example) in a 1280x760 virtual screen (the window's default
# size), optionally clicks at
# X Y (screen pixels) to select something, and writes OUT.png. DARK=1 starts it in dark mode.
# Needs: xvfb xauth libgl1-mesa-dri libegl1 libxkbcommon-x11-0 imagemagick xdotool (Debian).
set -euo pipefail
cd "$(dirname "$0")/../.."
model="${1:-assets/examples/web-app.threatmap.json}"
out="${2:-assets/docs/app-web-app.png}"
cargo build --release -p threatmap
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/threatmap-xdg}"
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
unset WAYLAND_DISPLAY
home="$(mktemp -d)"   # fresh settings: no recent files, no recovery prompt
mkdir -p "$home/.local/share/threatmap"
dark=false; [ "${DARK:-0}" = 1 ] && dark=true
printf '{\n    "threatmap": "(recent:[],dark:%s,grid:true,last:None)",\n}\n' "$dark" > "$home/.local/share/threatmap/app.ron"
xvfb-run -a -s "-screen 0 1280x760x24" bash -c "
  HOME='$home' ./target/release/threatmap '$model' & app=\$!
  sleep 5
  if [ -n '${3:-}' ]; then xdotool mousemove ${3:-0} ${4:-0} click 1; sleep 1; fi
  import -window root '$out'
  kill \$app"
rm -rf "$home"
echo "wrote $out"
