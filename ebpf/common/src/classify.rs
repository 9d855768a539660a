//! The classifier entry points and the [`Context`] they use for map lookups
//! and time.

use crate::bucket::{SourceKey, TokenBucket};
use crate::bytes::{PacketBytes, Window};
use crate::config::{Config, SHED_NEW_REQUESTS, SHED_STRICT};
use crate::packet::{parse_headers, IpAddrBytes, L4};
use crate::sip::{classify_payload, MethodClass, Payload};
use crate::verdict::Verdict;

/// Map lookups and the clock. The eBPF program implements it over its
/// `LpmTrie` blocklists, the token-bucket `LruHashMap` and
/// `bpf_ktime_get_ns`; host code and tests over plain tables.
pub trait Context {
    /// True when an IPv4 source is blocklisted.
    fn blocked_v4(&self, addr: [u8; 4]) -> bool;
    /// True when an IPv6 source is blocklisted.
    fn blocked_v6(&self, addr: [u8; 16]) -> bool;
    /// Monotonic time in nanoseconds.
    fn now_ns(&self) -> u64;
    /// The bucket for `key`, inserting `fresh` first when there is none.
    /// `None` (map full, insert failed) lets the packet pass: the limiter
    /// fails open.
    fn bucket(&mut self, key: &SourceKey, fresh: TokenBucket) -> Option<&mut TokenBucket>;
}

#[inline(always)]
fn blocked<C: Context>(ctx: &C, src: &IpAddrBytes) -> bool {
    match src {
        IpAddrBytes::V4(a) => ctx.blocked_v4(*a),
        IpAddrBytes::V6(a) => ctx.blocked_v6(*a),
    }
}

/// Classifies one frame, starting at the Ethernet header.
///
/// Order: not ours ([`Verdict::PassNotOurs`]) → blocklist → (UDP only)
/// payload class → shed → rate limit. TCP to a SIP TCP port gets the
/// blocklist check only.
pub fn classify<C: Context>(pkt: &[u8], cfg: &Config, ctx: &mut C) -> Verdict {
    classify_packet(pkt, cfg, ctx)
}

/// [`classify()`] over any [`PacketBytes`]: the XDP program passes a view
/// of the packet whose every read is checked against `data_end`.
#[inline(always)]
pub fn classify_packet<P: PacketBytes + ?Sized, C: Context>(
    pkt: &P,
    cfg: &Config,
    ctx: &mut C,
) -> Verdict {
    let Some(h) = parse_headers(pkt) else {
        return Verdict::PassNotOurs;
    };
    if !cfg.is_our_addr(&h.dst) {
        return Verdict::PassNotOurs;
    }
    match h.l4 {
        L4::Tcp { dst_port } => {
            if !cfg.is_tcp_port(dst_port) {
                Verdict::PassNotOurs
            } else if blocked(ctx, &h.src) {
                Verdict::DropBlocklisted
            } else {
                Verdict::Pass
            }
        }
        L4::Udp {
            dst_port,
            start,
            end,
            complete,
        } => {
            if cfg.is_udp_port(dst_port) {
                // Offsets below MAX_OFFSET (see `opaque`): `parse_headers`
                // never reaches past it.
                let payload = Window::new(pkt, pkt.opaque(start), pkt.opaque(end));
                classify_udp_payload(&h.src, &payload, complete, cfg, ctx)
            } else {
                Verdict::PassNotOurs
            }
        }
    }
}

/// Classifies a UDP payload already known to be addressed to a SIP port,
/// from `src`. This is the part user space runs itself when XDP is off.
/// `complete` is false when `payload` may be only a prefix (first fragment).
pub fn classify_udp<C: Context>(
    src: &IpAddrBytes,
    payload: &[u8],
    complete: bool,
    cfg: &Config,
    ctx: &mut C,
) -> Verdict {
    classify_udp_payload(src, payload, complete, cfg, ctx)
}

/// [`classify_udp`] over any [`PacketBytes`].
#[inline(always)]
pub fn classify_udp_payload<P: PacketBytes + ?Sized, C: Context>(
    src: &IpAddrBytes,
    payload: &P,
    complete: bool,
    cfg: &Config,
    ctx: &mut C,
) -> Verdict {
    if blocked(ctx, src) {
        return Verdict::DropBlocklisted;
    }
    let method = match classify_payload(payload, complete) {
        Payload::NotSip => return Verdict::DropNotSip,
        Payload::Incomplete | Payload::Response | Payload::Keepalive | Payload::Stun => {
            return Verdict::Pass
        }
        Payload::Request(m) => m,
    };
    if method.class() == MethodClass::InDialog {
        return Verdict::Pass;
    }
    let shed = cfg.shed();
    if shed >= SHED_NEW_REQUESTS {
        return Verdict::DropShed;
    }
    let Some((rate, burst)) = cfg.limits_for(method) else {
        return Verdict::Pass;
    };
    let now = ctx.now_ns();
    let key = SourceKey::new(src);
    let Some(bucket) = ctx.bucket(&key, TokenBucket::full(burst, now)) else {
        return Verdict::Pass;
    };
    if bucket.take(rate, burst, now) {
        Verdict::Pass
    } else if shed == SHED_STRICT && method.is_shed_strict() {
        Verdict::DropShed
    } else {
        Verdict::DropRateLimited
    }
}
