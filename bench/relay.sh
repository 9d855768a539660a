#!/usr/bin/env bash
# The relay's cost (issue 11, docs/relay.md): the same sipp load to a TCP
# UE, once with the core's requests entering the instance that holds the
# UE's connection (direct) and once through another instance (relayed over
# QUIC), in one run on this machine.
#
#   bench/relay.sh [RATE] [CALLS] [ROUNDS]
#   EDGE_WORKERS=1 bench/relay.sh ...   (the edges' server.workers; default 0)
#
# Three edges (127.0.0.1, .2, .3; relay on each), one core (127.0.0.5,
# deploy/scripts/proxy_default.py), one key ring, a fleet CA made with
# `anysip fleet ca|cert`. bob (sipp -t t1) registers through edge 1 and
# answers the calls on that connection (tests/sipp/uas.xml out of call);
# alice calls bob through edge 3 (tests/sipp/core-uac.xml: INVITE, 180,
# 200, ACK, BYE, 200; ACK and BYE through edge 3 too).
#   direct:  edge 1's backend-facing address is its own: the core sends
#            bob's requests to edge 1.
#   relayed: edge 1's backend-facing address is edge 2's (as an anycast
#            address would be another instance's): every request to bob
#            (INVITE, ACK, BYE) enters edge 2 and crosses the relay.
# For each: CPU per call of the three edges together (utime+stime from
# /proc), and alice's INVITE→200 time (sipp -trace_rtt, millisecond
# resolution) p50 and p99; for the relayed path also the relay's own round
# trip at edge 2 (anysip_relay_round_trip_seconds: the QUIC connection's
# smoothed round-trip time per relayed message, acknowledgement delays
# taken out), p50 and p99 as the bound of their histogram bucket: a relayed
# message adds about half of it and the owner's parse.
# Last line: `ratio=<relayed CPU per call / direct CPU per call>`.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${1:-200}
CALLS=${2:-2000}
ROUNDS=${3:-2}
for t in sipp curl; do
  command -v "$t" >/dev/null || { echo "missing $t (apt-get install sip-tester curl)" >&2; exit 1; }
