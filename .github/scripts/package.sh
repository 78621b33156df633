#!/usr/bin/env bash
# Builds the Linux release artefacts here, as the release workflow does: the `dist` binary, an
# archive (binary, docs, licences, examples, rule packs, completions, manual pages), a .deb, and a
# SHA-256 checksum for each. Needs cargo-deb (`cargo install --locked cargo-deb`) and dpkg-dev.
#
#   .github/scripts/package.sh [TARGET]     # default: the host (x86_64-unknown-linux-gnu)
#
# Output: target/package/.
set -euo pipefail
cd "$(dirname "$0")/../.."
target="${1:-$(rustc -vV | sed -n 's/^host: //p')}"
version="$(cargo metadata --no-deps --format-version 1 | python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="threatmap"))')"
out=target/package
rm -rf target/dist-assets "$out"
mkdir -p target/dist-assets "$out"

cargo build --locked -p threatmap --profile dist --target "$target"
bin="target/$target/dist/threatmap"
"$bin" man --output target/dist-assets/man >/dev/null
for sh in bash zsh fish powershell; do
  "$bin" completions "$sh" > "target/dist-assets/threatmap.$sh"
done

name="threatmap-v$version-$target"
stage="$out/$name"
mkdir -p "$stage"
cp "$bin" README.md ARCHITECTURE.md BENCHMARKS.md LICENSE-MIT LICENSE-APACHE "$stage/"
cp -r assets/examples rules target/dist-assets "$stage/"
tar -C "$out" -czf "$out/$name.tar.gz" "$name"
rm -rf "$stage"

cargo deb --locked -p threatmap --profile dist --no-build --target "$target" -o "$out/"
(cd "$out" && for f in *.tar.gz *.deb; do sha256sum "$f" > "$f.sha256"; done)
ls -l "$out"
