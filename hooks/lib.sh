# shellcheck shell=sh
# Sourced by git flor's hook stubs (sh). Everything here is cheap: node starts only when a stub
# has found something to do, so an idle hook costs a couple of `git` calls, not a Node start.
# A hook never blocks the user's Git operation because flor failed: stubs exit 0 on any error
# (exit 3 is reserved for a deliberate refusal, see pre-push).

flor_root=$(cd "$(dirname "$0")/.." 2>/dev/null && pwd) || exit 0
flor_common=$(git rev-parse --git-common-dir 2>/dev/null) || exit 0

# Runs the lean hook entry (dist/sync/hook-main.js), never the whole CLI: a hook must start fast.
flor_node() {
  flor_bin=${FLOR_NODE:-node}
  [ -x "$flor_bin" ] || flor_bin=node
  if [ -n "${NODE_EXTRA_CA_CERTS+set}" ]; then
    # Node parses that bundle at every start (~70-80 ms here) and the hook makes no TLS connection:
    # moved aside as bin/git-flor does, and handed back by hook-main to what it starts (git, and
    # through it a credential helper that may be a Node program needing it).
    (
      FLOR_NODE_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS
      export FLOR_NODE_EXTRA_CA_CERTS
      unset NODE_EXTRA_CA_CERTS
      exec "$flor_bin" "$flor_root/dist/sync/hook-main.js" "$@"
    )
  else
    "$flor_bin" "$flor_root/dist/sync/hook-main.js" "$@"
  fi
  flor_rc=$?
  if [ "$flor_rc" = 3 ]; then exit 3; fi
  if [ "$flor_rc" != 0 ]; then
    echo "git flor: the $1 hook failed (exit $flor_rc); your Git operation is not affected" >&2
    echo "hint: run \`git flor doctor\`; \`git flor init\` reinstalls the hooks" >&2
  fi
  return 0
}

# A journal file means a run is in progress or died before capture (an orphan to recover).
flor_has_journals() {
  for flor_f in "$flor_common"/flor/journal/*.jrnl; do
    [ -e "$flor_f" ] && return 0
  done
  return 1
}

# A run whose capture has not landed yet: an unclaimed journal (a run going on, or ended with its
# capture not started or killed) or a claimed one (a capture in flight). pre-push then starts node,
# which waits for the capture or does it, so a push right after a run carries it.
flor_capture_pending() {
  for flor_f in "$flor_common"/flor/journal/*.jrnl "$flor_common"/flor/journal/*.jrnl.claim.*; do
    [ -e "$flor_f" ] && return 0
  done
  return 1
}

# A plain `git fetch` (through the refspec `git flor init` adds) moves refs/flor/remotes/* but
# runs no hook; the notes index is rebuilt when those refs differ from the last rebuild's stamp.
flor_remotes_changed() {
  flor_cur=$(git for-each-ref --format='%(objectname) %(refname)' refs/flor/remotes/ 2>/dev/null)
  flor_old=$(cat "$flor_common/flor/sync/remotes.stamp" 2>/dev/null)
  [ "$flor_cur" != "$flor_old" ]
}

# True when remote $1 (a configured remote's name) lacks flor's fetch refspecs for writer $2: a remote
# added after `git flor init`. Only where init ran (install.json; uninstall removes it), and never for
# a remote that fetches every ref (refs/*:refs/*), where flor adds nothing. Node re-checks exactly.
flor_needs_refspecs() {
  [ -n "$2" ] && [ -f "$flor_common/flor/install.json" ] || return 1
  flor_nl='
'
  flor_fetch="$flor_nl$(git config --get-all "remote.$1.fetch" 2>/dev/null)$flor_nl"
  case "$flor_fetch" in *"${flor_nl}refs/*:refs/*$flor_nl"* | *"$flor_nl+refs/*:refs/*$flor_nl"*) return 1 ;; esac
  case "$flor_fetch" in *"$flor_nl^refs/flor/ledgers/$2$flor_nl"*) ;; *) return 0 ;; esac
  case "$flor_fetch" in *"$flor_nl+refs/flor/ledgers/*:refs/flor/remotes/"*"/ledgers/*$flor_nl"*) return 1 ;; esac
  return 0
}
