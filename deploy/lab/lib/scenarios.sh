# shellcheck shell=bash
# The scenarios: sipp UEs in ue1 (callees bob and carol, registered through
# the anycast address) and ue2 (the caller alice), and what happens to the
# network meanwhile. Each prints one result line.

SIPP_DIR=$HERE/sipp
REGISTER_XML=$REPO/tests/sipp/core-register.xml
HOLD_MS=${LAB_HOLD_MS:-3000}
# Calls of flip, kill, pop (half from each side's hang-up); drain and core.
CALLS=${LAB_CALLS:-200}
RATE=${LAB_RATE:-10}
# The callees' ports in ue1.
BOB_PORT=5071
CAROL_PORT=5072

register_ues() {
    local user port tries
    for user in bob carol; do
        port=$([ "$user" = bob ] && echo $BOB_PORT || echo $CAROL_PORT)
        for tries in 1 2 3 4 5 6; do
            if in_ns ue1 timeout 25 sipp -sf "$REGISTER_XML" "$ANYCAST:5060" -s "$user" \
                -au "$user" -ap "$user" -auth_uri domain.local -i "$UE1_IP" -p "$port" \
                -m 1 -timeout 20s -nostdin >"$LAB_DIR/logs/register-$user.log" 2>&1; then
                break
            fi
            [ "$tries" = 6 ] && {
                echo "lab: $user could not register through $ANYCAST" >&2
                return 1
            }
            sleep 2
        done
    done
}

# sipp's cumulative count COLUMN from a -trace_stat file.
stat_col() {
    local file=$1 col=$2
    [ -s "$file" ] || {
        echo 0
        return
    }
    awk -F';' -v c="$col" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i; next }
        { v = $k } END { print (k && v != "" ? v + 0 : 0) }' "$file"
}

# calls_start TAG N: N calls (N/2 hung up by alice to bob, N/2 hung up by
# carol), at RATE calls/s in all, each held HOLD_MS. Runs in the background;
# calls_wait TAG collects. Bounded: sipp -timeout and `timeout`.
calls_start() {
    local tag=$1 n=$2 half=$(($2 / 2)) d=$LAB_DIR/calls/$1 limit
    limit=$((n / RATE + HOLD_MS / 1000 + 60))
    rm -rf "$d"
    mkdir -p "$d"
    echo "$((half * 2))" >"$d/n"
    local r2=$((RATE / 2))
    [ "$r2" -ge 1 ] || r2=1
    # Callees first.
    in_ns ue1 timeout $((limit + 10)) sipp -sf "$SIPP_DIR/uas.xml" -s bob -i "$UE1_IP" -p $BOB_PORT \
        -m "$half" -timeout "${limit}s" -nostdin -nd -trace_stat -stf "$d/bob.csv" -fd 1 \
        -trace_err -error_file "$d/bob.err" >"$d/bob.out" 2>&1 &
    echo $! >"$d/bob.pid"
    in_ns ue1 timeout $((limit + 10)) sipp -sf "$SIPP_DIR/uas-bye.xml" -s carol -i "$UE1_IP" -p $CAROL_PORT \
        -d "$HOLD_MS" -m "$half" -timeout "${limit}s" -nostdin -nd -trace_stat -stf "$d/carol.csv" -fd 1 \
        -trace_err -error_file "$d/carol.err" >"$d/carol.out" 2>&1 &
    echo $! >"$d/carol.pid"
    sleep 0.3
    in_ns ue2 timeout $((limit + 10)) sipp -sf "$SIPP_DIR/uac-bye.xml" "$ANYCAST:5060" -s bob -i "$UE2_IP" \
        -p 5081 -d "$HOLD_MS" -m "$half" -r "$r2" -timeout "${limit}s" -nostdin \
        -trace_stat -stf "$d/to-bob.csv" -fd 1 -trace_err -error_file "$d/to-bob.err" >"$d/to-bob.out" 2>&1 &
    echo $! >"$d/to-bob.pid"
    in_ns ue2 timeout $((limit + 10)) sipp -sf "$SIPP_DIR/uac-wait.xml" "$ANYCAST:5060" -s carol -i "$UE2_IP" \
        -p 5082 -m "$half" -r "$r2" -timeout "${limit}s" -nostdin \
        -trace_stat -stf "$d/to-carol.csv" -fd 1 -trace_err -error_file "$d/to-carol.err" >"$d/to-carol.out" 2>&1 &
    echo $! >"$d/to-carol.pid"
}

