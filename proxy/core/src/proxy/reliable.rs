//! Reliable provisional responses (RFC 3262 §3) that the proxy sends as a
//! UAS, when a router answers an INVITE with a 101–199 [`Reply`] marked
//! `reliable`.
//!
//! | event                                   | action                                   |
//! |-----------------------------------------|------------------------------------------|
//! | reliable 1xx, INVITE lists `100rel` (Supported or Require) | `Require: 100rel` (merged), `RSeq`, Contact and Record-Route added; sent; retransmitted after T1, 2·T1, 4·T1, ... |
//! | reliable 1xx, no `100rel` or not INVITE | sent unreliably, warned once per reason, counted `unreliable` |
//! | reliable 1xx while one is unacknowledged | waits for that one's PRACK (one at a time) |
//! | PRACK of the dialog, RAck matches       | 200; retransmissions stop; the next waiting 1xx goes |
//! | PRACK of the dialog, RAck matches nothing unacknowledged | 481 |
//! | PRACK of the dialog without a valid RAck | 400 |
//! | PRACK of another dialog                 | routed like any request (not ours)       |
//! | final response sent                     | retransmissions stop; PRACKs still get 200 |
//! | 64·T1 without the PRACK                 | the INVITE is answered 500 "No PRACK Received" (unless answered already) |
//!
//! A record lives for 64·T1 after the last reliable 1xx it sent, so that
//! PRACKs arriving after a final response are still answered. The first
//! RSeq is a hash of the proxy's seed and a counter, in 1..2^31-1 (§3);
//! each further reliable 1xx of the transaction adds one.
//!
//! A 2xx may not go upstream while a reliable 1xx that carried a session
//! description is unacknowledged (§3); no 2xx can follow such a 1xx here,
//! since the reply was the request's decision and no branch exists.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip::transaction::Transaction;
use sip::{HeaderName, Message, Method};

use super::ids::{CtxId, RelId, Table, TxId};
use super::state::TimerKey;
use super::{build, local, Proxy};
use crate::decision::Reply;
use crate::router::RequestContext;

/// The reason phrase of the 500 sent when no PRACK came (§3: "SHOULD
/// reject the original request with a 5xx response").
pub const NO_PRACK_REASON: &str = "No PRACK Received";

/// The largest first RSeq (§3: "between 1 and 2**31 - 1").
const MAX_FIRST_RSEQ: u64 = (1 << 31) - 1;

/// A dialog of ours, as a PRACK names it: its Call-ID and our To tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct DialogKey {
    call_id: String,
    local_tag: String,
}

/// The RAck header (RFC 3262 §7.2): `response-num CSeq-num Method`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RAck {
    /// The RSeq of the response acknowledged.
    pub rseq: u32,
    /// The CSeq number of the request it answered.
    pub cseq: u32,
    /// The CSeq method of the request it answered.
    pub method: Method,
}

impl RAck {
    /// Parses a RAck value; `None` when it is not one.
    pub fn parse(s: &str) -> Option<RAck> {
        let mut it = s.split_ascii_whitespace();
        let num = |t: Option<&str>| {
            t.filter(|t| t.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|t| t.parse::<u32>().ok())
        };
        let rseq = num(it.next()).filter(|n| *n > 0)?;
        let cseq = num(it.next())?;
        let method = it.next().filter(|m| is_token(m))?;
        if it.next().is_some() {
            return None;
        }
        Some(RAck {
            rseq,
            cseq,
            method: Method::from_token(method),
        })
    }
}

/// RFC 3261 §25.1 `token`.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
}

/// The reliable provisional response awaiting its PRACK.
#[derive(Debug)]
struct Unacked {
    rseq: u32,
    status: u16,
    bytes: Bytes,
    /// When it was first sent: 64·T1 later the request is rejected.
    sent: Instant,
    /// The interval until the next retransmission.
    interval: Duration,
    /// The next retransmission; `None` once they stopped (a final
    /// response went, or the server transaction refused one).
    next: Option<Instant>,
}

/// One INVITE answered reliably: its early dialog and its reliable 1xx.
#[derive(Debug)]
struct Record {
    ctx: CtxId,
    server: TxId,
    key: DialogKey,
    remote_tag: String,
    cseq: u32,
    /// The RSeq of the next reliable 1xx.
    next_rseq: u32,
    unacked: Option<Unacked>,
    /// Reliable 1xx waiting for the unacknowledged one's PRACK (§3: "MUST
    /// NOT send a second reliable provisional response until the first is
    /// acknowledged").
    waiting: VecDeque<Reply>,
    /// 64·T1 after the last reliable 1xx: the record goes then.
    linger: Instant,
    /// The deadline pushed on the timer heap last.
    armed: Option<Instant>,
}

