#!/usr/bin/env bash
# Junk packets per second dropped by the XDP program against the user-space
# classifier (DESIGN §9, §11): the same edge, the same sender, the same run,
# alternating. The edge runs in a network namespace behind a veth pair; on
# the host end trafgen (netsniff-ng) writes crafted Ethernet/IPv4/UDP frames
# to the edge's SIP port whose payload is not SIP (0xde 0xad and 30 random
# bytes). Each round measures, over SECONDS after a warm-up, the delta per
# second of the `drop_not_sip` counter of the path under test from
# `/admin/stats` (`filter.kernel` with `xdp: {interface: <veth>, mode: auto}`,
# `filter.user_space` with `xdp: {mode: off}`), the frames offered (the host
# end's veth counters), and the CPU of the edge process and of softirqs.
# Prints a table, `cpu_ratio=` (receiving-side CPU per dropped packet, user
# space over XDP), and last `ratio=<xdp dropped pps / user-space dropped pps>`.
# Needs root (namespaces, XDP, raw sockets); installs netsniff-ng if missing.
# trafgen raises net.core.wmem_default/wmem_max while it runs; they are put
# back at the end. About 50 s plus the build.
#
#   bench/xdp-drop.sh [SECONDS] [ROUNDS]          # defaults: 5 s, 3 rounds
#   ANYSIP_BIN=/path/to/anysip bench/xdp-drop.sh  # skip the cargo build
#   SENDERS=1 bench/xdp-drop.sh                   # trafgen processes (default: CPUs)
#   WARM=1 KEEP_TMP=1 bench/xdp-drop.sh           # warm-up seconds; keep configs and logs
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-5}
ROUNDS=${2:-3}
WARM=${WARM:-1}
SENDERS=${SENDERS:-$(nproc)}

if [ "$(id -u)" != 0 ]; then
  echo "bench/xdp-drop.sh needs root (network namespaces, XDP, raw sockets): run it with sudo" >&2
  exit 1
fi
for t in ip curl jq; do
  command -v "$t" >/dev/null || { echo "missing $t (apt-get install iproute2 curl jq)" >&2; exit 1; }
done
if ! command -v trafgen >/dev/null; then
  echo "installing netsniff-ng (trafgen)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q netsniff-ng >/dev/null \
    || { echo "cannot install netsniff-ng (trafgen)" >&2; exit 1; }
fi

if [ -n "${ANYSIP_BIN:-}" ]; then
  ANYSIP=$ANYSIP_BIN
else
  cargo build -q --release -p anysip
  ANYSIP=${CARGO_TARGET_DIR:-$(pwd)/target}/release/anysip
fi
[ -x "$ANYSIP" ] || { echo "no anysip binary at $ANYSIP" >&2; exit 1; }

TCK=$(getconf CLK_TCK)
tag=$$
NS=axdpb$tag
OUTER=xbo$tag
INNER=xbi$tag
NET=10.213.79
EDGE=$NET.1:5060
ADMIN=127.0.0.1:19199
tmp=$(mktemp -d)
EDGE_PID=
SEND_PID=
SENDERS_PIDS=()
# Stop trafgen: SEND_PID is timeout(1), which passes SIGTERM on to trafgen,
# which stops its per-CPU workers; whatever is left after 3 s is killed.
stop_sender() {
  [ -n "$SEND_PID" ] || return 0
  kill -TERM "$SEND_PID" 2>/dev/null || true
  local _ p alive
  for _ in $(seq 30); do
    alive=
    for p in "${SENDERS_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ -z "$alive" ] && break
    sleep 0.1
  done
  [ -n "$alive" ] && { kill -9 "${SENDERS_PIDS[@]}" 2>/dev/null || true; }
  wait "$SEND_PID" 2>/dev/null || true
  SEND_PID=
  SENDERS_PIDS=()
}
WMEM=$(sysctl -n net.core.wmem_default net.core.wmem_max | tr '\n' ' ')
cleanup() {
  stop_sender || true
  read -r wd wm <<<"$WMEM"
  [ "$(sysctl -n net.core.wmem_default)" = "$wd" ] || sysctl -qw net.core.wmem_default="$wd" || true
  [ "$(sysctl -n net.core.wmem_max)" = "$wm" ] || sysctl -qw net.core.wmem_max="$wm" || true
  if [ -n "$EDGE_PID" ]; then kill -9 "$EDGE_PID" 2>/dev/null || true; wait "$EDGE_PID" 2>/dev/null || true; fi
  ip netns del "$NS" 2>/dev/null || true
  ip link del "$OUTER" 2>/dev/null || true
  if [ -n "${KEEP_TMP:-}" ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The lab: the edge's end of the veth in the namespace; the host's end has
# no address (trafgen writes whole frames to it).
ip netns add "$NS"
ip link add "$OUTER" type veth peer name "$INNER"
ip link set "$INNER" netns "$NS"
ip link set "$OUTER" up
ip -n "$NS" addr add "$NET.1/24" dev "$INNER"
ip -n "$NS" link set "$INNER" up
ip -n "$NS" link set lo up
DMAC=$(ip -n "$NS" -j link show "$INNER" | jq -r '.[0].address')
SMAC=$(cat "/sys/class/net/$OUTER/address")

# One frame per UDP source port 10000..60000 (so SO_REUSEPORT spreads the
# flood over the edge's sockets), checksum 0 (none, valid in IPv4).
cat > "$tmp/junk.cfg" <<CFG
{
  eth(da=$DMAC, sa=$SMAC, type=0x0800),
  ipv4(saddr=$NET.2, daddr=$NET.1, ttl=64),
  udp(sp=dinc(10000, 60000), dp=5060, csum=0),
  0xde, 0xad, drnd(30)
}
CFG

write_config() { # path -> $tmp/edge-<path>.yaml
  local xdp
  case $1 in
    xdp) xdp="xdp:
  interface: $INNER
  mode: auto" ;;
    user_space) xdp="xdp:
  mode: off" ;;
  esac
  cat > "$tmp/edge-$1.yaml" <<YAML
role: edge
server:
  drain_secs: 1
listen:
  udp: [$EDGE]
admin:
  listen: $ADMIN
telemetry:
  log:
    level: warn
gateway:
  groups:
    - name: backends
      probe:
        enabled: false
      destinations:
        - uri: sip:$NET.1:5070
          address: $NET.1:5070
edge:
  keys:
    dev: true
$xdp
YAML
}

