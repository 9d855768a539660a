# shellcheck shell=bash
# Configurations (the shipped examples and BIRD templates rendered with the
# lab's addresses; the lab's own routers), `up`, `down`, `status`.

EXAMPLES=$REPO/deploy/examples
TEMPLATES=$REPO/deploy/bird
# How long a routerd drain announces with (65535,0) before withdrawing
# (the example's 30 s, shortened so that a lab run stays short).
LAB_GRACE=${LAB_GRACE:-5}
# The BFD timers of the routers' sessions: 3 x 100 ms.
BFD='protocol bfd { interface "*" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; }; }'
GSHUT='if (65535, 0) ~ bgp_community then bgp_local_pref = 0;'

binaries() {
    if [ -n "${ANYSIP_BIN:-}" ] && [ -n "${ROUTERD_BIN:-}" ]; then
        return
    fi
    echo "lab: building anysip and routerd (cargo build)" >&2
    (cd "$REPO" && cargo build -q -p anysip -p anysip-routerd)
    local target=${CARGO_TARGET_DIR:-$REPO/target}
    ANYSIP_BIN=${ANYSIP_BIN:-$target/debug/anysip}
    ROUTERD_BIN=${ROUTERD_BIN:-$target/debug/routerd}
}

router_common() {
    local n=$1 id=$2 kernel_filter=$3
    cat <<EOF
log "$LAB_DIR/$n/bird.log" all;
router id $id;
include "$LAB_DIR/$n/flip.conf";
protocol device { scan time 2; }
protocol direct { ipv4; interface "-lo", "*"; }
protocol kernel {
    merge paths on;
    ipv4 { import none; export filter { $kernel_filter }; };
}
$BFD
EOF
}

# bgp NAME LOCAL LOCAL_AS NEIGHBOR AS IMPORT EXPORT [bfd]
bgp() {
    cat <<EOF
protocol bgp $1 {
    local $2 as $3;
    neighbor $4 as $5;
    connect delay time 1;
    error wait time 1, 3;
    ${8:+bfd on;}
    ipv4 { import filter { $6 }; export filter { $7 }; };
}
EOF
}

render_routers() {
    local f k=' if source = RTS_BGP then accept; reject; '
    mkdir -p "$LAB_DIR"/{up,ra,rb,bb}
    # The upstream: PoP routes with the flip's local preference; the
    # graceful-shutdown community lowers it to 0 (RFC 8326).
    f=$LAB_DIR/up/bird.conf
    router_common up 172.31.1.1 "$k" >"$f"
    local pop n
    for pop in a b; do
        n=$(pop_num "$pop")
        bgp "pop_$pop" "172.31.$n.1" 65000 "172.31.$n.2" "6500$n" \
            "if net != $ANYCAST/32 then reject; bgp_local_pref = PREF_${pop^^}; $GSHUT accept;" \
            'if source = RTS_DEVICE && net ~ [ 100.64.0.0/10+ ] then accept; reject;' bfd >>"$f"
    done
    flip_up 100 100
    # The backbone: the PoPs' backend routes, the backend anycast address.
    f=$LAB_DIR/bb/bird.conf
    router_common bb 172.30.1.1 "$k" >"$f"
    for pop in a b; do
        n=$(pop_num "$pop")
        bgp "pop_$pop" "172.30.$n.1" 65100 "172.30.$n.2" "6500$n" "$GSHUT accept;" 'accept;' bfd >>"$f"
    done
    echo "# nothing flips here" >"$LAB_DIR/bb/flip.conf"
    # The PoP routers: ECMP over their two edges. Towards the backbone they
    # also pass on the UE routes learned from the upstream: a PoP whose
    # uplink is cut still reaches the UEs through the other PoP, so that
    # its edges keep serving the dialogs its core sends them (at the
    # backend anycast address) while the UEs' traffic goes to the other PoP.
    for pop in a b; do
        n=$(pop_num "$pop")
        f=$LAB_DIR/r$pop/bird.conf
        router_common "r$pop" "172.31.$n.2" "$k" >"$f"
        bgp upstream "172.31.$n.2" "6500$n" "172.31.$n.1" 65000 \
            "if net ~ [ 100.64.0.0/10+ ] then accept; reject;" \
            "if source = RTS_BGP && net = $ANYCAST/32 then accept; reject;" bfd >>"$f"
        bgp backbone "172.30.$n.2" "6500$n" "172.30.$n.1" 65100 "$GSHUT accept;" \
            "if source = RTS_BGP && net = $BACKEND_ANYCAST/32 then accept; if source = RTS_DEVICE && net ~ [ 10.$n.0.0/16+ ] then accept; if source = RTS_BGP && net ~ [ 100.64.0.0/10+ ] then accept; reject;" \
            bfd >>"$f"
        local i
        for i in 1 2; do
            bgp "e$pop$i" "10.$n.$i.1" "6500$n" "10.$n.$i.2" 64512 \
                "if ACCEPT_$i = 0 then reject; if net = $BACKEND_ANYCAST/32 && BACKEND_$i = 0 then reject; if !(net ~ [ $ANYCAST/32, $BACKEND_ANYCAST/32 ]) then reject; $GSHUT accept;" \
                'reject;' >>"$f"
        done
        flip_pop "$pop" 1 1
    done
}

