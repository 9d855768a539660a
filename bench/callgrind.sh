#!/usr/bin/env bash
# Instructions per call of one role, counted by callgrind (repeatable on a
# noisy machine: it counts instructions, not seconds), and the ten functions
# that cost the most per call (their own instructions).
#
#   bench/callgrind.sh edge [CALLS] [RATE]
#   bench/callgrind.sh core [CALLS] [RATE]
#
# edge: an edge (tokens on) in front of a sipp UAS, loaded by
# tests/sipp/uac.xml (INVITE, 180, 200, ACK, BYE, 200 along the route set).
# core: a core running deploy/scripts/proxy_default.py; bob registers once,
# then alice calls him (tests/sipp/core-uac.xml against bench/uas-rr.xml).
# Collection is switched on only around the measured calls (after 10
# warm-up calls). Needs valgrind (callgrind_control, callgrind_annotate)
# and sipp. Last line: `callgrind: role=<r> instr_per_call=<n>`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROLE=${1:?edge or core}
CALLS=${2:-200}
RATE=${3:-20}
for t in sipp valgrind callgrind_control callgrind_annotate curl; do
  command -v "$t" >/dev/null || { echo "missing $t (apt-get install sip-tester valgrind curl)" >&2; exit 1; }
done
# shellcheck source=bench/lib.sh
source bench/lib.sh
ANYSIP=$(anysip_bin)
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

PORT=5960; ADMIN=127.0.0.1:5991; UAS_PORT=5970; UAC_PORT=5980
case $ROLE in
  edge)
    cat > "$tmp/role.yaml" <<YAML
server:
  workers: 1
listen:
  udp: [127.0.0.1:$PORT]
admin:
  listen: $ADMIN
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
        - uri: sip:127.0.0.1:$UAS_PORT
          address: 127.0.0.1:$UAS_PORT
edge:
  keys:
    dev: true
YAML
    UAC=(sipp -sf tests/sipp/uac.xml "127.0.0.1:$PORT") ;;
  core)
    cat > "$tmp/role.yaml" <<YAML
role: core
server:
  instance_id: 1
  drain_secs: 0
  workers: 1
listen:
  udp: [127.0.0.1:$PORT]
admin:
  listen: $ADMIN
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
  users:
    bob: bob
YAML
    UAC=(sipp -sf tests/sipp/core-uac.xml "127.0.0.1:$PORT" -s bob -key other_ip 127.0.0.1 -key other_port "$PORT") ;;
  *) echo "role: edge or core" >&2; exit 2 ;;
esac

valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$tmp/cg.out" \
  "$ANYSIP" run -c "$tmp/role.yaml" 2>"$tmp/anysip.log" &
VG=$!; pids+=($VG)
for _ in $(seq 300); do curl -sf "http://$ADMIN/admin/ready" >/dev/null 2>&1 && break; sleep 0.2; done
if [ "$ROLE" = core ]; then
  timeout -k 2 60 sipp -sf tests/sipp/core-register.xml "127.0.0.1:$PORT" -s bob -au bob -ap bob -auth_uri domain.local \
    -i 127.0.0.1 -p "$UAS_PORT" -m 1 -nostdin -timeout 50s >/dev/null 2>&1 || { echo "bob's REGISTER failed" >&2; exit 1; }
fi
sipp -sf bench/uas-rr.xml -i 127.0.0.1 -p "$UAS_PORT" -nostdin -timeout 600s >/dev/null 2>&1 &
pids+=($!)
sleep 0.5
run_calls() { # CALLS RATE
  timeout -k 3 600 "${UAC[@]}" -i 127.0.0.1 -p "$UAC_PORT" -r "$2" -m "$1" -l $(( $2 * 3 )) \
    -default_behaviors all,-abortunexp -nostdin -timeout 500s -recv_timeout 20s >/dev/null 2>&1
}
run_calls 10 5 || { echo "warm-up calls failed" >&2; exit 1; }
callgrind_control -i on "$VG" >/dev/null
ok=yes; run_calls "$CALLS" "$RATE" || ok=no
callgrind_control -i off "$VG" >/dev/null
callgrind_control -d "$VG" >/dev/null
sleep 1
kill "$VG"; wait "$VG" 2>/dev/null || true
out=$(ls "$tmp"/cg.out* | sort | tail -1)
callgrind_annotate --threshold=100 "$out" > "$tmp/annotate.txt" 2>/dev/null
total=$(awk '/PROGRAM TOTALS/ && !t { v = $1; gsub(",", "", v); t = v } END { print t + 0 }' "$tmp/annotate.txt")
echo "$CALLS calls at $RATE/s, all succeeded: $ok; $total instructions" >&2
echo "top ten functions by their own instructions per call:"
awk -v c="$CALLS" '/^ *[0-9,]+ .*[:(]/ && n < 10 { v = $1; gsub(",", "", v); $1 = ""; sub(/^ +/, ""); sub(/ \[.*$/, ""); printf "%10.0f  %s\n", v / c, substr($0, 1, 110); n++ }' "$tmp/annotate.txt"
awk -v t="$total" -v c="$CALLS" -v r="$ROLE" 'BEGIN { printf "callgrind: role=%s instr_per_call=%.0f\n", r, t / c }'
