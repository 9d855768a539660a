# Shared by the bench scripts (source it).

# Kamailio's memory manager for private and shared memory (-X, -x) where a
# bench runs Kamailio as the peer: fm (f_malloc, what Kamailio's stable
# releases mostly run; the default), tlsf, or qm (q_malloc, the manager for
# memory troubleshooting, which the Debian build starts when no -x/-X is
# given). Under the benches' load qm spends most of Kamailio's CPU in
# qm_malloc (docs/performance.md, "The peer's allocator"): ratios against
# qm measure that, not SIP work.
KAM_MEM=${KAM_MEM:-fm}

# Sum of utime+stime (clock ticks) of the given pids; a process's line
# counts all its threads; a pid that is gone counts 0.
ticks() {
  local sum=0 p f
  for p in "$@"; do
    if [ -r "/proc/$p/stat" ]; then
      f=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null) || continue
      set -- $f
      sum=$((sum + ${12} + ${13}))
    fi
  done
  echo "$sum"
}

# The release binary to measure: $ANYSIP_BIN, else built here (honours
# CARGO_TARGET_DIR). Prints its absolute path.
anysip_bin() {
  if [ -n "${ANYSIP_BIN:-}" ]; then echo "$ANYSIP_BIN"; return; fi
  cargo build -q --release -p anysip >&2
  local b=${CARGO_TARGET_DIR:-target}/release/anysip
  case $b in /*) ;; *) b=$(pwd)/$b ;; esac
  echo "$b"
}
