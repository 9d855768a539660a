//! A simulated UAC — proxy — UAS network on a virtual clock: the proxy's
//! router calls and resolutions are answered synchronously, its sends are
//! collected per destination, and time only moves when a test says so.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anysip_core::{
    Decision, Flow, Listener, Proxy, ReplyDecision, RequestContext, ResponseContext, Router,
    RouterCallKind, Settings,
};
use bytes::Bytes;
use resolve::{Destination, Transport};
use sip::{Framing, Limits, Message};

pub const PROXY: &str = "192.0.2.1:5060";
pub const UAC: &str = "192.0.2.10:5060";
pub const UAS1: &str = "192.0.2.20:5060";
pub const UAS2: &str = "192.0.2.21:5060";

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

type OnRequest = Box<dyn Fn(&RequestContext) -> Decision + Send + Sync>;
type OnFailure = Box<dyn Fn(&RequestContext, &ResponseContext) -> Decision + Send + Sync>;
type OnReply = Box<dyn Fn(&RequestContext, &ResponseContext) -> ReplyDecision + Send + Sync>;

/// A router made of closures.
pub struct FnRouter {
    pub request: OnRequest,
    pub failure: OnFailure,
    pub reply: OnReply,
}

impl FnRouter {
    pub fn new(request: impl Fn(&RequestContext) -> Decision + Send + Sync + 'static) -> Self {
        FnRouter {
            request: Box::new(request),
            failure: Box::new(|_, _| Decision::Drop),
            reply: Box::new(|_, _| ReplyDecision::Forward),
        }
    }
}

impl Router for FnRouter {
    fn on_request(&self, req: &RequestContext) -> Decision {
        (self.request)(req)
    }
    fn on_reply(&self, req: &RequestContext, resp: &ResponseContext) -> ReplyDecision {
        (self.reply)(req, resp)
    }
    fn on_failure(&self, req: &RequestContext, best: &ResponseContext) -> Decision {
        (self.failure)(req, best)
    }
}

pub fn settings() -> Settings {
    Settings {
        listeners: vec![
            Listener {
                transport: Transport::Udp,
                addr: addr(PROXY),
            },
            Listener {
                transport: Transport::Tcp,
                addr: addr(PROXY),
            },
        ],
        aliases: vec!["proxy.example".into()],
        seed: 7,
        ..Settings::default()
    }
}

/// One message the proxy sent.
#[derive(Debug, Clone)]
pub struct Sent {
    pub to: SocketAddr,
    pub flow: Flow,
    pub msg: Message,
    pub on_error: Option<anysip_core::SendRef>,
}

pub struct Sim {
    pub proxy: Proxy,
    pub now: Instant,
    pub router: Arc<dyn Router>,
    pub sent: VecDeque<Sent>,
    /// Extra destinations per resolved host (RFC 3263 failover tests).
    pub extra_dests: Vec<(String, Vec<SocketAddr>)>,
    pub router_calls: usize,
    /// Keep router calls instead of answering them (see [`Sim::release`]).
    pub hold_router: bool,
    pub held: Vec<anysip_core::RouterCall>,
    /// Registered flows the proxy reported dead (`poll_flow_failed`).
    pub failed_flows: Vec<anysip_core::FailedFlow>,
}

pub fn parse(b: Bytes) -> Message {
    Message::parse(b, Framing::Datagram, &Limits::default()).unwrap()
}

impl Sim {
    pub fn new(router: impl Router) -> Self {
        Self::with(settings(), router)
    }

    pub fn with(settings: Settings, router: impl Router) -> Self {
        Sim {
            proxy: Proxy::new(settings),
            now: Instant::now(),
            router: Arc::new(router),
            sent: VecDeque::new(),
            extra_dests: Vec::new(),
            router_calls: 0,
            hold_router: false,
            held: Vec::new(),
            failed_flows: Vec::new(),
        }
    }

    /// `from` sends `text` to the proxy.
    pub fn send(&mut self, from: &str, text: &str) {
        let flow = Flow {
            transport: Transport::Udp,
            remote: addr(from),
            local: addr(PROXY),
            connection: 0,
        };
        self.proxy
            .handle_bytes(Bytes::copy_from_slice(text.as_bytes()), flow, self.now);
        self.pump();
    }

    /// `from` sends a built message.
    pub fn send_bytes(&mut self, from: &str, b: Bytes) {
        let flow = Flow {
            transport: Transport::Udp,
            remote: addr(from),
            local: addr(PROXY),
            connection: 0,
        };
        self.proxy.handle_bytes(b, flow, self.now);
        self.pump();
    }

    /// `from` sends `text` over a TCP connection with this id.
    pub fn send_tcp(&mut self, from: &str, connection: u32, text: &str) {
        let flow = Flow {
            transport: Transport::Tcp,
            remote: addr(from),
            local: addr(PROXY),
            connection,
        };
        self.proxy
            .handle_bytes(Bytes::copy_from_slice(text.as_bytes()), flow, self.now);
        self.pump();
    }