impl Record {
    /// The earliest thing due.
    fn next_deadline(&self, t64: Duration) -> Instant {
        match &self.unacked {
            Some(u) => {
                let give_up = u.sent + t64;
                u.next.map_or(give_up, |n| n.min(give_up))
            }
            None => self.linger,
        }
    }
}

/// Why a reliable 1xx goes out unreliably.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unreliable {
    NotInvite,
    No100rel,
}

impl Unreliable {
    fn message(self) -> &'static str {
        match self {
            Unreliable::NotInvite => {
                "reliable provisional response asked for a request that is not an INVITE (RFC 3262): sent unreliably"
            }
            Unreliable::No100rel => {
                "reliable provisional response asked but the UAC did not list 100rel in Supported or Require (RFC 3262): sent unreliably"
            }
        }
    }
}

/// The proxy's reliable-provisional records.
#[derive(Debug, Default)]
pub(super) struct Reliables {
    records: Table<RelId, Record>,
    dialogs: HashMap<DialogKey, RelId>,
    /// Reasons already warned about (once each).
    warned: Vec<Unreliable>,
}

impl Reliables {
    pub(super) fn len(&self) -> usize {
        self.records.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Whether a timer entry for `id` at `at` is the one armed.
    pub(super) fn is_armed(&self, id: RelId, at: Instant) -> bool {
        self.records.get(id).is_some_and(|r| r.armed == Some(at))
    }
}

/// `Require` with `100rel` merged in, `RSeq`, and (unless the router gave
/// them) Contact and the request's Record-Route (§12.1.1: the 1xx makes an
/// early dialog).
fn decorate(r: &Reply, req: &RequestContext, rseq: u32, contact: String) -> Reply {
    let mut out = r.clone();
    let named = |n: &str, names: &[&str]| names.iter().any(|x| n.eq_ignore_ascii_case(x));
    out.headers.retain(|(n, _)| !named(n, &["RSeq"]));
    let has_100rel = out.headers.iter().any(|(n, v)| {
        named(n, &["Require"])
            && v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("100rel"))
    });
    if !has_100rel {
        match out.headers.iter_mut().find(|(n, _)| named(n, &["Require"])) {
            Some((_, v)) if !v.trim().is_empty() => v.push_str(", 100rel"),
            Some((_, v)) => *v = "100rel".into(),
            None => out.headers.push(("Require".into(), "100rel".into())),
        }
    }
    out.headers.push(("RSeq".into(), rseq.to_string()));
    if !out.headers.iter().any(|(n, _)| named(n, &["Contact", "m"])) {
        out.headers.push(("Contact".into(), contact));
    }
    if !out.headers.iter().any(|(n, _)| named(n, &["Record-Route"])) {
        for rr in req
            .message
            .headers()
            .filter(|h| h.name == HeaderName::RecordRoute)
        {
            out.headers
                .push(("Record-Route".into(), rr.value.to_owned()));
        }
    }
    out
}

/// Why `req` cannot be answered reliably, if it cannot.
fn refusal(req: &Message) -> Option<Unreliable> {
    if req.method() != Some(&Method::Invite) {
        return Some(Unreliable::NotInvite);
    }
    let is_100rel =
        |t: Result<&str, sip::HeaderError>| t.is_ok_and(|t| t.eq_ignore_ascii_case("100rel"));
    if req.supported().any(is_100rel) || req.require().any(is_100rel) {
        None
    } else {
        Some(Unreliable::No100rel)
    }
}

impl Proxy {
    /// A router's reliable 101–199 `r` for context `ctx` (RFC 3262 §3).
    pub(super) fn reply_reliably(&mut self, ctx: CtxId, r: &Reply, now: Instant) {
        let Some(c) = self.contexts.get(ctx) else {
            return;
        };
        let req = c.req.clone();
        if let Some(why) = refusal(&req.message) {
            *self
                .stats
                .reliable_provisionals
                .entry("unreliable")
                .or_default() += 1;
            if !self.reliables.warned.contains(&why) {
                self.reliables.warned.push(why);
                tracing::warn!("{}", why.message());
            } else {
                tracing::debug!("{}", why.message());
            }
            let plain = Reply {
                reliable: false,
                ..r.clone()
            };
            return self.reply_ctx(ctx, &req.message, &plain, now);
        }
        // §3: no new reliable 1xx after a final response.
        let (Some(server), false) = (c.server, c.is_answered()) else {
            return;
        };
        if let Some(id) = c.reliable {
            if let Some(rec) = self.reliables.records.get_mut(id) {
                if rec.unacked.is_some() {
                    rec.waiting.push_back(r.clone());
                    return;
                }
            }
        }
        self.send_reliable(ctx, server, &req, r, now);
    }

