#!/usr/bin/env bash
# The anysip core running deploy/scripts/proxy_default.py against Kamailio
# with the same job in native config (bench/kamailio-core.cfg), under the
# same sipp load, alternating, in one run on this machine (DESIGN §11). For
# each: CPU seconds per call of the proxy's processes (from /proc) at a
# fixed rate, and the highest rate of a ramp sustained with zero failed
# calls. The last line is ratio=<anysip CPU per call / Kamailio's>.
#
#   bench/core-vs-kamailio.sh [RATE] [SECONDS] [ROUNDS]
#   RAMP="250 500 1000" RAMP_SECS=4 bench/core-vs-kamailio.sh
#   SCALING="1 2" SCALE_RATE=500 bench/core-vs-kamailio.sh
#
# After the rounds, a scaling phase measures CPU per call of each proxy with
# 1 and 2 workers (anysip `server.workers`, Kamailio `-n`) at SCALE_RATE
# (default RATE/2); SCALING="" skips it. The last line stays `ratio=<x>`.
#   ANYSIP_BIN=/path/to/release/anysip bench/core-vs-kamailio.sh   (no build)
#   KAM_MEM=qm bench/core-vs-kamailio.sh
#
# KAM_MEM: Kamailio's memory manager (default fm; qm reproduces the ratios
# measured before 2026-12-07 late; bench/lib.sh says why).
#
# Each proxy, freshly started: bob registers once with MD5 digest
# (tests/sipp/core-register.xml: both proxies challenge REGISTER, neither
# authenticates calls), then answers as bench/uas-rr.xml from the
# registered contact. The load is alice calling sip:bob@domain.local
# (tests/sipp/core-uac.xml): INVITE, (100,) 180, 200, ACK and BYE along the
# route set back through the proxy, 200. The proxy looks bob up,
# record-routes and relays statefully; ACK and BYE are loose-routed.
# A late 180 does not abort a call (-default_behaviors all,-abortunexp).
# Everything runs on 127.0.0.1; every load is bounded by -m and timeout(1).
# Each line also shows the datagrams dropped for full buffers on the proxy's
# socket (since it started) and in the whole network namespace (sipp's
# sockets and other processes' included), and for anysip how often its
# shed level changed (a core never sheds automatically; a change would be a
# regression).
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${1:-1000}
SECS=${2:-10}
ROUNDS=${3:-2}
RAMP=${RAMP:-"500 1000 1500 2000 2500 3000"}
RAMP_SECS=${RAMP_SECS:-4}
SCALING=${SCALING-"1 2"}
SCALE_RATE=${SCALE_RATE:-$((RATE / 2))}
WORKERS=0

for t in sipp kamailio curl; do
  command -v "$t" >/dev/null || { echo "missing $t (apt-get install sip-tester kamailio curl)" >&2; exit 1; }
done
# shellcheck source=bench/lib.sh
source bench/lib.sh
ANYSIP=$(anysip_bin)
[ -x "$ANYSIP" ] || { echo "no anysip binary at $ANYSIP" >&2; exit 1; }
TCK=$(getconf CLK_TCK)
tmp=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.3
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

ANY_PORT=5760
KAM_PORT=5762
ANY_ADMIN=127.0.0.1:5791
UAS_PORT=5770
UAC_PORT=5780

write_core_config() { # WORKERS -> $tmp/core.yaml
cat > "$tmp/core.yaml" <<YAML
role: core
listen:
  udp: [127.0.0.1:$ANY_PORT]
admin:
  listen: $ANY_ADMIN
server:
  instance_id: 1
  drain_secs: 0
  workers: $1
telemetry:
  log:
    level: warn
domain:
  local: [domain.local]
script:
  path: $(pwd)/deploy/scripts/proxy_default.py
  reload: false
registrar:
  backend: memory
auth:
  realm: domain.local
  algorithms: [md5]
  users:
    alice: alice
    bob: bob
    carol: carol
YAML
}

# ticks PID... (bench/lib.sh): CPU clock ticks of the processes.

