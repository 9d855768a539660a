//! Types shared by the anysip XDP program and user space, and the pure packet
//! classifier they both run (DESIGN.md §9).
//!
//! The crate is `no_std`, allocation-free and panic-free on every input: all
//! indexing is checked and every loop has a small constant bound, so the same
//! code compiles into the aya-ebpf XDP program (`ebpf/xdp`) and passes the
//! verifier. Packet bytes are read through [`PacketBytes`] (one checked
//! byte at a time: a `[u8]` here, checked packet-pointer loads there), and
//! the 128-bit arithmetic the BPF backend cannot lower is avoided. Map lookups (blocklist LPM tries, the per-source token-bucket LRU
//! hash) and the clock are reached through the [`Context`] trait, so the host
//! can test the classifier with plain tables.
//!
//! Module map, top-down:
//! - [`mod@classify`]: the entry points [`classify()`] (a whole Ethernet frame)
//!   and [`classify_udp`] (an already received UDP payload), and their
//!   generic forms [`classify_packet`] and [`classify_udp_payload`].
//! - [`verdict`]: [`Verdict`], which doubles as the per-CPU counter index.
//! - [`config`]: [`Config`], the `#[repr(C)]` value user space writes into a
//!   one-element array map (ports, addresses, rate, burst, shed level).
//! - [`bytes`]: [`PacketBytes`], the checked byte reads the parsers use (a
//!   `[u8]` on the host, checked packet-pointer loads in the XDP program).
//! - [`packet`]: Ethernet / 802.1Q / IPv4 / IPv6 / UDP / TCP header parsing.
//! - [`sip`]: what a UDP payload is (request and method, response, keepalive,
//!   STUN, not SIP).
//! - [`bucket`]: [`SourceKey`] and [`TokenBucket`] with integer-only refill.
//!
//! Rules (what [`classify()`] decides):
//! - Only UDP to a configured SIP port and address (or "any address" per
//!   family) is judged; TCP to a configured TCP/TLS port gets the blocklist
//!   check only; everything else is [`Verdict::PassNotOurs`], as are
//!   malformed or truncated headers. Up to two VLAN tags (802.1Q/802.1ad) are
//!   skipped; IPv6 hop-by-hop, routing, destination-options, AH and fragment
//!   headers are walked, at most four.
//! - Fragments are never dropped for being fragments: a non-first fragment
//!   has no UDP header and passes untouched; a first fragment is judged on
//!   the payload bytes present, and if those are a valid-looking prefix too
//!   short to decide, it passes. The same holds for a UDP length that runs
//!   past the frame. UDP payloads are trimmed to the UDP length, so Ethernet
//!   padding of short keepalives does not matter.
//! - Order: blocklist, then payload class (not SIP: drop), then shed, then
//!   rate limit.
//! - New requests (INVITE, REGISTER, OPTIONS, SUBSCRIBE, MESSAGE, PUBLISH,
//!   REFER and any unknown token, so invented methods cannot bypass the
//!   limiter) are rate-limited and shed. ACK, BYE, CANCEL, PRACK, UPDATE,
//!   INFO and NOTIFY (sent inside a subscription dialog), responses, CRLF
//!   keepalives and STUN never are.
//! - Rate limit: one token bucket per source (IPv4 /32, IPv6 /64), integer
//!   milli-token math; limiting is off when the rate is 0; when the bucket
//!   map gives no entry the packet passes (fail open).
//! - Shed level 1: INVITE and REGISTER use rate and burst divided by the shed
//!   factor (same bucket), and their drops count as [`Verdict::DropShed`].
//!   Level 2: every new request is [`Verdict::DropShed`].
#![no_std]
#![forbid(unsafe_code)]

pub mod bucket;
pub mod bytes;
pub mod classify;
pub mod config;
pub mod packet;
pub mod sip;
pub mod verdict;

pub use bucket::{SourceKey, TokenBucket};
pub use bytes::PacketBytes;
pub use classify::{classify, classify_packet, classify_udp, classify_udp_payload, Context};
pub use config::Config;
pub use packet::IpAddrBytes;
pub use sip::{Method, MethodClass, Payload};
pub use verdict::Verdict;
