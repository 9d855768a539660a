# shellcheck shell=bash
# The lab's processes: each started in its namespace with a pid file
# ($LAB_DIR/pids/<name>.pid) and a log ($LAB_DIR/logs/<name>.log). Only
# these pids (and what is left inside the lab's own namespaces) are ever
# signalled.

# start NAME NS CMD...: runs CMD in namespace NS in the background.
start() {
    local name=$1 n=$2
    shift 2
    mkdir -p "$LAB_DIR/pids" "$LAB_DIR/logs"
    ip netns exec "$(ns "$n")" "$@" >"$LAB_DIR/logs/$name.log" 2>&1 </dev/null &
    echo $! >"$LAB_DIR/pids/$name.pid"
}

pid_of() { cat "$LAB_DIR/pids/$1.pid" 2>/dev/null || true; }

alive() {
    local p
    p=$(pid_of "$1")
    [ -n "$p" ] && kill -0 "$p" 2>/dev/null
}

# stop NAME [SIGNAL]: SIGTERM (or SIGNAL), then SIGKILL after 5 s.
stop() {
    local name=$1 sig=${2:-TERM} p i
    p=$(pid_of "$name")
    [ -n "$p" ] || return 0
    kill -"$sig" "$p" 2>/dev/null || true
    for i in $(seq 50); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    rm -f "$LAB_DIR/pids/$name.pid"
}

# Every process of the lab at once: SIGTERM, 5 s for all of them together
# (an edge drains for drain_secs on SIGTERM: it is not waited for), then
# SIGKILL. One by one, 5 s each, took longer than a minute.
stop_all() {
    local f p i pids=()
    for f in "$LAB_DIR"/pids/*.pid; do
        [ -e "$f" ] || continue
        p=$(cat "$f" 2>/dev/null || true)
        if [ -n "$p" ] && kill -TERM "$p" 2>/dev/null; then
            pids+=("$p")
        fi
    done
    for i in $(seq 50); do
        alive_any "${pids[@]}" || break
        sleep 0.1
    done
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    rm -f "$LAB_DIR"/pids/*.pid
    # Whatever still runs inside the lab's namespaces (a crashed run's
    # daemons, a UE's sipp) belongs to the lab.
    local n
    for n in $(lab_namespaces); do
        for p in $(ip netns pids "$n" 2>/dev/null); do
            kill -KILL "$p" 2>/dev/null || true
        done
    done
}

# True when one of the pids still runs.
alive_any() {
    local p
    for p in "$@"; do
        kill -0 "$p" 2>/dev/null && return 0
    done
    return 1
}

# wait_until SECONDS WHAT CMD...: polls CMD every 0.2 s; fails naming WHAT.
wait_until() {
    local limit=$1 what=$2 deadline
    shift 2
    deadline=$(($(date +%s%N) + limit * 1000000000))
    while [ "$(date +%s%N)" -lt "$deadline" ]; do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.2
    done
    echo "lab: timed out after ${limit}s waiting for $what" >&2
    return 1
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

birdc_in() {
    local n=$1
    shift
    birdc -s "$LAB_DIR/$n/bird.ctl" "$@"
}
