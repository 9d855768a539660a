# shellcheck shell=bash
# The lab's network: namespaces, links, addresses, sysctls.
#
#   ue1, ue2 ── up (AS 65000) ──┬── ra (AS 65001) ── ea1, ea2 (AS 64512), ca
#                               └── rb (AS 65002) ── eb1, eb2 (AS 64512), cb
#   ra, rb ── bb (AS 65100, the backend network) ── redis
#
# up: the Internet side; it sees the UE-facing anycast 192.0.2.1/32 from both
# PoPs. bb: the private backend network between the PoPs; it sees the
# backend-facing anycast 10.0.0.10/32 and the PoPs' own subnets. Sessions
# to up and bb run BFD. Every name starts with $PFX.

PFX=${LAB_PREFIX:-alab}
LAB_DIR=${LAB_DIR:-/run/anysip-lab}
ANYCAST=192.0.2.1
ANYCAST6=2001:db8::1
BACKEND_ANYCAST=10.0.0.10
EDGES=(ea1 ea2 eb1 eb2)
CORES=(ca cb)
REDIS_IP=10.9.0.2
UE1_IP=100.64.1.2
UE2_IP=100.64.2.2

ns() { echo "$PFX-$1"; }
in_ns() {
    local n=$1
    shift
    ip netns exec "$(ns "$n")" "$@"
}

# The PoP (a or b) and index (1 or 2) of an edge host name.
pop_of() { echo "${1:1:1}"; }
idx_of() { echo "${1:2:1}"; }
# 10.<pop>.<idx>.2 is an edge's unicast address, 10.<pop>.<idx>.1 its router.
pop_num() { [ "$1" = a ] && echo 1 || echo 2; }
edge_ip() { echo "10.$(pop_num "$(pop_of "$1")").$(idx_of "$1").2"; }
edge_gw() { echo "10.$(pop_num "$(pop_of "$1")").$(idx_of "$1").1"; }
core_ip() { echo "10.$(pop_num "${1:1:1}").9.2"; }
core_gw() { echo "10.$(pop_num "${1:1:1}").9.1"; }

need_root() {
    if [ "$(id -u)" != 0 ]; then
        echo "lab: run as root (network namespaces, BIRD)" >&2
        exit 1
    fi
}

need_tools() {
    local missing=()
    for t in ip bird birdc sipp redis-server curl bridge openssl stunnel; do
        command -v "$t" >/dev/null || missing+=("$t")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "lab: missing ${missing[*]} (scripts/test installs them: bird2 sipp redis-server curl iproute2 openssl stunnel4)" >&2
        exit 1
    fi
}

# A veth pair between namespaces a and b, named a-side $3 and b-side $4,
# with addresses $5 (in a) and $6 (in b), prefix length 30.
link() {
    local a=$1 b=$2 ia=$3 ib=$4 addr_a=$5 addr_b=$6
    ip link add name "$ia" netns "$(ns "$a")" type veth peer name "$ib" netns "$(ns "$b")"
    ip -n "$(ns "$a")" addr add "$addr_a/30" dev "$ia"
    ip -n "$(ns "$b")" addr add "$addr_b/30" dev "$ib"
    ip -n "$(ns "$a")" link set "$ia" up
    ip -n "$(ns "$b")" link set "$ib" up
}

# The up side of a PoP uplink goes through a bridge, so that `pop` can cut
# it silently (a disabled bridge port: no carrier change; only BFD notices).
uplink() {
    local pop=$1 n
    n=$(pop_num "$pop")
    ip link add name "p$pop" netns "$(ns up)" type veth peer name up0 netns "$(ns "r$pop")"
    ip -n "$(ns up)" link add name "br$pop" type bridge
    ip -n "$(ns up)" link set "p$pop" master "br$pop"
    # A second port keeps the bridge up while the uplink's port is disabled.
    ip -n "$(ns up)" link add name "d$pop" type veth peer name "e$pop"
    ip -n "$(ns up)" link set "d$pop" master "br$pop"
    ip -n "$(ns up)" link set "d$pop" up
    ip -n "$(ns up)" link set "e$pop" up
    ip -n "$(ns up)" addr add "172.31.$n.1/30" dev "br$pop"
    ip -n "$(ns "r$pop")" addr add "172.31.$n.2/30" dev up0
    ip -n "$(ns up)" link set "p$pop" up
    ip -n "$(ns up)" link set "br$pop" up
    ip -n "$(ns "r$pop")" link set up0 up
}

# Cut (state 0: disabled) or restore (3: forwarding) PoP $1's uplink.
uplink_state() {
    in_ns up bridge link set dev "p$1" state "$2"
}

sysctls() {
    local n=$1 forward=$2
    in_ns "$n" sysctl -qw net.ipv4.ip_forward="$forward" \
        net.ipv4.fib_multipath_hash_policy=1 \
        net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
        net.ipv6.conf.all.disable_ipv6=0 >/dev/null
}

net_up() {
    local all=(up ra rb bb redis ue1 ue2 "${EDGES[@]}" "${CORES[@]}") n
    for n in "${all[@]}"; do
        ip netns add "$(ns "$n")"
        ip -n "$(ns "$n")" link set lo up
    done
    for n in up ra rb bb; do sysctls "$n" 1; done
    for n in redis ue1 ue2 "${EDGES[@]}" "${CORES[@]}"; do sysctls "$n" 0; done

    # UEs behind the upstream.
    link up ue1 u1 eth0 100.64.1.1 "$UE1_IP"
    link up ue2 u2 eth0 100.64.2.1 "$UE2_IP"
    in_ns ue1 ip route add default via 100.64.1.1
    in_ns ue2 ip route add default via 100.64.2.1
    # PoP uplinks (through bridges in up) and backbone links.
    uplink a
    uplink b
    link bb ra ba bb0 172.30.1.1 172.30.1.2
    link bb rb bb bb0 172.30.2.1 172.30.2.2
    link bb redis rd eth0 10.9.0.1 "$REDIS_IP"
    in_ns redis ip route add default via 10.9.0.1
    # Edge hosts: one link to the PoP router; both anycast addresses on lo.
    local e
    for e in "${EDGES[@]}"; do
        link "r$(pop_of "$e")" "$e" "$e" eth0 "$(edge_gw "$e")" "$(edge_ip "$e")"
        in_ns "$e" ip route add default via "$(edge_gw "$e")"
        in_ns "$e" ip addr add "$ANYCAST/32" dev lo
        in_ns "$e" ip addr add "$BACKEND_ANYCAST/32" dev lo
        in_ns "$e" ip addr add "$ANYCAST6/128" dev lo nodad
    done
    local c
    for c in "${CORES[@]}"; do
        link "r${c:1:1}" "$c" "$c" eth0 "$(core_gw "$c")" "$(core_ip "$c")"
        in_ns "$c" ip route add default via "$(core_gw "$c")"
    done
}

# Every namespace of this lab (also those a crashed run left).
lab_namespaces() {
    ip netns list 2>/dev/null | awk '{print $1}' | grep "^$PFX-" || true
}

# Deletes the lab's namespaces; fails naming those that stay (and why).
net_down() {
    local n err left=()
    for n in $(lab_namespaces); do
        if ! err=$(ip netns del "$n" 2>&1); then
            left+=("$n (${err:-ip netns del failed})")
        fi
    done
    if [ ${#left[@]} -gt 0 ]; then
        echo "lab: could not remove namespaces: ${left[*]}" >&2
        return 1
    fi
}