done
# shellcheck source=bench/lib.sh
source bench/lib.sh
ANYSIP=$(anysip_bin)
TCK=$(getconf CLK_TCK)
ROOT=$(pwd)
tmp=$(mktemp -d)
pids=()
edge_pids=()
bob_pid=""
cleanup() {
  local p
  for p in "${pids[@]}" "${edge_pids[@]}" $bob_pid; do kill "$p" 2>/dev/null || true; done
  sleep 0.3
  for p in "${pids[@]}" "${edge_pids[@]}" $bob_pid; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

SIP=6160; RELAY=6161; CORE=127.0.0.5:6170; CORE_ADMIN=127.0.0.1:6171
ALICE=6180; BOB=6190
admin() { echo "127.0.0.1:$((6150 + $1))"; }

cd "$tmp"
"$ANYSIP" token keygen > keys.yaml
"$ANYSIP" fleet ca --cert fleet-ca.pem --key fleet-ca.key >/dev/null
for n in 1 2 3; do
  "$ANYSIP" fleet cert --instance $n --ca fleet-ca.pem --ca-key fleet-ca.key \
    --cert edge-$n.pem --key edge-$n.key >/dev/null
done

cat > core.yaml <<YAML
role: core
listen:
  udp: [$CORE]
admin:
  listen: $CORE_ADMIN
server:
  instance_id: bench-core
  drain_secs: 0
telemetry:
  log:
    level: error
domain:
  local: [domain.local]
script:
  path: $ROOT/deploy/scripts/proxy_default.py
auth:
  realm: domain.local
  algorithms: [md5]
  users:
    alice: alice
    bob: bob
YAML

# edge_yaml N MODE
edge_yaml() {
  local n=$1 mode=$2 udp faces=""
  udp="127.0.0.$n:$SIP"
  if [ "$n" = 1 ]; then
    udp="0.0.0.0:$SIP"
    if [ "$mode" = relayed ]; then back=127.0.0.2; else back=127.0.0.1; fi
    faces="  ue_address: 127.0.0.1:$SIP
  backend_address: $back:$SIP"
  fi
  cat <<YAML
role: edge
listen:
  udp: [$udp]
  tcp: [127.0.0.$n:$SIP]
admin:
  listen: $(admin "$n")
server:
  instance_id: $n
  workers: ${EDGE_WORKERS:-0}
  drain_secs: 0
telemetry:
  log:
    level: error
gateway:
  groups:
    - name: backends
      probe:
        enabled: false
      destinations:
        - uri: sip:$CORE
          address: $CORE
edge:
  keys:
    file: $tmp/keys.yaml
$faces
relay:
  listen: 127.0.0.$n:$RELAY
  peers:
    - { instance_id: 1, address: 127.0.0.1:$RELAY }
    - { instance_id: 2, address: 127.0.0.2:$RELAY }
    - { instance_id: 3, address: 127.0.0.3:$RELAY }
  ca: $tmp/fleet-ca.pem
  cert: $tmp/edge-$n.pem
  key: $tmp/edge-$n.key
YAML
}

wait_ready() {
  local i
  for i in $(seq 200); do curl -sf "http://$1/admin/ready" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "$1 not ready" >&2; exit 1
}

"$ANYSIP" run -c core.yaml 2>core.log & pids+=($!)
wait_ready "$CORE_ADMIN"

# start_fleet MODE: the three edges, then bob registered through edge 1.
start_fleet() {
  local n i path
  edge_pids=()
  for n in 1 2 3; do
    edge_yaml $n "$1" > edge-$n.yaml
    "$ANYSIP" run -c edge-$n.yaml 2>edge-$n-"$1".log & edge_pids+=($!)
  done
  for n in 1 2 3; do wait_ready "$(admin $n)"; done
  path=$(curl -sf "http://$CORE_ADMIN/admin/registrations/sip:bob@domain.local" || true)
  sipp -sf "$ROOT/tests/sipp/register-hold.xml" 127.0.0.1:$SIP -t t1 -s bob -au bob -ap bob \
    -auth_uri domain.local -oocsf "$ROOT/tests/sipp/uas.xml" -i 127.0.0.1 -p $BOB -m 1 \
    -timeout 3600s </dev/null >/dev/null 2>&1 &
  bob_pid=$!
  for i in $(seq 100); do
    now=$(curl -sf "http://$CORE_ADMIN/admin/registrations/sip:bob@domain.local" || true)
    [ -n "$now" ] && [ "$now" != "$path" ] && return 0
    sleep 0.1
  done
  echo "bob did not register" >&2; exit 1
}

stop_fleet() {
  local p
  for p in "${edge_pids[@]}" $bob_pid; do kill "$p" 2>/dev/null || true; done
  for p in "${edge_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  edge_pids=(); bob_pid=""
  sleep 0.5
}

# percentile FILE P: the P-th percentile (nearest rank) of a column of numbers.
percentile() {
  sort -n "$1" | awk -v p="$2" '{v[NR]=$1} END {i=int((p/100)*NR+0.999999); if(i<1)i=1; print v[i]}'
}

# hist_pct ADMIN P: the P-th percentile of the relay round-trip histogram
# of an edge, as the upper bound (ms) of the bucket it falls in; "-" when
# nothing was relayed.
hist_pct() {
  curl -sf "http://$1/metrics" | awk -v p="$2" '
    /^anysip_relay_round_trip_seconds_bucket/ {
      match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5)
      n++; les[n] = le; cum[n] = $NF
    }
    END {
      if (n == 0 || cum[n] == 0) { print "-"; exit }
      want = p / 100 * cum[n]
      for (i = 1; i <= n; i++) if (cum[i] >= want) {
        if (les[i] == "+Inf") print ">10"; else printf "%.3f\n", les[i] * 1000
        exit
      }
    }'
}

# quic_counts: "<messages> <datagrams sent> <datagrams received>" of edge
# 2's connection to edge 1 (zeros before any).
quic_counts() {
  curl -sf "http://$(admin 2)/admin/relay" | python3 -c '
import json, sys
p = [p for p in json.load(sys.stdin)["peers"] if p["instance_id"] == 1]
p = p[0] if p else {}
print(p.get("sent", 0), p.get("datagrams_sent") or 0, p.get("datagrams_received") or 0)'
}

# per_message BEFORE AFTER: QUIC datagrams edge 2 sent and received per
# relayed message between two quic_counts ("-" when none was relayed).
per_message() {
  awk -v a="$1" -v b="$2" 'BEGIN { split(a, x); split(b, y); n = y[1] - x[1]
    if (n <= 0) { print "- -"; exit } printf "%.2f %.2f\n", (y[2] - x[2]) / n, (y[3] - x[3]) / n }'
}