# The flip's knobs: the upstream's preference per PoP, the PoP routers'
# acceptance per edge (both anycast addresses, or, with $4 $5, the backend
# anycast address on its own). Applied by `birdc configure` (a soft reload).
flip_up() {
    printf 'define PREF_A = %s;\ndefine PREF_B = %s;\n' "$1" "$2" >"$LAB_DIR/up/flip.conf"
}
flip_pop() {
    printf 'define ACCEPT_1 = %s;\ndefine ACCEPT_2 = %s;\ndefine BACKEND_1 = %s;\ndefine BACKEND_2 = %s;\n' \
        "$2" "$3" "${4:-1}" "${5:-1}" >"$LAB_DIR/r$1/flip.conf"
}

# An edge host: the shipped templates and examples with the lab's addresses.
render_edge() {
    local e=$1 d=$LAB_DIR/$1 ip gw n
    ip=$(edge_ip "$e")
    gw=$(edge_gw "$e")
    n=$(pop_num "$(pop_of "$e")")
    mkdir -p "$d/bird"
    sed "s|^log syslog all;|log \"$d/bird.log\" all;|" "$TEMPLATES/bird.conf" >"$d/bird/bird.conf"
    cp "$TEMPLATES/anysip-anycast.conf" "$d/bird/"
    sed "s|^router id .*|router id $ip;|" "$TEMPLATES/anysip-site.conf" >"$d/bird/anysip-site.conf"
    # One IPv4 session, to this host's PoP router (the lab has no IPv6 links).
    sed -e "s|neighbor 198.51.100.2 as 64513;|neighbor $gw as 6500$n;|" \
        -e '/^protocol bgp uplink6/,/^}/d' \
        "$TEMPLATES/anysip-peers.conf" >"$d/bird/anysip-peers.conf"
    # The relay: this host's unicast address, the lab's four instances as
    # the static peer list (the lab has no DNS server: the example's
    # `relay.dns` is dropped), the fleet certificates made by `up`. A TLS
    # listener on the anycast address for the TLS UE.
    local peers="" p
    for p in "${EDGES[@]}"; do
        peers+="    - { instance_id: $(edge_instance "$p"), address: $(edge_ip "$p"):5071 }\\n"
    done
    peers=${peers%\\n}
    sed -e "s|10\.0\.0\.11|$ip|g" \
        -e "s|10\.0\.1\.1|$(core_ip ca)|g" -e "s|10\.0\.1\.2|$(core_ip cb)|g" \
        -e "s|sip\.example\.com|domain.local|g" \
        -e "s|/etc/anysip/keys.yaml|$LAB_DIR/keys.yaml|" \
        -e '/^    - { instance_id: [0-9]*, address: /d' \
        -e "s|^  peers:\$|  peers:\\n$peers|" \
        -e '/^relay:/,/^$/{/^  dns:/d;/^  dns_refresh_secs:/d}' \
        -e "s|/etc/anysip/fleet-ca.pem|$LAB_DIR/fleet/ca.pem|" \
        -e "s|/etc/anysip/fleet-edge.pem|$d/fleet-edge.pem|" \
        -e "s|/etc/anysip/fleet-edge.key|$d/fleet-edge.key|" \
        -e "s|^  tcp: \[\(.*\)\]\$|  tcp: [\\1]\\n  tls: [$ANYCAST:5061]|" \
        "$EXAMPLES/edge.yaml" >"$d/edge.yaml"
    printf 'tls:\n  cert: %s\n  key: %s\n' "$LAB_DIR/tls/edge.pem" "$LAB_DIR/tls/edge.key" >>"$d/edge.yaml"
    sed -e "s|/run/bird/bird.ctl|$d/bird.ctl|" \
        -e "s|10\.0\.0\.11|$ip|g" \
        -e "s|/etc/anysip/routerd.disable|$d/routerd.disable|" \
        -e "s|grace_secs: 30|grace_secs: $LAB_GRACE|" \
        "$EXAMPLES/routerd.yaml" >"$d/routerd.yaml"
}

