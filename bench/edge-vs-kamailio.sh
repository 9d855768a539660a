#!/usr/bin/env bash
# The anysip edge (tokens on) against Kamailio as a stateless record-routing
# forwarder, under the same sipp load, alternating, in one run on this
# machine (DESIGN §11). For each: CPU seconds per call of the proxy's
# processes (from /proc) at a fixed rate, and the highest rate of a ramp
# sustained with zero failed calls.
#
#   bench/edge-vs-kamailio.sh [RATE] [SECONDS] [ROUNDS]
#   RAMP="500 1000 2000 3000" bench/edge-vs-kamailio.sh
#   SCALING="1 2" SCALE_RATE=1000 bench/edge-vs-kamailio.sh
#   TRANSPORT=tcp bench/edge-vs-kamailio.sh
#   KAM_MEM=qm bench/edge-vs-kamailio.sh
#
# KAM_MEM: Kamailio's memory manager (default fm; qm reproduces the ratios
# measured before 2026-12-07 late; bench/lib.sh says why).
#
# TRANSPORT=tcp (default udp): sipp's UAC and UAS speak TCP (one
# connection each, -t t1), and both proxies reach the UAS over TCP (the
# anysip edge's backend `transport: tcp`, Kamailio's $du with
# ;transport=tcp): the streams' cost on both sides.
#
# After the rounds (each proxy with its default workers: anysip one per CPU,
# Kamailio children=2), a scaling phase measures CPU per call of each proxy
# with 1 and 2 workers (anysip `server.workers`, Kamailio `-n`) at
# SCALE_RATE (default RATE/2), so how the cost changes with workers is on
# record. SCALING="" skips it. The last line stays `ratio=<x>`.
#
# Calls: INVITE, 180, 200, ACK, BYE, 200 (tests/sipp/uac.xml, route set from
# Record-Route). A late 180 (a multi-process proxy may reorder 180 and 200)
# does not abort a call (-default_behaviors all,-abortunexp). Everything runs on 127.0.0.1; every load is bounded by -m.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${1:-2000}
SECS=${2:-10}
ROUNDS=${3:-2}
RAMP=${RAMP:-"500 1000 1500 2000 3000 4000"}
RAMP_SECS=${RAMP_SECS:-5}
SCALING=${SCALING-"1 2"}
SCALE_RATE=${SCALE_RATE:-$((RATE / 2))}
TRANSPORT=${TRANSPORT:-udp}
WORKERS=0
case $TRANSPORT in
  udp) SIPP_T=u1; PARAM="" ;;
  tcp) SIPP_T=t1; PARAM=";transport=tcp" ;;
  *) echo "TRANSPORT must be udp or tcp" >&2; exit 2 ;;
esac
for t in sipp kamailio; do
  command -v "$t" >/dev/null || { echo "missing $t (apt-get install sip-tester kamailio)" >&2; exit 1; }
done
# shellcheck source=bench/lib.sh
source bench/lib.sh
echo "transport: $TRANSPORT; Kamailio memory manager: $KAM_MEM" >&2
ANYSIP=$(anysip_bin)
TCK=$(getconf CLK_TCK)
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  pkill -f "$tmp/" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

EDGE=127.0.0.1:5660
KAM=127.0.0.1:5560
# The UAS on another loopback address than the UAC: an edge takes a TCP
# connection from a TCP backend's IP for the backend's (docs/edge.md).
BACKEND=127.0.0.2:5570

write_edge_config() { # WORKERS -> $tmp/edge.yaml
cat > "$tmp/edge.yaml" <<YAML
server:
  workers: $1
listen:
  udp: [$EDGE]
  tcp: [$EDGE]
admin:
  listen: 127.0.0.1:5691
telemetry:
  log:
    level: error
gateway:
  groups:
    - name: backends
      algorithm: hash
      probe:
        enabled: false
      destinations:
        - uri: "sip:$BACKEND$PARAM"
          address: $BACKEND
edge:
  keys:
    dev: true
YAML
}

# ticks PID... (bench/lib.sh): CPU clock ticks of the processes.

start_proxy() { # name -> sets PROXY_PIDS, TARGET
  case $1 in
    anysip)
      write_edge_config "$WORKERS"
      "$ANYSIP" run -c "$tmp/edge.yaml" 2>"$tmp/anysip.log" &
      PROXY_PIDS=($!); pids+=($!); TARGET=$EDGE
      for _ in $(seq 50); do
        curl -sf http://127.0.0.1:5691/admin/ready >/dev/null 2>&1 && break
        sleep 0.1
      done ;;
    kamailio)
      local n=()
      [ "$WORKERS" != 0 ] && n=(-n "$WORKERS")
      kamailio -DD -E -x "$KAM_MEM" -X "$KAM_MEM" -f bench/kamailio-stateless.cfg "${n[@]}" -l "$TRANSPORT:$KAM" -A "BACKEND=\"sip:$BACKEND$PARAM\"" \
        -P "$tmp/kam.pid" 2>"$tmp/kamailio.log" &
      pids+=($!); TARGET=$KAM
      sleep 1
      PROXY_PIDS=($(pgrep -f "bench/kamailio-stateless.cfg")) ;;
  esac
}

