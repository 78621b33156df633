#!/usr/bin/env bash
# Runs a Windows build's command line under Wine on every bundled example and compares its output
# with the Linux build's: findings (TSV), the check verdict and exit status, and the DFD as SVG.
# Line ends aside (Windows writes CRLF), the outputs must be identical.
#
#   .github/scripts/wine-check.sh path/to/threatmap.exe path/to/linux/threatmap
#
# Needs Debian's wine64. Wine 8.0 lacks bcryptprimitives.dll, which Rust programs import: the
# test-only shim from ../shared/tools/wine-bcryptprimitives is built beside the .exe (it never
# ships).
set -euo pipefail
cd "$(dirname "$0")/../.."
exe=$(realpath "$1"); linux=$(realpath "$2")
shim="$(dirname "$exe")/bcryptprimitives.dll"
shared="${THREATMAP_SHARED:-$PWD/../shared}"
[ -f "$shim" ] || "$shared/tools/wine-bcryptprimitives/build.sh" "$shim" >/dev/null
wine=/usr/lib/wine/wine64; command -v "$wine" >/dev/null || wine=wine64
export WINEDEBUG=-all WINEPREFIX="${WINEPREFIX:-$(mktemp -d)}"
win() { "$wine" "$exe" "$@" 2>/dev/null | tr -d '\r'; return "${PIPESTATUS[0]}"; }
# The first run creates the prefix (and may exit 53): once more then.
win --version >/dev/null 2>&1 || true
echo "windows: $(win --version)"
echo "linux:   $("$linux" --version)"
fail=0
for model in assets/examples/*.threatmap.json; do
  wpath="Z:$(realpath "$model" | tr / '\\\\')"
  name=$(basename "$model")
  for args in "findings --format tsv" "dfd --format svg"; do
    # shellcheck disable=SC2086
    w=$(win $args "$wpath"); l=$("$linux" $args "$model")
    if [ -z "$w" ]; then echo "EMPTY    $name: ${args%% *} printed nothing on Windows"; fail=1; continue; fi
    if [ "$w" = "$l" ]; then echo "same     $name: ${args%% *}"; else echo "DIFFERENT $name: ${args%% *}"; fail=1; fi
  done
  set +e
  win check "$wpath" --fail-on high >/dev/null; wc=$?
  "$linux" check "$model" --fail-on high >/dev/null; lc=$?
  set -e
  if [ "$wc" = "$lc" ]; then echo "same     $name: check exit $wc"; else echo "DIFFERENT $name: check exit $wc (linux $lc)"; fail=1; fi
done
exit $fail