# A core: the shipped example with the lab's addresses, the shipped default
# script, the lab's users (MD5 only: sipp answers MD5 challenges).
render_core() {
    local c=$1 d=$LAB_DIR/$1 id
    id=$([ "$c" = ca ] && echo 101 || echo 102)
    mkdir -p "$d"
    sed -e "s|10\.0\.1\.1|$(core_ip "$c")|g" \
        -e "s|sip\.example\.com|domain.local|g" \
        -e "s|instance_id: 101|instance_id: $id|" \
        -e "s|/etc/anysip/core.py|$REPO/deploy/scripts/proxy_default.py|" \
        -e "s|algorithms: \[sha256, md5\]|algorithms: [md5]|" \
        -e "s|  nonce_ttl_secs: 300|  nonce_ttl_secs: 300\n  users: {bob: bob, carol: carol, dave: dave, erin: erin}|" \
        "$EXAMPLES/core.yaml" >"$d/core.yaml"
}

# The relay's fleet CA and one certificate per edge instance, made as an
# operator makes them (docs/relay.md); and the UE-facing TLS certificate of
# the anycast address (a lab CA the TLS UE trusts).
certificates() {
    local e t=$LAB_DIR/tls
    mkdir -p "$LAB_DIR/fleet" "$t"
    "$ANYSIP_BIN" fleet ca --cert "$LAB_DIR/fleet/ca.pem" --key "$LAB_DIR/fleet/ca.key" >/dev/null
    for e in "${EDGES[@]}"; do
        mkdir -p "$LAB_DIR/$e"
        "$ANYSIP_BIN" fleet cert --instance "$(edge_instance "$e")" --ca "$LAB_DIR/fleet/ca.pem" \
            --ca-key "$LAB_DIR/fleet/ca.key" --cert "$LAB_DIR/$e/fleet-edge.pem" \
            --key "$LAB_DIR/$e/fleet-edge.key" >/dev/null
    done
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=anysip lab CA" -keyout "$t/ca.key" -out "$t/ca.pem" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=domain.local" \
        -keyout "$t/edge.key" -out "$t/edge.csr" 2>/dev/null
    printf 'subjectAltName=DNS:domain.local,IP:%s\n' "$ANYCAST" >"$t/ext.cnf"
    openssl x509 -req -in "$t/edge.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial \
        -days 2 -extfile "$t/ext.cnf" -out "$t/edge.pem" 2>/dev/null
    chmod 600 "$t/ca.key" "$t/edge.key"
}

start_bird() {
    local n=$1 conf=$2
    start "$n-bird" "$n" bird -f -c "$conf" -s "$LAB_DIR/$n/bird.ctl"
}

edge_instance() {
    case $1 in ea1) echo 11 ;; ea2) echo 12 ;; eb1) echo 21 ;; eb2) echo 22 ;; esac
}

start_edge() {
    local e=$1
    start "$e-anysip" "$e" env ANYSIP_INSTANCE_ID="$(edge_instance "$e")" RUST_LOG=info \
        "$ANYSIP_BIN" run -c "$LAB_DIR/$e/edge.yaml"
}

start_core() {
    local c=$1
    start "$c-anysip" "$c" env REDIS_URL="redis://$REDIS_IP:6379/0" RUST_LOG=info \
        "$ANYSIP_BIN" run -c "$LAB_DIR/$c/core.yaml"
}