# True while the callers of TAG still run.
calls_running() {
    local d=$LAB_DIR/calls/$1 p
    for p in to-bob to-carol; do
        kill -0 "$(cat "$d/$p.pid")" 2>/dev/null && return 0
    done
    return 1
}

# calls_wait TAG: waits for TAG's sipps; sets OK and N. A call is ok when
# the side that hung up completed it: alice for bob's calls, carol for
# hers (INVITE, 200, ACK, BYE, 200 all seen there). The other side keeps
# answering retransmitted BYEs for 4 s, which sipp counts as a failure.
calls_wait() {
    local d=$LAB_DIR/calls/$1 p
    for p in to-bob to-carol bob carol; do
        wait "$(cat "$d/$p.pid")" 2>/dev/null || true
    done
    OK=$(($(stat_col "$d/to-bob.csv" 'SuccessfulCall(C)') + $(stat_col "$d/carol.csv" 'SuccessfulCall(C)')))
    N=$(cat "$d/n")
}

# Route changes of the anycast address in the upstream's kernel (its
# forwarding table): `ip monitor` from now until route_watch_stop.
route_watch_start() {
    mkdir -p "$LAB_DIR/calls"
    # In the pid directory: `down` stops it if a run is interrupted.
    mkdir -p "$LAB_DIR/pids"
    timeout 600 ip -n "$(ns up)" monitor route >"$LAB_DIR/calls/routes.log" 2>/dev/null &
    echo $! >"$LAB_DIR/pids/route-watch.pid"
}
route_watch_stop() {
    local p
    p=$(pid_of route-watch)
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    rm -f "$LAB_DIR/pids/route-watch.pid"
    grep -c "$ANYCAST" "$LAB_DIR/calls/routes.log" || true
}