stats() { ip netns exec "$NS" curl -sf --max-time 2 "http://$ADMIN/admin/stats"; }

# ticks PID...: CPU clock ticks of the processes (all their threads).
# shellcheck source=bench/lib.sh
source bench/lib.sh
softirq_ticks() { awk '$1 == "cpu" { print $8 }' /proc/stat; }
# UDP datagrams the namespace's kernel dropped for a full socket buffer
# (user space not keeping up).
rcvbuf_errors() { ip netns exec "$NS" awk '/^Udp:/ { n++; if (n == 2) print $6 }' /proc/net/snmp; }
offered() { # frames handed to the veth (delivered or dropped at it)
  local s=/sys/class/net/$OUTER/statistics
  echo $(( $(cat "$s/tx_packets") + $(cat "$s/tx_dropped") ))
}
xdp_attached() { ip -n "$NS" -d link show "$INNER" | grep -q 'prog/xdp'; }

start_edge() { # path
  ip netns exec "$NS" "$ANYSIP" run -c "$tmp/edge-$1.yaml" 2>>"$tmp/edge-$1.log" &
  EDGE_PID=$!
  for _ in $(seq 100); do
    stats >/dev/null 2>&1 && break
    kill -0 "$EDGE_PID" 2>/dev/null || break
    sleep 0.1
  done
  local got
  got=$(stats | jq -r '.filter.path') || { echo "the edge did not start:" >&2; cat "$tmp/edge-$1.log" >&2; exit 1; }
  if [ "$got" != "$1" ]; then
    echo "expected filter.path=$1, got $got: $(stats | jq -c '.filter | {path, reason}')" >&2
    exit 1
  fi
  if [ "$1" = xdp ] && [ -z "${SAID_MODE:-}" ]; then
    echo "XDP attached to $INNER in $(stats | jq -r '.filter.mode') mode; sender: trafgen x$SENDERS on $(nproc) CPUs" >&2
    SAID_MODE=1
  fi
}

stop_edge() {
  kill -TERM "$EDGE_PID" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$EDGE_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$EDGE_PID" 2>/dev/null || true
  wait "$EDGE_PID" 2>/dev/null || true
  EDGE_PID=
  # A program left behind would turn the next user-space round into XDP.
  if xdp_attached; then ip -n "$NS" link set dev "$INNER" xdp off; fi
}

sample() { # path -> "drops offered edge_ticks softirq_ticks rcvbuf_errors time"
  local counter=user_space
  [ "$1" = xdp ] && counter=kernel
  local d
  d=$(stats | jq -r ".filter.$counter.drop_not_sip")
  echo "$d $(offered) $(ticks "$EDGE_PID") $(softirq_ticks) $(rcvbuf_errors) $(date +%s.%N)"
}