start_proxy() { # name -> sets PROXY_PIDS, PORT
  case $1 in
    anysip)
      write_core_config "$WORKERS"
      "$ANYSIP" run -c "$tmp/core.yaml" 2>"$tmp/anysip.log" &
      PROXY_PIDS=($!); pids+=($!); PORT=$ANY_PORT
      for _ in $(seq 100); do
        curl -sf "http://$ANY_ADMIN/admin/ready" >/dev/null 2>&1 && break
        kill -0 "${PROXY_PIDS[0]}" 2>/dev/null || break
        sleep 0.1
      done ;;
    kamailio)
      local n=()
      [ "$WORKERS" != 0 ] && n=(-n "$WORKERS")
      kamailio -DD -E "${n[@]}" -x "$KAM_MEM" -X "$KAM_MEM" -m 256 -M 16 -f bench/kamailio-core.cfg -l "udp:127.0.0.1:$KAM_PORT" \
        -P "$tmp/kam.pid" >"$tmp/kamailio.log" 2>&1 &
      local main=$!
      pids+=($main); PORT=$KAM_PORT
      PROXY_PIDS=($main)
      sleep 1.5 ;;
  esac
  kill -0 "${PROXY_PIDS[0]}" 2>/dev/null \
    || { echo "$1 did not start" >&2; tail -20 "$tmp/$1.log" >&2; exit 1; }
  # bob registers from the address the UAS will answer on.
  timeout -k 2 12 sipp -sf tests/sipp/core-register.xml "127.0.0.1:$PORT" -s bob -au bob -ap bob -auth_uri domain.local \
    -i 127.0.0.1 -p "$UAS_PORT" -m 1 -nostdin -timeout 10s >/dev/null 2>&1 \
    || { echo "$1: bob's REGISTER failed" >&2; tail -20 "$tmp/$1.log" >&2; exit 1; }
  # Kamailio's main process and every process it forked (all up by now).
  [ "$1" = kamailio ] && PROXY_PIDS=("${PROXY_PIDS[0]}" $(pgrep -P "${PROXY_PIDS[0]}" || true))
  return 0
}

stop_proxy() {
  kill "${PROXY_PIDS[@]}" 2>/dev/null || true
  sleep 0.5
  kill -9 "${PROXY_PIDS[@]}" 2>/dev/null || true
}

start_uas() {
  sipp -sf bench/uas-rr.xml -i 127.0.0.1 -p "$UAS_PORT" -nostdin -timeout 600s >/dev/null 2>&1 &
  UAS=$!; pids+=($!)
  sleep 0.3
}

# load RATE CALLS -> exit status of sipp (0: every call succeeded)
load() {
  local limit=$(( $2 / $1 + 15 ))
  rm -f "$tmp/screen.log"
  # A call missing a message fails after 8 s (-recv_timeout) rather than
  # wait for ever; timeout(1) bounds sipp itself (its -timeout waits for
  # calls in progress).
  timeout -k 3 $(( limit + 10 )) sipp -sf tests/sipp/core-uac.xml "127.0.0.1:$PORT" -s bob \
    -key other_ip 127.0.0.1 -key other_port "$PORT" \
    -i 127.0.0.1 -p "$UAC_PORT" -r "$1" -m "$2" -l $(( $1 * 3 )) \
    -default_behaviors all,-abortunexp -nostdin -timeout "${limit}s" -recv_timeout 8s \
    -trace_screen -screen_file "$tmp/screen.log" >/dev/null 2>&1
}

# Datagrams the kernel dropped for a full receive buffer: on the proxy's
# socket (/proc/net/udp), and in the whole network namespace (RcvbufErrors,
# sipp's sockets included).
sock_drops() {
  awk -v h=":$(printf '%04X' "$1")" 'NR > 1 && substr($2, length($2) - 4) == h { s += $NF } END { print s + 0 }' /proc/net/udp
}
ns_drops() { awk '/^Udp:/ { n++; if (n == 1) for (i = 1; i <= NF; i++) if ($i == "RcvbufErrors") c = i; if (n == 2) print $c }' /proc/net/snmp; }
# anysip's automatic shedding (it reads the namespace's RcvbufErrors).
shed_events() { grep -c "shed level changed" "$tmp/anysip.log" 2>/dev/null || true; }
drops_note() {
  local note="proxy socket drops $(sock_drops "$PORT"), namespace RcvbufErrors +$(( $(ns_drops) - NS0 ))"
  [ "$1" = anysip ] && note="$note, anysip shed level changes $(shed_events)"
  echo "$note"
}