# SIP messages each edge received so far ("ea1=.. ea2=.. eb1=.. eb2=.."):
# all of them, or those of method $1.
edge_messages() {
    local e v out=() method=${1:-}
    for e in "${EDGES[@]}"; do
        v=$(in_ns "$e" curl -sf -m 1 http://127.0.0.1:9091/metrics 2>/dev/null |
            awk -v m="method=\"$method\"" '/^anysip_messages_total/ && /direction="in"/ &&
                (m == "method=\"\"" || index($0, m)) { s += $NF } END { print s + 0 }')
        out+=("$e=${v:-0}")
    done
    echo "${out[*]}"
}

# The difference of two edge_messages lines.
messages_delta() {
    local before=($1) after=($2) i out=()
    for i in "${!after[@]}"; do
        out+=("${after[$i]%%=*}=$((${after[$i]#*=} - ${before[$i]#*=}))")
    done
    echo "${out[*]}"
}

# Is PoP $1's route to the anycast address in the upstream's table, and
# does it carry the graceful-shutdown community? Prints absent|normal|gshut.
upstream_pop_route() {
    local out
    out=$(birdc_in up show route "$ANYCAST/32" all protocol "pop_$1" 2>/dev/null)
    if ! grep -q 'via' <<<"$out"; then
        echo absent
    elif grep -q '(65535,0)' <<<"$out"; then
        echo gshut
    else
        echo normal
    fi
}

reconfigure() {
    local n
    for n in "$@"; do birdc_in "$n" configure >/dev/null 2>&1 || true; done
}

restore_flips() {
    flip_up 100 100
    flip_pop a 1 1
    flip_pop b 1 1
    reconfigure up ra rb
}

result() {
    local name=$1 ok=$2 n=$3
    shift 3
    echo "$ok $n" >"$LAB_DIR/results/$name"
    echo "lab: $name=$ok/$n $*"
}

# flip: every 300 ms the upstream moves between PoP A, PoP B and both, and
# each PoP router drops one of its edges from ECMP or takes both.
scenario_flip() {
    local i=0 changes
    route_watch_start
    local invites byes
    invites=$(edge_messages INVITE)
    byes=$(edge_messages BYE)
    calls_start flip "$CALLS"
    local ups=("200 100" "100 100" "100 200" "100 100") pops=("1 1" "1 0" "1 1" "0 1")
    while calls_running flip && [ $i -lt 400 ]; do
        # shellcheck disable=SC2086
        flip_up ${ups[$((i % 4))]}
        # shellcheck disable=SC2086
        flip_pop a ${pops[$((i % 4))]}
        # shellcheck disable=SC2086
        flip_pop b ${pops[$(((i + 1) % 4))]}
        reconfigure up ra rb
        i=$((i + 1))
        sleep 0.3
    done
    calls_wait flip
    local ok=$OK n=$N
    changes=$(route_watch_stop)
    restore_flips
    result flip "$ok" "$n" "flips=$i upstream_route_changes=$changes invites: $(messages_delta "$invites" "$(edge_messages INVITE)") byes: $(messages_delta "$byes" "$(edge_messages BYE)")"
}

# drain: mid-call, routerd drains both edges of PoP A; the upstream must see
# (65535,0) before the withdrawal; calls complete; new calls land in PoP B.
scenario_drain() {
    local t0 t_gshut="" t_gone="" state e i
    route_watch_start
    calls_start drain "$CALLS"
    sleep 3
    t0=$(now_ms)
    for e in ea1 ea2; do in_ns "$e" "$ROUTERD_BIN" drain -c "$LAB_DIR/$e/routerd.yaml" >/dev/null; done
    for i in $(seq 300); do
        state=$(upstream_pop_route a)
        [ -z "$t_gshut" ] && [ "$state" = gshut ] && t_gshut=$(($(now_ms) - t0))
        if [ "$state" = absent ]; then
            t_gone=$(($(now_ms) - t0))
            break
        fi
        sleep 0.1
    done
    calls_wait drain
    local ok=$OK n=$N changes
    changes=$(route_watch_stop)
    # New calls after the withdrawal: all in PoP B.
    local msgs after ok2 n2 in_a
    msgs=$(edge_messages INVITE)
    calls_start drain-new 20
    calls_wait drain-new
    local ok2=$OK n2=$N
    after=$(messages_delta "$msgs" "$(edge_messages INVITE)")
    in_a=$(tr ' ' '\n' <<<"$after" | awk -F= '$1 ~ /^ea/ { s += $2 } END { print s + 0 }')
    local order=bad
    [ -n "$t_gshut" ] && [ -n "$t_gone" ] && [ "$t_gshut" -lt "$t_gone" ] && order=community_before_withdraw
    [ "$in_a" -eq 0 ] || ok2=0
    for e in ea1 ea2; do in_ns "$e" "$ROUTERD_BIN" undrain -c "$LAB_DIR/$e/routerd.yaml" >/dev/null; done
    wait_until 60 "PoP A back after undrain" converged || true
    result drain $((ok + ok2)) $((n + n2)) "order=$order gshut_ms=${t_gshut:-never} withdraw_ms=${t_gone:-never} invites_in_pop_a_after_withdraw=$in_a upstream_route_changes=$changes"
}

# kill: SIGKILL one edge mid-call; its routerd withdraws it.
scenario_kill() {
    local t0 t_gone="" i
    route_watch_start
    calls_start kill "$CALLS"
    sleep 3
    t0=$(now_ms)
    stop ea1-anysip KILL
    for i in $(seq 100); do
        if ! birdc_in ra show route "$ANYCAST/32" protocol ea1 2>/dev/null | grep -q via; then
            t_gone=$(($(now_ms) - t0))
            break
        fi
        sleep 0.1
    done
    calls_wait kill
    local ok=$OK n=$N changes
    changes=$(route_watch_stop)
    start_edge ea1
    wait_until 60 "ea1 back" converged || true
    result kill "$ok" "$n" "kill_to_withdraw_ms=${t_gone:-never} upstream_route_changes=$changes"
}

# pop: cut PoP A's uplink mid-call (silently: only BFD notices).
scenario_pop() {
    local t0 t_moved="" i
    route_watch_start
    calls_start pop "$CALLS"
    sleep 3
    t0=$(now_ms)
    uplink_state a 0
    for i in $(seq 100); do
        if [ "$(upstream_pop_route a)" = absent ]; then
            t_moved=$(($(now_ms) - t0))
            break
        fi
        sleep 0.05
    done
    calls_wait pop
    local ok=$OK n=$N changes
    changes=$(route_watch_stop)
    uplink_state a 3
    wait_until 60 "PoP A's uplink back" converged || true
    result pop "$ok" "$n" "cut_to_pop_b_ms=${t_moved:-never} upstream_route_changes=$changes"
}

# The INVITEs core $1 handled so far.
core_invites() {
    in_ns "$1" curl -sf -m 1 http://127.0.0.1:9092/metrics 2>/dev/null |
        awk '/^anysip_core_requests_total/ && /method="INVITE"/ { s += $NF } END { print s + 0 }'
}

# The samples of metric $1 whose labels hold $2, summed over the edges.
edges_sum() {
    local e s=0 v
    for e in "${EDGES[@]}"; do
        v=$(in_ns "$e" curl -sf -m 1 http://127.0.0.1:9091/metrics 2>/dev/null |
            awk -v m="$1{" -v l="$2" 'index($0, m) == 1 && index($0, l) { s += $NF } END { print s + 0 }')
        s=$((s + v))
    done
    echo "$s"
}

# Backend health changes of the edges so far ($1: down or up).
edge_transitions() { edges_sum anysip_backend_transitions_total "\"$1\""; }

transitions_at_least() { [ "$(edge_transitions "$1")" -ge "$2" ]; }

# core: SIGKILL core A; once the edges' probes mark it down, new calls go to
# core B, which finds the callees in Redis.
scenario_core() {
    local down0 up0 t0 t_down="" b0 b1
    down0=$(edge_transitions down)
    t0=$(now_ms)
    stop ca-anysip KILL
    if wait_until 60 "every edge marks core A down" transitions_at_least down $((down0 + 4)); then
        t_down=$(($(now_ms) - t0))
    fi
    b0=$(core_invites cb)
    calls_start core 40
    calls_wait core
    local ok=$OK n=$N
    b1=$(core_invites cb)
    up0=$(edge_transitions up)
    start_core ca
    wait_until 60 "every edge marks core A up" transitions_at_least up $((up0 + 4)) || true
    result core "$ok" "$n" "kill_to_edges_marking_down_ms=${t_down:-never} core_b_invites=$((b1 - b0))"
}

# --- tcp: stream UEs (dave over TCP, erin over TLS) -------------------------

# The stream UEs' flows: dave's two (reg-id 1 and 2, one instance, two TCP
# connections) and erin's one (TLS). Per flow: the user, its reg-id, how
# sipp reaches the edge (erin through the lab's stunnel, which holds the TLS
# connection), the first of its 20 local ports; per user the instance.
STREAM_FLOWS=(dave1 dave2 erin)
STREAM_USERS=(dave erin)
ue_user() { echo "${1%[0-9]}"; }
ue_regid() { case $1 in dave2) echo 2 ;; *) echo 1 ;; esac; }
ue_target() { [ "$(ue_user "$1")" = dave ] && echo "$ANYCAST:5060" || echo "$UE1_IP:15061"; }
ue_port() { case $1 in dave1) echo 5100 ;; dave2) echo 5120 ;; *) echo 5140 ;; esac; }
ue_uuid() { [ "$1" = dave ] && echo 00000000-0000-4000-8000-00000000da7e || echo 00000000-0000-4000-8000-0000000e4140; }