edge_ready() { in_ns "$1" curl -sf -m 1 -o /dev/null http://127.0.0.1:9091/admin/ready; }

# The nexthops namespace $1's kernel has for $2 (one per ECMP member).
nexthops() {
    in_ns "$1" ip -4 route show "$2" 2>/dev/null | grep -oE 'via [0-9.]+' | sort -u | wc -l
}
has_nexthops() { [ "$(nexthops "$1" "$2")" -ge "$3" ]; }

# The whole fleet converged: every edge ready, each PoP router with both
# edges in ECMP for both anycast addresses, upstream and backbone with both PoPs.
converged() {
    local e
    for e in "${EDGES[@]}"; do edge_ready "$e" || return 1; done
    has_nexthops ra "$ANYCAST" 2 && has_nexthops rb "$ANYCAST" 2 &&
        has_nexthops ra "$BACKEND_ANYCAST" 2 && has_nexthops rb "$BACKEND_ANYCAST" 2 &&
        has_nexthops up "$ANYCAST" 2 && has_nexthops bb "$BACKEND_ANYCAST" 2
}

lab_up() {
    binaries
    mkdir -p "$LAB_DIR"
    echo "ANYSIP_BIN=$ANYSIP_BIN" >"$LAB_DIR/env"
    echo "ROUTERD_BIN=$ROUTERD_BIN" >>"$LAB_DIR/env"
    net_up
    "$ANYSIP_BIN" token keygen >"$LAB_DIR/keys.yaml"
    chmod 600 "$LAB_DIR/keys.yaml"
    certificates
    render_routers
    local n
    for n in up bb ra rb; do start_bird "$n" "$LAB_DIR/$n/bird.conf"; done
    start redis redis redis-server --bind "$REDIS_IP" --port 6379 --save "" \
        --appendonly no --protected-mode no
    local c e
    for c in "${CORES[@]}"; do render_core "$c"; done
    wait_until 10 "redis" in_ns ca bash -c "exec 3<>/dev/tcp/$REDIS_IP/6379" ||
        wait_until 20 "redis" in_ns ca bash -c "exec 3<>/dev/tcp/$REDIS_IP/6379"
    for c in "${CORES[@]}"; do start_core "$c"; done
    for e in "${EDGES[@]}"; do
        render_edge "$e"
        start_bird "$e" "$LAB_DIR/$e/bird/bird.conf"
        start_edge "$e"
        start "$e-routerd" "$e" "$ROUTERD_BIN" run -c "$LAB_DIR/$e/routerd.yaml"
    done
    wait_until 90 "the fleet: edges ready, routes in ECMP" converged || {
        lab_status >&2
        return 1
    }
    register_ues
    echo "lab: up ($LAB_DIR)"
}

# Stops every process, removes every namespace and $LAB_DIR; fails saying
# what stays.
lab_down() {
    local failed=0 err
    stop_all
    net_down || failed=1
    case $LAB_DIR in
        /run/* | /tmp/* | /var/tmp/*)
            if ! err=$(rm -rf "$LAB_DIR" 2>&1); then
                echo "lab: could not remove $LAB_DIR: $err" >&2
                failed=1
            fi
            ;;
        *) echo "lab: left $LAB_DIR in place (not under /run, /tmp or /var/tmp)" >&2 ;;
    esac
    if [ "$failed" = 1 ]; then
        return 1
    fi
    [ "${1:-}" = quiet ] || echo "lab: down"
}

lab_status() {
    [ -d "$LAB_DIR" ] || {
        echo "lab: not up"
        return 0
    }
    # shellcheck disable=SC1091
    source "$LAB_DIR/env"
    local n e
    echo "== upstream: $ANYCAST/32"
    birdc_in up show route "$ANYCAST/32" all 2>&1 | grep -E 'via|BGP.as_path|BGP.community' || true
    echo "== backbone: $BACKEND_ANYCAST/32"
    birdc_in bb show route "$BACKEND_ANYCAST/32" 2>&1 | grep -E 'via' || true
    for n in up bb ra rb; do
        echo "== $n: BGP sessions"
        birdc_in "$n" show protocols 2>&1 | awk '$2 == "BGP" {print "  " $1, $4, $6}' || true
        echo "== $n: BFD sessions"
        birdc_in "$n" show bfd sessions 2>&1 | awk 'NR > 2 && NF >= 4 {print "  " $1, $3, $4}' || true
    done
    for n in ra rb; do
        echo "== $n: ECMP kernel routes"
        in_ns "$n" ip -4 route show "$ANYCAST" | sed 's/^/  /'
        in_ns "$n" ip -4 route show "$BACKEND_ANYCAST" | sed 's/^/  /'
    done
    echo "== edges"
    for e in "${EDGES[@]}"; do
        local ready=no announce relay
        edge_ready "$e" && ready=yes
        announce=$(in_ns "$e" "$ROUTERD_BIN" status 2>/dev/null |
            grep -o '"state":"[a-z_]*"' | head -1 | cut -d'"' -f4 || true)
        # Relay peers this edge has a connection to (dialled on demand).
        relay=$(in_ns "$e" curl -sf -m 1 http://127.0.0.1:9091/admin/relay 2>/dev/null |
            grep -o '"state":"up"' | wc -l || true)
        echo "  $e $(edge_ip "$e"): ready=$ready routerd=${announce:-unreachable} relay_peers_up=${relay:-0}"
    done
}
