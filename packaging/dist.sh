#!/usr/bin/env bash
# The source tarball a distribution builds from: the tracked files of this tree (as they
# are now, uncommitted edits included) plus, unless NOVENDOR=1, every crate vendored
# (`cargo vendor`) and a .cargo/config.toml that makes cargo use them and never the
# network, as mock and sbuild require.
#   packaging/dist.sh OUTDIR    -> OUTDIR/ocfbox-<version>.tar.gz
#   UNPACKED=1: leave the tree as OUTDIR/ocfbox-<version>/ instead (the tests: no gzip).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mkdir -p "$1" && cd "$1" && pwd)
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
name=ocfbox-$version
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$name/.cargo"
git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do [[ -e $f || -L $f ]] && printf '%s\0' "$f"; done |
  tar --null -T - -cf - | tar -xf - -C "$stage/$name"
if [[ ${NOVENDOR:-0} != 1 ]]; then
  echo "vendoring crates into $name/vendor" >&2
  cargo vendor -q --locked --versioned-dirs "$stage/$name/vendor" >/dev/null
  cat > "$stage/$name/.cargo/config.toml" <<'TOML'
# Written by packaging/dist.sh: build from the vendored crates, never the network.
[source.crates-io]
replace-with = "vendored-sources"

[source.vendored-sources]
directory = "vendor"

[net]
offline = true
TOML
fi
if [[ ${UNPACKED:-0} == 1 ]]; then
  rm -rf "${out:?}/$name" && mv "$stage/$name" "$out/$name"
  echo "$out/$name"
  exit 0
fi
# Reproducible: fixed owner, order and time.
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
  -cf - "$name" | gzip -9n > "$out/$name.tar.gz"
echo "$out/$name.tar.gz"