# ue_loop FLOW DIR DEADLINE: one flow of a UE. sipp registers it
# (ue-outbound.xml) and holds it until it breaks; then the UE connects and
# registers again (at most 60 times, not past DEADLINE, until DIR/stop
# exists). Each end of the flow is appended to DIR/FLOW.down, each
# registration to DIR/FLOW.reg.
ue_loop() {
    local flow=$1 d=$2 deadline=$3 i=0 left user
    user=$(ue_user "$flow")
    while [ ! -e "$d/stop" ] && [ $i -lt 60 ]; do
        left=$((deadline - $(date +%s)))
        [ "$left" -gt 0 ] || break
        in_ns ue1 timeout "$left" sipp -sf "$SIPP_DIR/ue-outbound.xml" "$(ue_target "$flow")" -t t1 \
            -s "$user" -au "$user" -ap "$user" -auth_uri domain.local -i "$UE1_IP" \
            -p $(($(ue_port "$flow") + i % 20)) -oocsf "$SIPP_DIR/uas.xml" \
            -key instance "$(ue_uuid "$user")" -key regid "$(ue_regid "$flow")" -key reglog "$d/$flow.reg" \
            -m 1 -nostdin -nd -trace_err -error_file "$d/$flow-$i.err" >"$d/$flow-$i.out" 2>&1 &
        echo $! >"$d/$flow.sipp"
        wait $! 2>/dev/null || true
        now_ms >>"$d/$flow.down"
        i=$((i + 1))
        sleep 0.1
    done
}