# measure MODE: "<cpu_us_per_call> <p50_ms> <p99_ms> <relay_rtt_p50_ms>
# <relay_rtt_p99_ms> <datagrams out per message> <datagrams in per message>".
measure() {
  local mode=$1 before after dir
  # measure runs in a subshell (process substitution): its edges are
  # stopped when it exits, whatever way.
  trap 'stop_fleet' EXIT
  start_fleet "$mode"
  dir=$tmp/run-$mode-$RANDOM
  mkdir -p "$dir"
  # Warm-up: connections and the relay's QUIC connection opened.
  (cd "$dir" && sipp -sf "$ROOT/tests/sipp/core-uac.xml" 127.0.0.3:$SIP -s bob \
    -key other_ip 127.0.0.3 -key other_port $SIP -i 127.0.0.1 -p $ALICE \
    -m 20 -r 20 -timeout 30s >/dev/null 2>&1) || { echo "$mode: warm-up calls failed" >&2; exit 1; }
  rm -f "$dir"/*
  local q0 q1
  q0=$(quic_counts)
  before=$(ticks "${edge_pids[@]}")
  (cd "$dir" && sipp -sf "$ROOT/tests/sipp/core-uac.xml" 127.0.0.3:$SIP -s bob \
    -key other_ip 127.0.0.3 -key other_port $SIP -i 127.0.0.1 -p $ALICE \
    -m "$CALLS" -r "$RATE" -timeout 300s -trace_rtt -rtt_freq 1 >/dev/null 2>&1) \
    || { echo "$mode: not all $CALLS calls succeeded" >&2; exit 1; }
  after=$(ticks "${edge_pids[@]}")
  q1=$(quic_counts)
  local h50 h99
  h50=$(hist_pct "$(admin 2)" 50); h99=$(hist_pct "$(admin 2)" 99)
  stop_fleet
  tail -n +2 "$dir"/*_rtt.csv | awk -F';' 'NF>=2 {print $2}' > "$dir/rt"
  echo "$(( (after - before) * 1000000 / TCK / CALLS )) $(percentile "$dir/rt" 50) $(percentile "$dir/rt" 99) $h50 $h99 $(per_message "$q0" "$q1")"
}

d_cpu=0; r_cpu=0
declare -a d50 d99 r50 r99
for round in $(seq "$ROUNDS"); do
  read -r c p50 p99 _ _ < <(measure direct)
  echo "round $round direct:  $CALLS calls at $RATE/s, edges cpu_us_per_call=$c, INVITE->200 p50=${p50}ms p99=${p99}ms" >&2
  d_cpu=$((d_cpu + c)); d50+=("$p50"); d99+=("$p99")
  read -r c p50 p99 h50 h99 dout din < <(measure relayed)
  echo "round $round relayed: $CALLS calls at $RATE/s, edges cpu_us_per_call=$c, INVITE->200 p50=${p50}ms p99=${p99}ms, relay round trip (bucket bound) p50=${h50}ms p99=${h99}ms, QUIC datagrams per relayed message out=$dout in=$din" >&2
  r_cpu=$((r_cpu + c)); r50+=("$p50"); r99+=("$p99")
done
avg() { printf '%s\n' "$@" | awk '{s+=$1} END {printf "%.3f", s/NR}'; }
printf '%-8s %16s %10s %10s\n' path cpu_us_per_call p50_ms p99_ms
printf '%-8s %16s %10s %10s\n' direct $((d_cpu / ROUNDS)) "$(avg "${d50[@]}")" "$(avg "${d99[@]}")"
printf '%-8s %16s %10s %10s\n' relayed $((r_cpu / ROUNDS)) "$(avg "${r50[@]}")" "$(avg "${r99[@]}")"
echo "added_latency_ms p50=$(awk -v a="$(avg "${r50[@]}")" -v b="$(avg "${d50[@]}")" 'BEGIN{printf "%.3f", a-b}') p99=$(awk -v a="$(avg "${r99[@]}")" -v b="$(avg "${d99[@]}")" 'BEGIN{printf "%.3f", a-b}')"
awk -v r="$r_cpu" -v d="$d_cpu" 'BEGIN { if (d > 0) printf "ratio=%.2f\n", r / d; else print "ratio=nan" }'
