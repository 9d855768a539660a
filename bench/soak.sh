#!/usr/bin/env bash
# Soak (issue 15): an edge and a core under a steady sipp load for
# SOAK_SECS (default 30 minutes) at half of the highest rate this machine
# sustains with zero failed calls. Passes when no call failed, the resident
# memory of edge+core grew by less than 5 % from minute 5 to the end, the
# core's transactions fell back to about zero once the calls ended (and did
# not grow while they ran), and the open connections did not grow. The
# last line is `soak: calls=<n> failed=<n> rss_growth=<pct>%`; the exit
# status is non-zero when a check fails.
#
#   bench/soak.sh                                 # ramp, then 30 min at half its best rate
#   SOAK_SECS=180 bench/soak.sh                   # a short run
#   SOAK_RATE=400 SOAK_SECS=600 bench/soak.sh     # a fixed rate, no ramp
#   ANYSIP_BIN=/path/to/release/anysip bench/soak.sh   (no build)
#   RAMP="250 500 1000" RAMP_SECS=5 SAMPLE_SECS=10 KEEP_TMP=1 bench/soak.sh
#
# The rate: without SOAK_RATE a short ramp (RAMP, RAMP_SECS per step, about
# a minute, on a pair of processes thrown away afterwards) finds the highest
# rate with zero failed calls, and the soak runs at half of it on a fresh
# pair. SOAK_RATE skips the ramp.
#
# The set-up, all on 127.0.0.1: a core (`role: core`, the shipped
# deploy/scripts/proxy_default.py, in-memory registrar, MD5 digest for
# REGISTER) and an edge in front of it (dev keys, one gateway group whose
# one member is the core over UDP, OPTIONS probes every 5 s). bob registers
# once through the edge with digest (tests/sipp/core-register.xml, its
# Expires raised to outlast the run) and answers as bench/uas-rr.xml; alice
# calls sip:bob@domain.local through the edge (tests/sipp/core-uac.xml: the
# INVITE to the core and back out through the edge to bob, ACK and BYE
# along the route set), -m calls at the rate, each call failing after 8 s
# without its next message (-recv_timeout).
#
# Every SAMPLE_SECS: VmRSS of the edge and of the core (/proc), open
# connections (`connections` of each role's /admin/stats), the core's
# transactions and routing contexts (/metrics), and sipp's successful and
# failed calls (its -trace_stat file). RSS growth is (RSS at the end of the
# load - RSS at the baseline) / RSS at the baseline, for edge+core (each
# shown too); the baseline is the sample at minute 5, or at 1/6 of the run
# when SOAK_SECS < 600 (but not before 60 s: the core's transaction table
# fills up for the first 32 s, 64*T1, of any load, and that is not growth).
# The core's memory has a longer warm-up: its timer heap drops entries
# lazily, when due, so the Timer C entries (3 minutes) of every INVITE
# branch, armed at the INVITE and again at the 180, stay in it after the
# call; the heap grows for the first 180 s of a load (about 64 bytes x rate
# x 180 s, its capacity doubling on the way) and is flat after. A run shorter than about 5 minutes counts that in its growth:
# its figure is an upper bound.
set -euo pipefail
cd "$(dirname "$0")/.."
SOAK_SECS=${SOAK_SECS:-1800}
SAMPLE_SECS=${SAMPLE_SECS:-10}
RAMP=${RAMP:-"250 500 750 1000 1250 1500 2000"}
RAMP_SECS=${RAMP_SECS:-5}
RSS_LIMIT_PCT=5
# Transactions alive when idle may include a few OPTIONS probes (a server
# transaction lingers 32 s after its answer): "about zero" is at most this.
IDLE_TX=${IDLE_TX:-20}

for t in sipp curl awk; do
  command -v "$t" >/dev/null || { echo "missing $t (apt-get install sip-tester curl gawk)" >&2; exit 1; }