stream_ues_start() {
    local d=$1 deadline=$2 user
    cat >"$d/stunnel.conf" <<EOF
foreground = yes
pid =
debug = notice
[erin]
client = yes
accept = $UE1_IP:15061
connect = $ANYCAST:5061
CAfile = $LAB_DIR/tls/ca.pem
verifyChain = yes
checkIP = $ANYCAST
EOF
    start ue1-stunnel ue1 stunnel "$d/stunnel.conf"
    wait_until 10 "stunnel in ue1" in_ns ue1 bash -c "exec 3<>/dev/tcp/$UE1_IP/15061" || true
    local flow
    for flow in "${STREAM_FLOWS[@]}"; do
        : >"$d/$flow.reg"
        : >"$d/$flow.down"
        ue_loop "$flow" "$d" "$deadline" &
        echo $! >"$d/$flow.loop"
        # dave's second flow registers later: the core calls the most recent.
        sleep 1.1
    done
}

stream_ues_stop() {
    local d=$1 flow
    touch "$d/stop"
    for flow in "${STREAM_FLOWS[@]}"; do
        kill "$(cat "$d/$flow.sipp" 2>/dev/null)" 2>/dev/null || true
        wait "$(cat "$d/$flow.loop")" 2>/dev/null || true
    done
    stop ue1-stunnel
}

# The first registration of FLOW in DIR after T (ms), or nothing.
registered_after() {
    awk -v t="$3" '$1 > t { print $1; exit }' "$2/$1.reg"
}
# The last end of FLOW after T, or nothing.
broke_after() {
    awk -v t="$3" '$1 > t { last = $1 } END { if (last) print last }' "$2/$1.down"
}
all_registered_after() {
    local flow
    for flow in "${STREAM_FLOWS[@]}"; do
        [ -n "$(registered_after "$flow" "$1" "$2")" ] || return 1
    done
}

# The INVITEs FLOW's sipps took (their error traces log each one).
ooc_invites() {
    cat "$1/$2"-*.err 2>/dev/null | grep -o 'out-of-call INVITE' | wc -l
}

# Relayed messages so far, summed over the edges ($1: out or in).
relayed() { edges_sum anysip_relay_messages_total "direction=\"$1\""; }

# stream_calls TAG N [flip]: N calls from alice (UDP), half to dave, half
# to erin, each held HOLD_MS, alice hangs up; with flip, the PoP routers
# drop one edge or the other from the backend anycast ECMP every 300 ms
# meanwhile (the cores' requests land on changing edges; the UEs' routes
# do not move). Adds to OK and N_ALL.
stream_calls() {
    local tag=$1 n=$2 flip=${3:-} half=$(($2 / 2)) d=$LAB_DIR/calls/tcp/$1 limit user i=0
    limit=$((n / 4 + HOLD_MS / 1000 + 30))
    mkdir -p "$d"
    for user in "${STREAM_USERS[@]}"; do
        in_ns ue2 timeout $((limit + 10)) sipp -sf "$SIPP_DIR/uac-bye.xml" "$ANYCAST:5060" -s "$user" \
            -i "$UE2_IP" -p "$([ "$user" = dave ] && echo 5083 || echo 5084)" -d "$HOLD_MS" -m "$half" \
            -r 2 -timeout "${limit}s" -nostdin -trace_stat -stf "$d/$user.csv" -fd 1 \
            -trace_err -error_file "$d/$user.err" >"$d/$user.out" 2>&1 &
        echo $! >"$d/$user.pid"
    done
    local pops=("1 1" "1 0" "1 1" "0 1")
    while [ -n "$flip" ] && [ $i -lt 400 ] && callers_running "$d"; do
        # shellcheck disable=SC2086
        flip_pop a 1 1 ${pops[$((i % 4))]}
        # shellcheck disable=SC2086
        flip_pop b 1 1 ${pops[$(((i + 1) % 4))]}
        reconfigure ra rb
        i=$((i + 1))
        sleep 0.3
    done
    for user in "${STREAM_USERS[@]}"; do
        wait "$(cat "$d/$user.pid")" 2>/dev/null || true
        OK=$((OK + $(stat_col "$d/$user.csv" 'SuccessfulCall(C)')))
    done
    N_ALL=$((N_ALL + half * 2))
    if [ -n "$flip" ]; then
        BACKEND_FLIPS=$((BACKEND_FLIPS + i))
        flip_pop a 1 1
        flip_pop b 1 1
        reconfigure ra rb
    fi
}

callers_running() {
    local user
    for user in "${STREAM_USERS[@]}"; do
        kill -0 "$(cat "$1/$user.pid")" 2>/dev/null && return 0
    done
    return 1
}