    /// Sends `r` reliably on `server`, `ctx`'s server transaction.
    fn send_reliable(
        &mut self,
        ctx: CtxId,
        server: TxId,
        req: &RequestContext,
        r: &Reply,
        now: Instant,
    ) {
        let (existing, old_tag) = self
            .contexts
            .get(ctx)
            .map(|c| (c.reliable, c.to_tag.clone()))
            .unwrap_or_default();
        let (rseq, tag) = match existing.and_then(|id| self.reliables.records.get(id)) {
            Some(rec) => (rec.next_rseq, rec.key.local_tag.clone()),
            None => {
                let tag = old_tag.unwrap_or_else(|| self.new_tag());
                (self.first_rseq(), tag)
            }
        };
        let contact = local::contact_uri(&self.settings, req.transport, req.local);
        let reply = decorate(r, req, rseq, contact);
        let server_header = self.settings.server_header.as_deref();
        let built = build::reply(&req.message, &reply, &tag, server_header)
            .and_then(|b| Ok((build::reparse(b.clone())?, b)));
        let (resp, bytes) = match built {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!(error = %e, "cannot build a reliable provisional response");
                return self.stats.drop("unanswerable");
            }
        };
        // The router may have chosen the tag (its own To).
        let local_tag = resp.to_tag().unwrap_or(&tag).to_owned();
        if !self.send_on_server_tx(server, r.status, bytes.clone(), now) {
            return;
        }
        *self.stats.reliable_provisionals.entry("sent").or_default() += 1;
        let t1 = self.settings.timers.t1;
        let t64 = self.settings.timers.transaction_timeout();
        let unacked = Unacked {
            rseq,
            status: r.status,
            bytes,
            sent: now,
            interval: t1,
            next: Some(now + t1),
        };
        let id = match existing.filter(|id| self.reliables.records.get(*id).is_some()) {
            Some(id) => id,
            None => {
                let msg = &req.message;
                let key = DialogKey {
                    call_id: msg.call_id().unwrap_or_default().to_owned(),
                    local_tag,
                };
                let rec = Record {
                    ctx,
                    server,
                    key: key.clone(),
                    remote_tag: msg.from_tag().unwrap_or_default().to_owned(),
                    cseq: msg.cseq().map(|c| c.seq).unwrap_or_default(),
                    next_rseq: rseq,
                    unacked: None,
                    waiting: VecDeque::new(),
                    linger: now,
                    armed: None,
                };
                let id = self.reliables.records.insert(rec);
                if let Some(c) = self.contexts.get_mut(ctx) {
                    c.reliable = Some(id);
                    c.to_tag = Some(key.local_tag.clone());
                }
                self.reliables.dialogs.insert(key, id);
                id
            }
        };
        if let Some(rec) = self.reliables.records.get_mut(id) {
            rec.next_rseq = rseq.wrapping_add(1).max(1);
            rec.unacked = Some(unacked);
            rec.linger = now + t64;
        }
        self.arm_reliable(id);
    }

    /// A first RSeq in 1..2^31-1 (§3), from the seed and a counter.
    fn first_rseq(&mut self) -> u32 {
        let n = self.uniq();
        let h = super::route::fnv(&[&self.settings.seed.to_be_bytes(), b"rseq", &n.to_be_bytes()]);
        u32::try_from(h % MAX_FIRST_RSEQ + 1).unwrap_or(1)
    }

    /// Puts record `id`'s next deadline on the timer heap, if earlier than
    /// the one there.
    fn arm_reliable(&mut self, id: RelId) {
        let t64 = self.settings.timers.transaction_timeout();
        let Some(rec) = self.reliables.records.get_mut(id) else {
            return;
        };
        let next = rec.next_deadline(t64);
        if rec.armed.is_none_or(|a| next < a) {
            rec.armed = Some(next);
            self.timers
                .push(std::cmp::Reverse((next, TimerKey::Reliable(id))));
            self.compact_timers();
        }
    }

    /// Record `id`'s timer, armed for `at`, is due at `now`:
    /// retransmission, giving up (500), or the end of its life.
    pub(super) fn reliable_timeout(&mut self, id: RelId, at: Instant, now: Instant) {
        let t64 = self.settings.timers.transaction_timeout();
        let Some(rec) = self.reliables.records.get_mut(id) else {
            return;
        };
        if rec.armed == Some(at) {
            rec.armed = None;
        }
        let ctx = rec.ctx;
        let answered = self.contexts.get(ctx).is_none_or(|c| c.is_answered());
        let mut give_up = false;
        let mut resend = None;
        if let Some(u) = &mut rec.unacked {
            if now >= u.sent + t64 {
                give_up = true;
            } else if u.next.is_some_and(|n| n <= now) {
                if answered {
                    // §3: no retransmissions after a final response.
                    u.next = None;
                } else {
                    resend = Some((rec.server, u.status, u.bytes.clone()));
                    u.interval = u.interval.saturating_mul(2);
                    u.next = u.next.map(|n| n + u.interval);
                }
            }
        }
        if give_up {
            rec.unacked = None;
            rec.waiting.clear();
            *self
                .stats
                .reliable_provisionals
                .entry("timed_out")
                .or_default() += 1;
            if !answered {
                tracing::info!("no PRACK for a reliable provisional response in 64*T1: 500");
                if let Some(c) = self.contexts.get(ctx) {
                    let req = c.req.clone();
                    let r = Reply {
                        reason: Some(NO_PRACK_REASON.into()),
                        ..Reply::status(500)
                    };
                    self.reply_ctx(ctx, &req.message, &r, now);
                    self.maybe_cleanup(ctx);
                }
            }
        }
        if let Some((server, status, bytes)) = resend {
            if self.resend_on_server_tx(server, status, bytes, now) {
                *self
                    .stats
                    .reliable_provisionals
                    .entry("retransmitted")
                    .or_default() += 1;
            } else if let Some(u) = self
                .reliables
                .records
                .get_mut(id)
                .and_then(|r| r.unacked.as_mut())
            {
                u.next = None;
            }
        }
        let done = self
            .reliables
            .records
            .get(id)
            .is_some_and(|r| r.unacked.is_none() && r.linger <= now);
        if done {
            self.remove_reliable(id);
        } else {
            self.arm_reliable(id);
        }
    }

    fn remove_reliable(&mut self, id: RelId) {
        let Some(rec) = self.reliables.records.remove(id) else {
            return;
        };
        if self.reliables.dialogs.get(&rec.key) == Some(&id) {
            self.reliables.dialogs.remove(&rec.key);
        }
        if let Some(c) = self.contexts.get_mut(rec.ctx) {
            if c.reliable == Some(id) {
                c.reliable = None;
            }
        }
    }

    /// A PRACK: answered here (200, 481 or 400) when it belongs to an
    /// early dialog of a reliable 1xx of ours; `false` when it is someone
    /// else's (routed as usual).
    pub(super) fn handle_prack(&mut self, msg: &Message, tx: TxId, now: Instant) -> bool {
        let key = DialogKey {
            call_id: msg.call_id().unwrap_or_default().to_owned(),
            local_tag: msg.to_tag().unwrap_or_default().to_owned(),
        };
        let Some(&id) = self.reliables.dialogs.get(&key) else {
            return false;
        };
        let Some(rack) = msg.header_by_name("RAck").and_then(RAck::parse) else {
            let r = Reply {
                reason: Some("Missing or Bad RAck".into()),
                ..Reply::status(400)
            };
            self.reply_tx(tx, msg, &r, now);
            return true;
        };
        let remote_tag = msg.from_tag().unwrap_or_default();
        let matched = self.reliables.records.get_mut(id).and_then(|rec| {
            let ok = rec.remote_tag == remote_tag
                && rack.method == Method::Invite
                && rack.cseq == rec.cseq
                && rec.unacked.as_ref().is_some_and(|u| u.rseq == rack.rseq);
            ok.then(|| {
                rec.unacked = None;
                (rec.ctx, rec.server, rec.waiting.pop_front())
            })
        });
        let Some((ctx, server, next)) = matched else {
            *self
                .stats
                .reliable_provisionals
                .entry("unmatched_prack")
                .or_default() += 1;
            self.reply_tx(tx, msg, &Reply::status(481), now);
            return true;
        };
        *self
            .stats
            .reliable_provisionals
            .entry("acknowledged")
            .or_default() += 1;
        self.reply_tx(tx, msg, &Reply::status(200), now);
        let live = self
            .contexts
            .get(ctx)
            .filter(|c| !c.is_answered())
            .map(|c| c.req.clone());
        match (next, live) {
            (Some(r), Some(req)) => self.send_reliable(ctx, server, &req, &r, now),
            _ => self.arm_reliable(id),
        }
        true
    }

    /// A retransmission of a response on a server transaction (not counted
    /// as a reply); `false` when the transaction is gone or refused it.
    fn resend_on_server_tx(&mut self, tx: TxId, status: u16, bytes: Bytes, now: Instant) -> bool {
        let Some(t) = self.txs.get_mut(tx) else {
            return false;
        };
        let Transaction::ServerInvite(m) = &mut t.machine else {
            return false;
        };
        if m.send_response(now, status, bytes).is_err() {
            return false;
        }
        self.drive(tx, now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::{Flow, Pending, RouterCallKind};
    use crate::settings::{Listener, Settings};
    use crate::Decision;

    fn parse(b: Bytes) -> Message {
        Message::parse(b, sip::Framing::Datagram, &sip::Limits::default()).unwrap()
    }

    /// A second reliable 1xx waits for the first one's PRACK (§3), then
    /// goes with the next RSeq in the same early dialog.
    #[test]
    fn a_second_reliable_response_waits_for_the_first_ones_prack() {
        let addr = |s: &str| s.parse::<std::net::SocketAddr>().unwrap();
        let mut p = Proxy::new(Settings {
            listeners: vec![Listener {
                transport: sip::Transport::Udp,
                addr: addr("192.0.2.1:5060"),
            }],
            ..Settings::default()
        });
        let flow = Flow {
            transport: sip::Transport::Udp,
            remote: addr("192.0.2.10:5060"),
            local: addr("192.0.2.1:5060"),
            connection: 0,
        };
        let now = Instant::now();
        let req = |m: &str, cseq: u32, branch: &str, extra: &str| {
            Bytes::from(format!(
                "{m} sip:bob@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch={branch}\r\n\
                 Max-Forwards: 70\r\nFrom: <sip:a@x>;tag=a1\r\nTo: <sip:bob@x>{extra}\r\nCall-ID: q1\r\n\
                 CSeq: {cseq} {m}\r\nSupported: 100rel\r\nContent-Length: 0\r\n\r\n"
            ))
        };
        p.handle_bytes(req("INVITE", 1, "z9hG4bKq1", ""), flow, now);
        let call = p.poll_router_call().unwrap();
        let (RouterCallKind::Request(rc), Some(Pending::Request(ctx))) =
            (&call.kind, p.calls.get(call.id))
        else {
            panic!("an on_request call");
        };
        let (ctx, invite) = (*ctx, rc.message.clone());
        let reliable = |status| Reply {
            reliable: true,
            ..Reply::status(status)
        };
        p.handle_decision(call.id, Decision::Reply(reliable(180)), now);
        p.reply_ctx(ctx, &invite, &reliable(183), now);
        let sent: Vec<Message> = std::iter::from_fn(|| p.poll_transmit())
            .map(|t| parse(t.bytes))
            .collect();
        let statuses: Vec<_> = sent.iter().map(|m| m.status().unwrap()).collect();
        assert_eq!(statuses, [100, 180], "the 183 waits");
        let first: u32 = sent[1].header_by_name("RSeq").unwrap().parse().unwrap();
        let tag = format!(";tag={}", sent[1].to_tag().unwrap());
        let rack = format!("{tag}\r\nRAck: {first} 1 INVITE");
        p.handle_bytes(req("PRACK", 2, "z9hG4bKq2", &rack), flow, now);
        let sent: Vec<Message> = std::iter::from_fn(|| p.poll_transmit())
            .map(|t| parse(t.bytes))
            .collect();
        let statuses: Vec<_> = sent.iter().map(|m| m.status().unwrap()).collect();
        assert_eq!(statuses, [200, 183]);
        assert_eq!(
            sent[1].header_by_name("RSeq"),
            Some((first + 1).to_string().as_str())
        );
        assert_eq!(sent[1].to_tag(), sent[0].to_tag(), "the same early dialog");
    }

    #[test]
    fn rack_parses() {
        assert_eq!(
            RAck::parse("776656 1 INVITE"),
            Some(RAck {
                rseq: 776656,
                cseq: 1,
                method: Method::Invite
            })
        );
        assert_eq!(
            RAck::parse(" 1\t 2  INVITE "),
            Some(RAck {
                rseq: 1,
                cseq: 2,
                method: Method::Invite
            })
        );
        for bad in [
            "",
            "1 INVITE",
            "0 1 INVITE",
            "x 1 INVITE",
            "1 2 INVITE extra",
            "4294967296 1 INVITE",
            "+1 1 INVITE",
        ] {
            assert_eq!(RAck::parse(bad), None, "{bad:?}");
        }
    }
}