    /// Answers router calls and resolutions, collects sends, until quiet.
    pub fn pump(&mut self) {
        loop {
            let mut busy = false;
            while let Some(call) = self.proxy.poll_router_call() {
                busy = true;
                self.router_calls += 1;
                if self.hold_router {
                    self.held.push(call);
                    continue;
                }
                match call.kind {
                    RouterCallKind::Request(req) => {
                        let d = self.router.on_request(&req);
                        self.proxy.handle_decision(call.id, d, self.now);
                    }
                    RouterCallKind::Failure(req, best) => {
                        let d = self.router.on_failure(&req, &best);
                        self.proxy.handle_decision(call.id, d, self.now);
                    }
                    RouterCallKind::Reply(req, resp) => {
                        let d = self.router.on_reply(&req, &resp);
                        self.proxy.handle_reply_decision(call.id, d, self.now);
                    }
                }
            }
            while let Some(r) = self.proxy.poll_resolve() {
                busy = true;
                let host = r.target.maddr.clone().unwrap_or(r.target.host.clone());
                let mut dests: Vec<Destination> = match host.parse::<std::net::IpAddr>() {
                    Ok(ip) => vec![Destination {
                        transport: r.target.transport.unwrap_or(Transport::Udp),
                        addr: SocketAddr::new(ip, r.target.port.unwrap_or(5060)),
                    }],
                    Err(_) => Vec::new(),
                };
                for (h, extra) in &self.extra_dests {
                    if *h == host {
                        dests.extend(extra.iter().map(|a| Destination {
                            transport: Transport::Udp,
                            addr: *a,
                        }));
                    }
                }
                self.proxy.handle_resolved(r.id, dests, self.now);
            }
            while let Some(f) = self.proxy.poll_flow_failed() {
                busy = true;
                self.failed_flows.push(f);
            }
            while let Some(t) = self.proxy.poll_transmit() {
                busy = true;
                self.sent.push_back(Sent {
                    to: t.flow.remote,
                    flow: t.flow,
                    msg: parse(t.bytes),
                    on_error: t.on_error,
                });
            }
            if !busy {
                break;
            }
        }
    }

    /// Answers the held router calls (with the router), in order.
    pub fn release(&mut self) {
        self.hold_router = false;
        for call in std::mem::take(&mut self.held) {
            match call.kind {
                RouterCallKind::Request(req) => {
                    let d = self.router.on_request(&req);
                    self.proxy.handle_decision(call.id, d, self.now);
                }
                RouterCallKind::Failure(req, best) => {
                    let d = self.router.on_failure(&req, &best);
                    self.proxy.handle_decision(call.id, d, self.now);
                }
                RouterCallKind::Reply(req, resp) => {
                    let d = self.router.on_reply(&req, &resp);
                    self.proxy.handle_reply_decision(call.id, d, self.now);
                }
            }
        }
        self.pump();
    }

    /// Moves the virtual clock forward by `d`, firing timers on the way.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while let Some(t) = self.proxy.poll_timeout() {
            if t > end {
                break;
            }
            self.now = self.now.max(t);
            self.proxy.handle_timeout(self.now);
            self.pump();
        }
        self.now = end;
    }

    /// Everything sent to `to` since the last call, with its error handle.
    pub fn take_sent(&mut self, to: &str) -> Vec<Sent> {
        let to = addr(to);
        let (mine, rest): (Vec<Sent>, Vec<Sent>) = self.sent.drain(..).partition(|s| s.to == to);
        self.sent = rest.into();
        mine
    }

    /// Everything sent to `to` since the last call, in order.
    pub fn take(&mut self, to: &str) -> Vec<Message> {
        let to = addr(to);
        let (mine, rest): (Vec<Sent>, Vec<Sent>) = self.sent.drain(..).partition(|s| s.to == to);
        self.sent = rest.into();
        mine.into_iter().map(|s| s.msg).collect()
    }

    /// Statuses (responses) or methods (requests) sent to `to`.
    pub fn kinds(&mut self, to: &str) -> Vec<String> {
        self.take(to).iter().map(kind).collect()
    }
}

impl Sim {
    /// Like [`Sim::kinds`], retransmissions (consecutive repeats) folded.
    pub fn kinds_once(&mut self, to: &str) -> Vec<String> {
        let mut k = self.kinds(to);
        k.dedup();
        k
    }
}

pub fn kind(m: &Message) -> String {
    match m.status() {
        Some(s) => s.to_string(),
        None => m
            .method()
            .map(|m| m.as_str().to_string())
            .unwrap_or_default(),
    }
}

/// An INVITE from the UAC.
pub fn invite(ruri: &str, call: &str, extra: &str) -> String {
    request(
        "INVITE",
        ruri,
        call,
        &format!("z9hG4bK-{call}"),
        1,
        "",
        extra,
    )
}

/// A request from the UAC.
pub fn request(
    method: &str,
    ruri: &str,
    call: &str,
    branch: &str,
    cseq: u32,
    to_tag: &str,
    extra: &str,
) -> String {
    let to_tag = if to_tag.is_empty() {
        String::new()
    } else {
        format!(";tag={to_tag}")
    };
    format!(
        "{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP {UAC};branch={branch};rport\r\nMax-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>{to_tag}\r\nCall-ID: {call}\r\nCSeq: {cseq} {method}\r\nContact: <sip:alice@{UAC}>\r\n{extra}Content-Length: 0\r\n\r\n"
    )
}

/// A UAS's response to a request it received (Record-Route copied).
pub fn answer(req: &Message, status: u16, tag: &str, extra: &[(&str, &str)]) -> Bytes {
    let mut b = sip::response::response(req, status).unwrap().to_tag(tag);
    for rr in req
        .headers()
        .filter(|h| h.name == sip::HeaderName::RecordRoute)
    {
        b = b.header("Record-Route", rr.value);
    }
    for (n, v) in extra {
        b = b.header(n, v);
    }
    b.build()
}

/// Relay everything as it is (Record-Route on).
pub fn relay_rr() -> Decision {
    Decision::Relay {
        edits: anysip_core::Edits {
            record_route: true,
            ..Default::default()
        },
        next_hop: None,
        hooks: None,
    }
}