done
case $SOAK_SECS in '' | *[!0-9]*) echo "SOAK_SECS must be a number of seconds" >&2; exit 2 ;; esac
[ "$SOAK_SECS" -ge 120 ] || { echo "SOAK_SECS must be at least 120" >&2; exit 2; }
# shellcheck source=bench/lib.sh
source bench/lib.sh
ANYSIP=$(anysip_bin)
[ -x "$ANYSIP" ] || { echo "no anysip binary at $ANYSIP" >&2; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.3
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${KEEP_TMP:-}" ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

EDGE_PORT=5860
CORE_PORT=5870
EDGE_ADMIN=127.0.0.1:5891
CORE_ADMIN=127.0.0.1:5892
UAS_PORT=5880
UAC_PORT=5885
# bob's registration outlives the run (the registrar's max_expires too).
# (at least the registrar's default_expires, 3600).
REG_EXPIRES=$(( SOAK_SECS + 900 > 3600 ? SOAK_SECS + 900 : 3600 ))

cat > "$tmp/core.yaml" <<YAML
role: core
listen:
  udp: [127.0.0.1:$CORE_PORT]
admin:
  listen: $CORE_ADMIN
server:
  instance_id: soak-core
  drain_secs: 0
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
  max_expires: $REG_EXPIRES
auth:
  realm: domain.local
  algorithms: [md5]
  users:
    alice: alice
    bob: bob
YAML

cat > "$tmp/edge.yaml" <<YAML
role: edge
listen:
  udp: [127.0.0.1:$EDGE_PORT]
admin:
  listen: $EDGE_ADMIN
server:
  instance_id: 1
  drain_secs: 0
telemetry:
  log:
    level: warn
gateway:
  groups:
    - name: backends
      algorithm: hash
      probe:
        interval_secs: 5
        timeout_secs: 2
      destinations:
        - uri: sip:127.0.0.1:$CORE_PORT
          address: 127.0.0.1:$CORE_PORT
edge:
  keys:
    dev: true
YAML

sed "s/^\( *\)Expires: 600\$/\1Expires: $REG_EXPIRES/" tests/sipp/core-register.xml > "$tmp/register.xml"
grep -q "Expires: $REG_EXPIRES" "$tmp/register.xml" || { echo "cannot set Expires in the REGISTER scenario" >&2; exit 1; }

ready() { curl -sf -m 2 "http://$1/admin/ready" >/dev/null 2>&1; }

# start_pair TAG: a fresh core and edge, bob registered, the UAS up.
start_pair() {
  "$ANYSIP" run -c "$tmp/core.yaml" 2>"$tmp/core-$1.log" &
  CORE=$!; pids+=($!)
  for _ in $(seq 100); do ready "$CORE_ADMIN" && break; kill -0 "$CORE" 2>/dev/null || break; sleep 0.1; done
  ready "$CORE_ADMIN" || { echo "the core did not start" >&2; tail -20 "$tmp/core-$1.log" >&2; exit 1; }
  "$ANYSIP" run -c "$tmp/edge.yaml" 2>"$tmp/edge-$1.log" &
  EDGE=$!; pids+=($!)
  # Ready once the core answered its probes.
  for _ in $(seq 200); do ready "$EDGE_ADMIN" && break; kill -0 "$EDGE" 2>/dev/null || break; sleep 0.1; done
  ready "$EDGE_ADMIN" || { echo "the edge did not become ready" >&2; tail -20 "$tmp/edge-$1.log" >&2; exit 1; }
  timeout -k 2 15 sipp -sf "$tmp/register.xml" "127.0.0.1:$EDGE_PORT" -s bob -au bob -ap bob -auth_uri domain.local \
    -i 127.0.0.1 -p "$UAS_PORT" -m 1 -nostdin -timeout 12s >/dev/null 2>&1 \
    || { echo "bob's REGISTER through the edge failed" >&2; tail -20 "$tmp/edge-$1.log" "$tmp/core-$1.log" >&2; exit 1; }
  sipp -sf bench/uas-rr.xml -i 127.0.0.1 -p "$UAS_PORT" -nostdin -timeout "$(( SOAK_SECS + 600 ))s" >/dev/null 2>&1 &
  UAS=$!; pids+=($!)
  sleep 0.3
}

stop_pair() {
  kill "$UAS" "$EDGE" "$CORE" 2>/dev/null || true
  sleep 0.5
  kill -9 "$UAS" "$EDGE" "$CORE" 2>/dev/null || true
  wait "$UAS" "$EDGE" "$CORE" 2>/dev/null || true
}

# uac_args RATE CALLS LIMIT_SECS: sets ARGS, timeout(1) and sipp for alice
# calling bob through the edge.
uac_args() {
  rm -f "$tmp/screen.log"
  ARGS=(timeout -k 5 $(( $3 + 15 )) sipp -sf tests/sipp/core-uac.xml "127.0.0.1:$EDGE_PORT" -s bob
    -key other_ip 127.0.0.1 -key other_port "$EDGE_PORT"
    -i 127.0.0.1 -p "$UAC_PORT" -r "$1" -m "$2" -l $(( $1 * 3 ))
    -default_behaviors all,-abortunexp -nostdin -timeout "$3s" -recv_timeout 8s
    -trace_screen -screen_file "$tmp/screen.log")
}

rss_kb() { { [ -r "/proc/$1/status" ] && cat "/proc/$1/status" 2>/dev/null; } | awk '/^VmRSS:/ { v = $2 } END { print v + 0 }'; }
conns() { curl -sf -m 2 "http://$1/admin/stats" 2>/dev/null | sed -n 's/.*"connections":\([0-9]*\).*/\1/p' | grep . || echo NA; }
metric() { { curl -sf -m 2 "http://$1/metrics" 2>/dev/null || true; } | awk -v m="$2" '$1 == m { print $2; f = 1 } END { if (!f) print "NA" }'; }
# sipp's cumulative counters from the last line of its stat file.
stat_col() {
  [ -s "$tmp/stat.csv" ] || { echo 0; return; }
  awk -F';' -v c="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i; next } { v = $k } END { print (k && v != "") ? v : 0 }' "$tmp/stat.csv"
}

# The highest rate with zero failed calls, on a pair thrown away afterwards.
if [ -n "${SOAK_RATE:-}" ]; then
  RATE=$SOAK_RATE
  echo "rate: $RATE calls/s (SOAK_RATE, no ramp)" >&2
else
  start_pair ramp
  best=0
  for r in $RAMP; do
    uac_args "$r" $(( r * RAMP_SECS )) $(( RAMP_SECS + 20 ))
    if "${ARGS[@]}" >/dev/null 2>&1; then
      best=$r; echo "  ramp: $r/s ok" >&2
    else
      f=$(grep -E "Failed call" "$tmp/screen.log" 2>/dev/null | awk '{print $NF}' | tail -1)
      echo "  ramp: $r/s failed calls: ${f:-unknown}" >&2
      break
    fi
  done
  stop_pair
  [ "$best" -gt 0 ] || { echo "no ramp step passed with zero failed calls" >&2; exit 1; }
  RATE=$(( best / 2 ))
  echo "rate: $RATE calls/s (half of $best/s, the highest ramp step with zero failed calls)" >&2
  sleep 1
fi
CALLS=$(( RATE * SOAK_SECS ))

if [ "$SOAK_SECS" -ge 600 ]; then
  BASE_AT=300; BASE_WHY="minute 5"
else
  BASE_AT=$(( SOAK_SECS / 6 )); BASE_WHY="1/6 of the run (SOAK_SECS < 600)"
  if [ "$BASE_AT" -lt 60 ]; then BASE_AT=60; BASE_WHY="60 s (1/6 of a run this short is inside the 32 s warm-up of the transaction table)"; fi
fi

start_pair soak
IDLE_TX0=$(metric "$CORE_ADMIN" anysip_core_transactions)
echo "soak: $CALLS calls at $RATE/s for $SOAK_SECS s, sample every $SAMPLE_SECS s, RSS baseline at $BASE_WHY; idle core transactions $IDLE_TX0; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
t0=$(date +%s)
uac_args "$RATE" "$CALLS" $(( SOAK_SECS + 30 ))
"${ARGS[@]}" -trace_stat -stf "$tmp/stat.csv" -fd "$SAMPLE_SECS" >/dev/null 2>&1 &
SIPP=$!; pids+=($!)

samples=$tmp/samples.tsv
printf 't\trss_edge_kb\trss_core_kb\tconn_edge\tconn_core\tcore_tx\tcore_ctx\tok\tfailed\n' > "$samples"
sample() {
  local t=$(( $(date +%s) - t0 )) line
  line=$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$t" "$(rss_kb "$EDGE")" "$(rss_kb "$CORE")" \
    "$(conns "$EDGE_ADMIN")" "$(conns "$CORE_ADMIN")" \
    "$(metric "$CORE_ADMIN" anysip_core_transactions)" "$(metric "$CORE_ADMIN" anysip_core_contexts)" \
    "$(stat_col 'SuccessfulCall(C)')" "$(stat_col 'FailedCall(C)')")
  echo "$line" >> "$samples"
  echo "$line" | awk -F'\t' '{ printf "  t=%4ss rss edge %6.1f MiB core %6.1f MiB  conns %s/%s  core tx %s ctx %s  calls ok %s failed %s\n", $1, $2/1024, $3/1024, $4, $5, $6, $7, $8, $9 }' >&2
}
next=$SAMPLE_SECS
base_line=
while kill -0 "$SIPP" 2>/dev/null; do
  now=$(( $(date +%s) - t0 ))
  if [ "$now" -ge "$next" ]; then
    sample
    [ -z "$base_line" ] && [ "$now" -ge "$BASE_AT" ] && base_line=$(tail -1 "$samples")
    next=$(( next + SAMPLE_SECS ))
  fi
  sleep 1
done
set +e; wait "$SIPP"; sipp_rc=$?; set -e
sample
end_line=$(tail -1 "$samples")
load_secs=$(( $(date +%s) - t0 ))
[ -n "$base_line" ] || base_line=$end_line
ok=$(stat_col 'SuccessfulCall(C)')
failed=$(stat_col 'FailedCall(C)')
if [ -s "$tmp/screen.log" ]; then
  f=$(grep -E "Failed call" "$tmp/screen.log" | awk '{print $NF}' | tail -1)
  s=$(grep -E "Successful call" "$tmp/screen.log" | awk '{print $NF}' | tail -1)
  [ -n "$f" ] && failed=$f
  [ -n "$s" ] && ok=$s
fi
calls=$(( ok + failed ))
echo "load ended after $load_secs s (sipp exit status $sipp_rc); waiting for the core's transactions to end" >&2

# The transactions of the last calls end 32 s (64*T1) after them.
tx_end=NA
for _ in $(seq 90); do
  tx_end=$(metric "$CORE_ADMIN" anysip_core_transactions)
  [ "$tx_end" != NA ] && [ "$tx_end" -le "$IDLE_TX" ] && break
  sleep 1
done
sample
idle_line=$(tail -1 "$samples")

read -r _ be bc bce bcc btx _ <<<"$(echo "$base_line" | tr '\t' ' ')"
read -r te ee ec ece ecc etx _ <<<"$(echo "$end_line" | tr '\t' ' ')"
read -r _ _ _ ice icc _ <<<"$(echo "$idle_line" | tr '\t' ' ')"
bt=$(echo "$base_line" | cut -f1)
growth() { awk -v a="$1" -v b="$2" 'BEGIN { if (a <= 0) print "nan"; else printf "%.2f", (b - a) / a * 100 }'; }
g_edge=$(growth "$be" "$ee")
g_core=$(growth "$bc" "$ec")
g_all=$(growth $(( be + bc )) $(( ee + ec )))
# Transactions while the calls ran: the peak after the baseline against the baseline.
tx_peak=$(awk -F'\t' -v b="$bt" -v e="$te" 'NR > 1 && $1 >= b && $1 <= e && $6 != "NA" && $6 > m { m = $6 } END { print m + 0 }' "$samples")
conn_peak=$(awk -F'\t' -v b="$bt" 'NR > 1 && $1 >= b { for (i = 4; i <= 5; i++) if ($i != "NA" && $i > m) m = $i } END { print m + 0 }' "$samples")

# What the core dropped, by reason (overload: past its transaction limit,
# answered 503).
drops=$({ curl -sf -m 2 "http://$CORE_ADMIN/metrics" 2>/dev/null || true; } \
  | awk '/^anysip_core_drops_total\{/ && $2 > 0 { r = $1; sub(/.*reason="/, "", r); sub(/".*/, "", r); printf "%s%s=%s", s, r, $2; s = " " }')
echo "core drops: ${drops:-none}" >&2
echo "rss: edge $(( be / 1024 )) -> $(( ee / 1024 )) MiB ($g_edge %), core $(( bc / 1024 )) -> $(( ec / 1024 )) MiB ($g_core %), together $g_all % (t=${bt}s -> t=${te}s)" >&2
echo "core transactions: ${btx} at t=${bt}s, peak ${tx_peak} after it, ${etx} at the end of the load, ${tx_end} after the calls (idle before: ${IDLE_TX0})" >&2
echo "connections (edge/core): ${bce}/${bcc} at t=${bt}s, ${ece}/${ecc} at the end, ${ice}/${icc} after, peak ${conn_peak}" >&2

fail=0
verdict() { # name ok|FAIL detail
  echo "check $1: $2 ($3)"
  [ "$2" = ok ] || fail=1
}
if [ "$failed" = 0 ] && [ "$calls" = "$CALLS" ]; then verdict calls ok "$calls of $CALLS calls, none failed"
else verdict calls FAIL "$calls of $CALLS calls completed, $failed failed; core drops: ${drops:-none}"; fi
if awk -v g="$g_all" -v l="$RSS_LIMIT_PCT" 'BEGIN { exit !(g != "nan" && g < l) }'; then verdict rss ok "growth $g_all % < $RSS_LIMIT_PCT %"
else verdict rss FAIL "growth $g_all % (edge $g_edge %, core $g_core %), limit $RSS_LIMIT_PCT %"; fi
if [ "$tx_end" != NA ] && [ "$tx_end" -le "$IDLE_TX" ]; then verdict transactions-drained ok "$tx_end alive after the calls, at most $IDLE_TX"
else verdict transactions-drained FAIL "$tx_end alive 90 s after the calls, more than $IDLE_TX"; fi
# Steady load: the table's size is rate x lifetime; allow a quarter of noise.
if [ "$btx" != NA ] && awk -v p="$tx_peak" -v b="$btx" 'BEGIN { exit !(p <= b * 1.25 + 50) }'; then verdict transactions-steady ok "peak $tx_peak against $btx at the baseline"
else verdict transactions-steady FAIL "peak $tx_peak against $btx at the baseline"; fi
if [ "$ece" != NA ] && [ "$ecc" != NA ] && [ $(( ece + ecc )) -le $(( bce + bcc )) ] && [ "$conn_peak" -le $(( bce > bcc ? bce : bcc )) ]; then
  verdict connections ok "edge/core ${bce}/${bcc} at the baseline, ${ece}/${ecc} at the end, peak $conn_peak"
else verdict connections FAIL "edge/core ${bce}/${bcc} at the baseline, ${ece}/${ecc} at the end, peak $conn_peak"; fi
echo "soak: calls=$calls failed=$failed rss_growth=${g_all}%"
exit $fail
