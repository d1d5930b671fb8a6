# Sourced by pcmk-node.sh and pcmk-remote.sh (a node's PID 1, in its own mount namespace).

# OCF providers: a tmpfs over resource.d holding bind mounts of the host's providers
# (heartbeat, pacemaker, ...) plus the test's provider dirs (DIR/providers: lines
# "PROVIDER<TAB>HOST_DIR"). The host is not modified.
mount_ocf_providers() {
  local DIR=$1 RD=/usr/lib/ocf/resource.d entry name provider src
  mkdir -p "$DIR/ocf-orig"
  mount --bind "$RD" "$DIR/ocf-orig"
  mount -t tmpfs -o mode=0755 tmpfs "$RD"
  for entry in "$DIR"/ocf-orig/* "$DIR"/ocf-orig/.[!.]*; do
    [[ -e $entry || -L $entry ]] || continue
    name=${entry##*/}
    # A provider the test brings itself is not stacked on the host's (e.g. a test that
    # installs the ocfbox package): removing the host's directory would lazily unmount
    # whatever is mounted on it in every namespace, the test's provider included.
    if [[ -e $DIR/providers ]] && cut -f1 "$DIR/providers" | grep -qxF -- "$name"; then
      continue
    fi
    if [[ -d $entry && ! -L $entry ]]; then
      mkdir "$RD/$name"
      mount --bind "$entry" "$RD/$name"
    else
      cp -a "$entry" "$RD/$name"
    fi
  done
  [[ -e $DIR/providers ]] || return 0
  while IFS=$'\t' read -r provider src; do
    [[ -n $provider ]] || continue
    mkdir -p "$RD/$provider"
    mount --bind "$src" "$RD/$provider"
  done <"$DIR/providers"
}

# Fence agents of the test (DIR/sbin-extra: symlinks) appear in /usr/sbin, where
# pacemaker-fenced looks for them: a read-only overlay, the host's /usr/sbin untouched.
overlay_sbin() {
  local DIR=$1
  [[ -d $DIR/sbin-extra ]] || return 0
  [[ -n $(ls -A "$DIR/sbin-extra") ]] || return 0
  mount -t overlay overlay -o "lowerdir=$DIR/sbin-extra:/usr/sbin" /usr/sbin
}
