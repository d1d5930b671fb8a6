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