failed_calls() {
  if [ -s "$tmp/screen.log" ]; then grep -E "Failed call" "$tmp/screen.log" | awk '{print $(NF)}' | tail -1
  else echo "unknown, sipp killed"; fi
}

declare -A CPU CALLS MAXRATE FAILED
for name in anysip kamailio; do CPU[$name]=0; CALLS[$name]=0; MAXRATE[$name]=0; FAILED[$name]=0; done

echo "Kamailio memory manager: $KAM_MEM" >&2
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for round in $(seq "$ROUNDS"); do
  order="anysip kamailio"
  [ $((round % 2)) = 0 ] && order="kamailio anysip"
  for name in $order; do
    start_proxy "$name"
    start_uas
    calls=$((RATE * SECS))
    NS0=$(ns_drops)
    before=$(ticks "${PROXY_PIDS[@]}")
    if load "$RATE" "$calls"; then ok=yes; else ok=no; FAILED[$name]=1; fi
    after=$(ticks "${PROXY_PIDS[@]}")
    CPU[$name]=$(( ${CPU[$name]} + after - before ))
    CALLS[$name]=$(( ${CALLS[$name]} + calls ))
    echo "round $round $name: $calls calls at $RATE/s, all succeeded: $ok (failed: $(failed_calls)), cpu ticks $((after - before)); $(drops_note "$name")" >&2
    if [ "$round" = 1 ]; then
      for r in $RAMP; do
        if load "$r" $((r * RAMP_SECS)); then
          MAXRATE[$name]=$r
          echo "  ramp $name: $r/s ok" >&2
        else
          echo "  ramp $name: $r/s failed calls: $(failed_calls); $(drops_note "$name")" >&2
          break
        fi
      done
    fi
    kill "$UAS" 2>/dev/null || true
    stop_proxy
    wait "$UAS" 2>/dev/null || true
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
    if load "$SCALE_RATE" "$calls"; then ok=yes; else ok=no; fi
    after=$(ticks "${PROXY_PIDS[@]}")
    us=$(awk -v t=$((after - before)) -v c="$calls" -v k="$TCK" 'BEGIN { printf "%.1f", t / k / c * 1e6 }')
    echo "scaling $name workers=$w: $calls calls at $SCALE_RATE/s, all succeeded: $ok (failed: $(failed_calls)), cpu_us_per_call=$us" >&2
    kill "$UAS" 2>/dev/null || true
    stop_proxy
    wait "$UAS" 2>/dev/null || true
    sleep 0.5
  done
done
WORKERS=0
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

printf '%-10s %14s %18s %16s\n' proxy calls cpu_us_per_call max_rate_zero_fail
for name in anysip kamailio; do
  us=$(awk -v t="${CPU[$name]}" -v c="${CALLS[$name]}" -v k="$TCK" 'BEGIN { printf "%.1f", t / k / c * 1e6 }')
  printf '%-10s %14s %18s %16s\n' "$name" "${CALLS[$name]}" "$us" "${MAXRATE[$name]}"
done
for name in anysip kamailio; do
  [ "${FAILED[$name]}" = 0 ] || echo "warning: $name failed calls in a measured round: its CPU per call is understated (a dropped INVITE costs less than a call)" >&2
done
awk -v a="${CPU[anysip]}" -v ca="${CALLS[anysip]}" -v k="${CPU[kamailio]}" -v ck="${CALLS[kamailio]}" \
  'BEGIN { if (k == 0) { print "ratio=nan" } else { printf "ratio=%.2f\n", (a / ca) / (k / ck) } }'