stop_proxy() {
  kill "${PROXY_PIDS[@]}" 2>/dev/null || true
  sleep 0.5
  kill -9 "${PROXY_PIDS[@]}" 2>/dev/null || true
}

start_uas() {
  sipp -sf bench/uas-rr.xml -t "$SIPP_T" -i 127.0.0.2 -p 5570 -nostdin -timeout 600s >/dev/null 2>&1 &
  UAS=$!; pids+=($!)
  sleep 0.3
}

# load TARGET RATE CALLS -> exit status of sipp (0: every call succeeded)
load() {
  local limit=$(( $3 / $2 + 30 ))
  # sipp's own -timeout does not always end a run whose connection
  # stalled: timeout(1) bounds it too.
  timeout $(( limit + 10 )) sipp -sf tests/sipp/uac.xml "$1" -t "$SIPP_T" -i 127.0.0.1 -p 5580 -r "$2" -m "$3" -l $(( $2 * 3 )) \
    -default_behaviors all,-abortunexp -nostdin -timeout "${limit}s" -trace_screen -screen_file "$tmp/screen.log" >/dev/null 2>&1
}

failed_calls() { grep -E "Failed call" "$tmp/screen.log" 2>/dev/null | awk '{print $(NF)}' | tail -1; }

declare -A CPU CALLS MAXRATE
for name in anysip kamailio; do CPU[$name]=0; CALLS[$name]=0; MAXRATE[$name]=0; done

for round in $(seq "$ROUNDS"); do
  for name in anysip kamailio; do
    start_proxy "$name"
    start_uas
    calls=$((RATE * SECS))
    before=$(ticks "${PROXY_PIDS[@]}")
    if load "$TARGET" "$RATE" "$calls"; then ok=yes; else ok=no; fi
    after=$(ticks "${PROXY_PIDS[@]}")
    CPU[$name]=$(( ${CPU[$name]} + after - before ))
    CALLS[$name]=$(( ${CALLS[$name]} + calls ))
    echo "round $round $name: $calls calls at $RATE/s, all succeeded: $ok (failed: $(failed_calls)), cpu ticks $((after - before))" >&2
    if [ "$round" = 1 ]; then
      for r in $RAMP; do
        if load "$TARGET" "$r" $((r * RAMP_SECS)); then MAXRATE[$name]=$r; else break; fi
      done
    fi
    kill "$UAS" 2>/dev/null || true
    stop_proxy
    sleep 0.5
  done
done

for w in $SCALING; do
  WORKERS=$w
  for name in anysip kamailio; do
    start_proxy "$name"
    start_uas
    calls=$((SCALE_RATE * SECS))
    before=$(ticks "${PROXY_PIDS[@]}")
    if load "$TARGET" "$SCALE_RATE" "$calls"; then ok=yes; else ok=no; fi
    after=$(ticks "${PROXY_PIDS[@]}")
    us=$(awk -v t=$((after - before)) -v c="$calls" -v k="$TCK" 'BEGIN { printf "%.1f", t / k / c * 1e6 }')
    echo "scaling $name workers=$w: $calls calls at $SCALE_RATE/s, all succeeded: $ok, cpu_us_per_call=$us" >&2
    kill "$UAS" 2>/dev/null || true
    stop_proxy
    sleep 0.5
  done
done
WORKERS=0

printf '%-10s %14s %18s %16s\n' proxy calls cpu_us_per_call max_rate_zero_fail
for name in anysip kamailio; do
  us=$(awk -v t="${CPU[$name]}" -v c="${CALLS[$name]}" -v k="$TCK" 'BEGIN { printf "%.1f", t / k / c * 1e6 }')
  printf '%-10s %14s %18s %16s\n' "$name" "${CALLS[$name]}" "$us" "${MAXRATE[$name]}"
done
awk -v a="${CPU[anysip]}" -v ca="${CALLS[anysip]}" -v k="${CPU[kamailio]}" -v ck="${CALLS[kamailio]}" \
  'BEGIN { if (k == 0) { print "ratio=nan" } else { printf "ratio=%.2f\n", (a / ca) / (k / ck) } }'
