// A HEP collector for the tests: decodes every datagram it receives on
// 127.0.0.1:PORT with hep-js (the Homer project's HEP library) and prints
// one JSON line per packet on stdout, until it is killed.
import { createSocket } from "node:dgram";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const hep = require("hep-js");

const port = Number(process.argv[2]);
const sock = createSocket("udp4");
sock.on("message", (msg) => {
  const d = hep.decapsulate(msg);
  if (!d || !d.rcinfo) {
    console.log(JSON.stringify({ ok: false, length: msg.length }));
    return;
  }
  const r = d.rcinfo;
  const payload = d.payload || "";
  console.log(
    JSON.stringify({
      ok: true,
      family: r.protocolFamily,
      protocol: r.protocol,
      src: `${r.srcIp}:${r.srcPort}`,
      dst: `${r.dstIp}:${r.dstPort}`,
      seconds: r.timeSeconds,
      type: r.payloadType,
      captureId: r.captureId,
      password: r.capturePass,
      firstLine: payload.split("\r\n")[0],
      callId: (payload.match(/^Call-ID:\s*(.*)$/im) || [])[1] || "",
    }),
  );
});
sock.bind(port, "127.0.0.1", () => console.log(JSON.stringify({ listening: port })));
