#!/usr/bin/env bash
# make deb: a binary .deb the way a distribution builds it — from the source tarball with
# its vendored crates, offline (cargo --offline, no registry) — staged by `make install`.
#   packaging/deb/build.sh OUTDIR      -> OUTDIR/ocfbox_<version>_<arch>.deb, lintian-checked
# OCFBOX_PREBUILT=/path/to/ocfbox packages that binary instead of building one (the tests:
# a release build with LTO takes minutes); everything else is the same. DEB_COMPRESSION=gzip
# (dpkg-deb -Z) trades size for time.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mkdir -p "$1" && cd "$1" && pwd)
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$src/Cargo.toml" | head -n1)
arch=$(dpkg --print-architecture)
work=$out/deb-build
rm -rf "$work" && mkdir -p "$work"

if [[ -n ${OCFBOX_PREBUILT:-} ]]; then
  bin=$(readlink -f "$OCFBOX_PREBUILT")
  tree=$src
else
  echo "make deb: source tarball with vendored crates" >&2
  tarball=$("$src/packaging/dist.sh" "$work" | tail -n1)
  tar -xzf "$tarball" -C "$work"
  tree=$work/ocfbox-$version
  echo "make deb: cargo build --release --offline (vendored crates; takes minutes)" >&2
  (cd "$tree" && cargo build --release --locked --offline)
  bin=$tree/target/release/ocfbox
fi

root=$work/root
make -s -C "$tree" install DESTDIR="$root" PREFIX=/usr PROVIDER=ocfbox BIN="$bin" >/dev/null
# As dh_link does: links inside /usr relative (the tree works wherever it is unpacked).
find "$root" -type l -lname /usr/libexec/ocfbox/ocfbox -exec ln -sfnr "$root/usr/libexec/ocfbox/ocfbox" {} \;
# As dh_strip does (a prebuilt debug binary too).
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/libexec/ocfbox/ocfbox"

doc=$root/usr/share/doc/ocfbox
install -d -m 0755 "$doc/examples"
install -m 0644 "$src/README.md" "$doc/"
install -m 0644 "$src/packaging/deb/copyright" "$doc/copyright"
install -m 0644 "$src"/packaging/examples/* "$doc/examples/"
sed "s/@VERSION@/$version/" "$src/packaging/deb/changelog" | gzip -9n > "$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"

# The libraries the binary links, as dpkg-shlibdeps names them.
shl=$work/shlibs
mkdir -p "$shl/debian"
printf 'Source: ocfbox\n\nPackage: ocfbox\nArchitecture: any\n' > "$shl/debian/control"
shlibs=$(cd "$shl" && dpkg-shlibdeps -O -e "$root/usr/libexec/ocfbox/ocfbox" 2>/dev/null |
  sed -n 's/^shlibs:Depends=//p')

install -d -m 0755 "$root/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
  -e "s/@SHLIBS@/$shlibs/" "$src/packaging/deb/control.in" > "$root/DEBIAN/control"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
  xargs -0 md5sum > DEBIAN/md5sums)
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"
# Directories 0755 whatever the umask was.
find "$root" -type d -exec chmod 0755 {} +

deb=$out/ocfbox_${version}_${arch}.deb
dpkg-deb --root-owner-group -Z"${DEB_COMPRESSION:-xz}" --build "$root" "$deb" >/dev/null
rm -rf "$work"
if command -v lintian >/dev/null; then
  lintian --fail-on error --suppress-tags-from-file /dev/null "$deb" >&2
fi
echo "$deb"