declare -A DROPS OFFERED EDGE_T SIRQ_T RCVBUF TIME
for p in xdp user_space; do
  write_config "$p"
  DROPS[$p]=0; OFFERED[$p]=0; EDGE_T[$p]=0; SIRQ_T[$p]=0; RCVBUF[$p]=0; TIME[$p]=0
done

for round in $(seq "$ROUNDS"); do
  for p in xdp user_space; do
    start_edge "$p"
    # trafgen raises net.core.wmem_default/wmem_max while it runs (without
    # that its workers die of EAGAIN when the veth's ring is full) and puts
    # them back on exit; cleanup restores them too. -Q: leave IRQ
    # affinities alone. The time limit is a backstop; stop_sender ends it.
    timeout -k 2 -s TERM $((WARM + SECS + 5)) \
      trafgen -o "$OUTER" -i "$tmp/junk.cfg" -P "$SENDERS" -Q >"$tmp/trafgen.log" 2>&1 &
    SEND_PID=$!
    sleep 0.3
    for k in $(pgrep -P "$SEND_PID" || true); do SENDERS_PIDS+=("$k" $(pgrep -P "$k" || true)); done
    sleep "$(awk -v w="$WARM" 'BEGIN { print (w > 0.3 ? w - 0.3 : 0) }')"
    read -r d0 o0 e0 s0 r0 t0 < <(sample "$p")
    sleep "$SECS"
    read -r d1 o1 e1 s1 r1 t1 < <(sample "$p")
    stop_sender
    stop_edge
    if grep -qi 'failed' "$tmp/trafgen.log"; then
      echo "warning: trafgen: $(grep -i -m1 'failed' "$tmp/trafgen.log") (a worker stopped: the offered rate suffered)" >&2
    fi
    if [ "$o1" = "$o0" ]; then
      echo "trafgen sent nothing:" >&2; cat "$tmp/trafgen.log" >&2; exit 1
    fi
    dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
    DROPS[$p]=$(( ${DROPS[$p]} + d1 - d0 ))
    OFFERED[$p]=$(( ${OFFERED[$p]} + o1 - o0 ))
    EDGE_T[$p]=$(( ${EDGE_T[$p]} + e1 - e0 ))
    SIRQ_T[$p]=$(( ${SIRQ_T[$p]} + s1 - s0 ))
    RCVBUF[$p]=$(( ${RCVBUF[$p]} + r1 - r0 ))
    TIME[$p]=$(awk -v a="${TIME[$p]}" -v b="$dt" 'BEGIN { print a + b }')
    awk -v p="$p" -v r="$round" -v d=$((d1 - d0)) -v o=$((o1 - o0)) -v t="$dt" \
      'BEGIN { printf "round %d %-10s offered %9.0f pps, dropped %9.0f pps (%.1f s)\n", r, p, o / t, d / t, t }' >&2
    sleep 0.5
  done
done

# cpu_us_per_drop: CPU of the receiving side (the edge process plus every
# softirq of the machine, where the veth's receive path and the XDP program
# run) per packet dropped by the path under test.
printf '%-10s %12s %12s %14s %9s %12s %16s\n' path offered_pps dropped_pps rcvbuf_err_pps edge_cpu softirq_cpu cpu_us_per_drop
for p in xdp user_space; do
  awk -v p="$p" -v d="${DROPS[$p]}" -v o="${OFFERED[$p]}" -v e="${EDGE_T[$p]}" -v s="${SIRQ_T[$p]}" \
    -v r="${RCVBUF[$p]}" -v t="${TIME[$p]}" -v k="$TCK" \
    'BEGIN { printf "%-10s %12.0f %12.0f %14.0f %8.0f%% %11.0f%% %16.2f\n", p, o / t, d / t, r / t,
             e / k / t * 100, s / k / t * 100, (d > 0 ? (e + s) / k / d * 1e6 : 0) }'
done
awk -v xd="${DROPS[xdp]}" -v xc=$(( ${EDGE_T[xdp]} + ${SIRQ_T[xdp]} )) \
    -v ud="${DROPS[user_space]}" -v uc=$(( ${EDGE_T[user_space]} + ${SIRQ_T[user_space]} )) \
  'BEGIN { if (xd == 0 || xc == 0) { print "cpu_ratio=nan" } else { printf "cpu_ratio=%.1f (user-space CPU per drop / XDP CPU per drop)\n", (uc / ud) / (xc / xd) } }'
awk -v x="${DROPS[xdp]}" -v tx="${TIME[xdp]}" -v u="${DROPS[user_space]}" -v tu="${TIME[user_space]}" \
  'BEGIN { if (u == 0) { print "ratio=nan" } else { printf "ratio=%.1f\n", (x / tx) / (u / tu) } }'
