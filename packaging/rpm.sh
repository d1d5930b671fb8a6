#!/usr/bin/env bash
# make rpm: rpmbuild of packaging/ocfbox.spec on the `make dist` tarball (vendored crates,
# built offline), staged by `make install DESTDIR=...` as the spec says.
#   packaging/rpm.sh OUTDIR   -> OUTDIR/ocfbox-<version>-1.<arch>.rpm
# OCFBOX_PREBUILT=/path/to/ocfbox packages that binary instead of compiling one (the tests);
# the tarball then carries no vendored crates, as nothing is compiled.
# On a non-RPM distribution (Debian) the build dependencies are not in the rpm database,
# so they are not checked (--nodeps); cargo, make and gzip must be on PATH.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "$1" && cd "$1" && pwd)
top=$out/rpm-build
rm -rf "$top" && mkdir -p "$top"/{SOURCES,BUILD,RPMS,SRPMS,SPECS,BUILDROOT}
defines=(--define "_topdir $top" --define "_sourcedir $top/SOURCES")
if [[ -n ${OCFBOX_PREBUILT:-} ]]; then
  NOVENDOR=1 "$src/packaging/dist.sh" "$top/SOURCES" >/dev/null
  defines+=(--define "ocfbox_prebuilt $(readlink -f "$OCFBOX_PREBUILT")")
else
  echo "make rpm: source tarball with vendored crates" >&2
  "$src/packaging/dist.sh" "$top/SOURCES" >/dev/null
fi
nodeps=()
rpm -q rpm >/dev/null 2>&1 || nodeps=(--nodeps)
rpmbuild -bb "${nodeps[@]}" "${defines[@]}" "$src/packaging/ocfbox.spec" >"$top/build.log" 2>&1 || {
  tail -n 40 "$top/build.log" >&2
  exit 1
}
rpm=$(find "$top/RPMS" -name 'ocfbox-*.rpm' | head -n1)
mv "$rpm" "$out/"
rm -rf "$top"
echo "$out/$(basename "$rpm")"