# tcp: dave (two flows, reg-id 1 and 2, over TCP) and erin (one flow over
# TLS, through stunnel) register with RFC 5626 outbound through the anycast
# address and keep their flows. 40 calls to them while the backend routes
# flip (the cores' requests land on any edge; the relay carries them to the
# edge holding the flow; the core calls one flow of dave's at a time). Then
# three route changes of the UE-facing address (PoP A only, PoP B only,
# PoP A with one edge): a change that moves a flow to another edge breaks
# it (RST from the new edge), the UE connects and registers that flow again
# (recovery: from the change to the new registration), and 10 calls reach
# the UEs again.
scenario_tcp() {
    local d=$LAB_DIR/calls/tcp deadline t0 flow r out0 in0 invites byes
    rm -rf "$d"
    mkdir -p "$d"
    OK=0
    N_ALL=0
    BACKEND_FLIPS=0
    deadline=$(($(date +%s) + 240))
    route_watch_start
    invites=$(edge_messages INVITE)
    byes=$(edge_messages BYE)
    out0=$(relayed out)
    in0=$(relayed in)
    stream_ues_start "$d" "$deadline"
    if ! wait_until 30 "dave's two flows and erin's registered" all_registered_after "$d" 0; then
        stream_ues_stop "$d"
        route_watch_stop >/dev/null
        result tcp 0 70 "the stream UEs did not register (see $d)"
        return
    fi
    stream_calls deliver 40 flip
    local changes=("200 100|1 1" "100 200|1 1" "200 100|0 1") breaks=0 rec=() took last
    for r in "${!changes[@]}"; do
        t0=$(now_ms)
        # shellcheck disable=SC2086
        flip_up ${changes[$r]%|*}
        # shellcheck disable=SC2086
        flip_pop a ${changes[$r]#*|}
        reconfigure up ra
        # A broken flow is noticed at the next keepalive (1 s) at the latest.
        sleep 4
        # Recovered: registered after the flow's last break (a UE that
        # reconnected while the routes were still moving may break twice).
        for flow in "${STREAM_FLOWS[@]}"; do
            last=$(broke_after "$flow" "$d" "$t0")
            [ -n "$last" ] || continue
            breaks=$((breaks + 1))
            if wait_until 20 "$flow registered again" registered_after "$flow" "$d" "$last"; then
                took=$(($(registered_after "$flow" "$d" "$last") - t0))
                rec+=("$took")
            fi
        done
        stream_calls "after-$r" 10
    done
    stream_ues_stop "$d"
    restore_flips
    local n_changes max=0 sum=0 v avg=none
    n_changes=$(route_watch_stop)
    for v in "${rec[@]}"; do
        sum=$((sum + v))
        [ "$v" -gt "$max" ] && max=$v
    done
    [ ${#rec[@]} -gt 0 ] && avg=$((sum / ${#rec[@]}))
    [ ${#rec[@]} -eq "$breaks" ] || max="${max}(${#rec[@]}_of_${breaks}_recovered)"
    # The INVITEs each of dave's flows took (each call: one flow).
    local per_flow
    per_flow=$(ooc_invites "$d" dave1)+$(ooc_invites "$d" dave2)
    result tcp "$OK" "$N_ALL" "relayed=$(($(relayed out) - out0)) relayed_in=$(($(relayed in) - in0)) backend_flips=$BACKEND_FLIPS dave_invites_by_flow=$per_flow flow_breaks=$breaks recovery_ms_avg=$avg recovery_ms_max=$max upstream_route_changes=$n_changes invites: $(messages_delta "$invites" "$(edge_messages INVITE)") byes: $(messages_delta "$byes" "$(edge_messages BYE)")"
}

lab_run() {
    [ -f "$LAB_DIR/env" ] || {
        echo "lab: not up (run: lab up)" >&2
        exit 1
    }
    # shellcheck disable=SC1091
    source "$LAB_DIR/env"
    mkdir -p "$LAB_DIR/results"
    local s list
    case $1 in
        all) list=(flip drain kill pop core tcp) ;;
        flip | drain | kill | pop | core | tcp) list=("$1") ;;
        *)
            echo "lab: unknown scenario $1 (flip drain kill pop core tcp all)" >&2
            exit 2
            ;;
    esac
    for s in "${list[@]}"; do
        wait_until 60 "the fleet before $s" converged || true
        "scenario_$s"
    done
    if [ "$1" = all ]; then
        local line="lab:" r
        for s in "${list[@]}"; do
            r=$(cat "$LAB_DIR/results/$s" 2>/dev/null || echo "0 0")
            line+=" $s=${r% *}/${r#* }"
        done
        echo "$line"
    fi
}
