// A WebRTC SIP user agent (SIP.js) in Node, for proxy/anysip/tests/webrtc.rs.
//
// Node has no RTCPeerConnection, so the session description handler is
// SIP.js's documented extension point: a factory whose handler offers and
// answers a fixed plain-audio SDP. Everything else (WebSocket transport with
// the `sip` subprotocol, digest authentication, registration, INVITE
// dialogs, BYE) is SIP.js's own. Node 20 has no global WebSocket: the `ws`
// package provides it.
//
// Usage: node ua.mjs SERVER USER PASSWORD DOMAIN CALLEE
// Registers USER@DOMAIN over SERVER (ws:// or wss://; a test CA comes in
// NODE_EXTRA_CA_CERTS), answers one incoming call and waits for the
// caller's BYE, then calls CALLEE and hangs up itself, unregisters and
// exits 0. Each step is printed as one line on stdout; any failure, or 60 s
// in all, exits 1.

import WebSocket from "ws";
import {
  Inviter,
  Registerer,
  RegistererState,
  SessionState,
  UserAgent,
} from "sip.js";

globalThis.WebSocket = WebSocket;

const [server, user, password, domain, callee] = process.argv.slice(2);
if (!callee) {
  console.error("usage: node ua.mjs SERVER USER PASSWORD DOMAIN CALLEE");
  process.exit(2);
}

const step = (s) => console.log(s);
const fail = (why) => {
  console.log(`failed: ${why}`);
  process.exit(1);
};
setTimeout(() => fail("60 s passed"), 60_000).unref();

/** A session description handler with a fixed plain SDP (no media engine). */
class PlainSdp {
  constructor() {
    this.remote = undefined;
  }
  close() {}
  async getDescription() {
    const id = Date.now();
    const body = [
      "v=0",
      `o=sipjs ${id} ${id} IN IP4 127.0.0.1`,
      "s=-",
      "c=IN IP4 127.0.0.1",
      "t=0 0",
      "m=audio 40000 RTP/AVP 0",
      "a=rtpmap:0 PCMU/8000",
      "a=sendrecv",
      "",
    ].join("\r\n");
    return { body, contentType: "application/sdp" };
  }
  hasDescription(contentType) {
    return contentType === "application/sdp";
  }
  async setDescription(sdp) {
    if (!/^v=0/m.test(sdp) || !/^m=audio /m.test(sdp)) {
      throw new Error(`not an audio SDP: ${sdp}`);
    }
    this.remote = sdp;
  }
  sendDtmf() {
    return false;
  }
}

/** Resolves when `session` reaches `state`. */
function reached(session, state) {
  return new Promise((resolve) => {
    if (session.state === state) {
      resolve();
      return;
    }
    session.stateChange.addListener((s) => {
      if (s === state) resolve();
    });
  });
}

let incoming;
const invited = new Promise((resolve) => {
  incoming = resolve;
});

const ua = new UserAgent({
  uri: UserAgent.makeURI(`sip:${user}@${domain}`),
  authorizationUsername: user,
  authorizationPassword: password,
  transportOptions: { server },
  sessionDescriptionHandlerFactory: () => new PlainSdp(),
  logLevel: "warn",
  delegate: {
    onInvite: (invitation) => incoming(invitation),
  },
});

try {
  await ua.start();
  step("connected");
  const registerer = new Registerer(ua, { expires: 300 });
  const registered = new Promise((resolve, reject) => {
    registerer.stateChange.addListener((s) => {
      if (s === RegistererState.Registered) resolve();
    });
    setTimeout(() => reject(new Error("not registered within 10 s")), 10_000).unref();
  });
  await registerer.register({
    requestDelegate: {
      onReject: (r) => fail(`REGISTER rejected: ${r.message.statusCode}`),
    },
  });
  await registered;
  step("registered");

  // Called: answer, then the caller hangs up.
  const invitation = await invited;
  step(`invited by ${invitation.remoteIdentity.uri.user}`);
  await invitation.accept();
  await reached(invitation, SessionState.Established);
  step("answered");
  await reached(invitation, SessionState.Terminated);
  step("remote bye");

  // Calling: the callee answers, then this side hangs up.
  const inviter = new Inviter(ua, UserAgent.makeURI(callee));
  const established = reached(inviter, SessionState.Established);
  await inviter.invite({
    requestDelegate: {
      onReject: (r) => fail(`INVITE rejected: ${r.message.statusCode}`),
    },
  });
  await established;
  step("established");
  await new Promise((r) => setTimeout(r, 300));
  const ended = reached(inviter, SessionState.Terminated);
  await new Promise((resolve) => {
    inviter
      .bye({
        requestDelegate: {
          onAccept: () => resolve(),
          onReject: (r) => fail(`BYE rejected: ${r.message.statusCode}`),
        },
      })
      .catch((e) => fail(String(e)));
  });
  step("bye accepted");
  await ended;
  step("local bye");

  const unregistered = new Promise((resolve) => {
    registerer.stateChange.addListener((s) => {
      if (s === RegistererState.Unregistered) resolve();
    });
  });
  await registerer.unregister();
  await unregistered;
  step("unregistered");
  await ua.stop();
  step("done");
  process.exit(0);
} catch (e) {
  fail(e && e.stack ? e.stack : String(e));
}
