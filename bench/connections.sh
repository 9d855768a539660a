#!/usr/bin/env bash
# Idle stream connections held by one edge: UEs that keep a TCP, TLS or
# WebSocket connection open with RFC 5626 CRLF keepalives and otherwise send
# nothing.
# For each kind: the edge's resident memory per connection and the accept
# rate (connections per second, each one's keepalive answered).
#
#   bench/connections.sh                # 3000 TCP, 3000 TLS, 3000 WebSocket
#   CONNS=3000 BATCH=200 bench/connections.sh
#
# A Python client opens CONNS TCP connections in batches of BATCH
# concurrent ones, sends a CRLF CRLF ping on each and reads the CRLF pong,
# then the same over TLS (a throwaway self-signed certificate), then over
# WebSocket (RFC 7118: the Upgrade with the sip subprotocol, the ping in a
# masked text frame, the pong in a text frame), holding every connection
# open. The edge's VmRSS (/proc/PID/status) is read
# before and after each kind, once the edge has settled. Only RSS is
# reported: each connection also costs kernel socket memory, which is not
# in it. Everything runs on 127.0.0.1; every wait is bounded.
#
# Last line: conns: tcp_kb=<KB per TCP connection> tls_kb=<KB per TLS connection> ws_kb=<KB per WebSocket connection>
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${CONNS:-3000}
BATCH=${BATCH:-200}
SETTLE=${SETTLE:-2}

for t in python3 openssl curl; do
  command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 1; }
done
# The client and the edge each hold a descriptor per connection of the
# three kinds (the limit is inherited by both from this shell).
need=$(( 6 * CONNS + 512 ))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
  echo "CONNS=$CONNS needs $need file descriptors; the hard limit is $hard" >&2
  exit 1
fi
ulimit -n "$need"

cargo build -q --release -p anysip
ANYSIP=${CARGO_TARGET_DIR:-$(pwd)/target}/release/anysip
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

UDP=127.0.0.1:5760
TCP=127.0.0.1:5760
TLS=127.0.0.1:5761
WS=127.0.0.1:5763
BACKEND=127.0.0.1:5770
ADMIN=127.0.0.1:5791

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj /CN=localhost -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null

cat > "$tmp/edge.yaml" <<YAML
listen:
  udp: [$UDP]
  tcp: [$TCP]
  tls: [$TLS]
  ws: [$WS]
tls:
  cert: $tmp/cert.pem
  key: $tmp/key.pem
admin:
  listen: $ADMIN
telemetry:
  log:
    level: error
limits:
  max_connections: $(( 2 * CONNS + 1000 ))
gateway:
  groups:
    - name: backends
      algorithm: hash
      probe:
        enabled: false
      destinations:
        - uri: sip:$BACKEND
          address: $BACKEND
edge:
  keys:
    dev: true
YAML

cat > "$tmp/client.py" <<'PY'
# Opens N connections of one kind in batches, ping/pong on each, holds
# them; prints "<kind> opened=<n> secs=<s> rss_before=<kB> rss_after=<kB>".
import asyncio, ssl, sys, time

pid, host, tcp_port, tls_port, ws_port, n, batch, settle = sys.argv[1:9]
n, batch, settle = int(n), int(batch), float(settle)

def rss_kb():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit("edge gone")

async def one(port, ctx):
    r, w = await asyncio.open_connection(host, port, ssl=ctx,
                                         server_hostname="localhost" if ctx else None)
    w.write(b"\r\n\r\n")
    await w.drain()
    pong = await r.readexactly(2)
    if pong != b"\r\n":
        raise ValueError(f"pong {pong!r}")
    return w

UPGRADE = (b"GET / HTTP/1.1\r\nHost: edge\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
           b"Sec-WebSocket-Protocol: sip\r\n\r\n")
MASK = b"\x12\x34\x56\x78"
PING = bytes([0x81, 0x80 | 4]) + MASK + bytes(b ^ MASK[i % 4] for i, b in enumerate(b"\r\n\r\n"))

async def one_ws(port, _ctx):
    r, w = await asyncio.open_connection(host, port)
    w.write(UPGRADE)
    await w.drain()
    head = await r.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise ValueError(f"upgrade {head[:40]!r}")
    w.write(PING)
    await w.drain()
    pong = await r.readexactly(4)
    if pong != b"\x81\x02\r\n":
        raise ValueError(f"pong {pong!r}")
    return w

async def phase(kind, port, ctx, held, opener=one):
    before = rss_kb()
    failed = 0
    t0 = time.monotonic()
    for start in range(0, n, batch):
        k = min(batch, n - start)
        got = await asyncio.gather(
            *(asyncio.wait_for(opener(port, ctx), 15) for _ in range(k)),
            return_exceptions=True)
        for g in got:
            if isinstance(g, BaseException):
                failed += 1
            else:
                held.append(g)
    secs = time.monotonic() - t0
    await asyncio.sleep(settle)
    print(f"{kind} opened={n - failed} failed={failed} secs={secs:.3f} "
          f"rss_before={before} rss_after={rss_kb()}", flush=True)

async def main():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    held = []
    await phase("tcp", int(tcp_port), None, held)
    await phase("tls", int(tls_port), ctx, held)
    await phase("ws", int(ws_port), None, held, one_ws)
    for w in held:
        w.transport.abort()

asyncio.run(main())
PY

"$ANYSIP" run -c "$tmp/edge.yaml" 2>"$tmp/anysip.log" &
EDGE_PID=$!; pids+=($!)
for _ in $(seq 100); do
  curl -sf "http://$ADMIN/admin/ready" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf "http://$ADMIN/admin/ready" >/dev/null || { echo "edge not ready" >&2; cat "$tmp/anysip.log" >&2; exit 1; }
sleep "$SETTLE"

timeout $(( CONNS / 20 + 120 )) python3 "$tmp/client.py" "$EDGE_PID" 127.0.0.1 "${TCP##*:}" "${TLS##*:}" "${WS##*:}" \
  "$CONNS" "$BATCH" "$SETTLE" > "$tmp/result.txt"
cat "$tmp/result.txt" >&2

# field KIND NAME: a value from the client's line for KIND.
field() { awk -v k="$1" -v f="$2" '$1 == k { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == f) print kv[2] } }' "$tmp/result.txt"; }
for kind in tcp tls ws; do
  [ "$(field "$kind" failed)" = 0 ] || echo "warning: $(field "$kind" failed) $kind connections failed" >&2
done

printf '%-5s %8s %12s %12s %14s %12s\n' kind conns rss_before rss_after kb_per_conn conns_per_s
declare -A KB
for kind in tcp tls ws; do
  opened=$(field "$kind" opened)
  before=$(field "$kind" rss_before)
  after=$(field "$kind" rss_after)
  secs=$(field "$kind" secs)
  KB[$kind]=$(awk -v a="$after" -v b="$before" -v n="$opened" 'BEGIN { printf "%.1f", n ? (a - b) / n : 0 }')
  rate=$(awk -v n="$opened" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
  printf '%-5s %8s %10s kB %10s kB %14s %12s\n' "$kind" "$opened" "$before" "$after" "${KB[$kind]}" "$rate"
done
echo "conns: tcp_kb=${KB[tcp]} tls_kb=${KB[tls]} ws_kb=${KB[ws]}"
