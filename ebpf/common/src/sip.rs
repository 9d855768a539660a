//! What a UDP payload sent to a SIP port is.
//!
//! Only the first bytes are looked at: a request is `TOKEN SP` (a token of
//! more than [`MAX_METHOD_LEN`] RFC 3261 token characters is taken as an
//! extension method without looking further), a response starts
//! with `SIP/2.0 `, a keepalive is 1–4 bytes of CR/LF only (RFC 5626), and
//! STUN has the two top bits of the first byte clear, the magic cookie at
//! offset 4 and at least a 20-byte header (RFC 5389).

/// Longest method token looked at; past it, token characters make an
/// extension method.
pub const MAX_METHOD_LEN: usize = 16;
/// Longest CR/LF-only payload taken as a keepalive.
pub const MAX_KEEPALIVE_LEN: usize = 4;
/// STUN magic cookie (RFC 5389), network byte order at offset 4.
pub const STUN_MAGIC_COOKIE: u32 = 0x2112_A442;
/// STUN header length.
pub const STUN_HEADER_LEN: usize = 20;

const RESPONSE_PREFIX: &[u8; 8] = b"SIP/2.0 ";

use crate::bytes::{array, PacketBytes};

/// A request method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// INVITE (new; stricter at shed level 1).
    Invite,
    /// REGISTER (new; stricter at shed level 1).
    Register,
    /// OPTIONS (new).
    Options,
    /// SUBSCRIBE (new).
    Subscribe,
    /// MESSAGE (new).
    Message,
    /// PUBLISH (new).
    Publish,
    /// REFER (new).
    Refer,
    /// ACK (in dialog / transaction: never limited).
    Ack,
    /// BYE (in dialog: never limited).
    Bye,
    /// CANCEL (in transaction: never limited).
    Cancel,
    /// PRACK (in dialog: never limited).
    Prack,
    /// UPDATE (in dialog: never limited).
    Update,
    /// INFO (in dialog: never limited).
    Info,
    /// NOTIFY (sent within a subscription dialog: never limited).
    Notify,
    /// Any other token: treated as a new request (limited, shed), because a
    /// flood of made-up methods must not bypass the limiter.
    Extension,
}

/// Whether a method opens something new (limited, shed) or continues an
/// existing dialog or transaction (never limited or shed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MethodClass {
    /// INVITE, REGISTER, OPTIONS, SUBSCRIBE, MESSAGE, PUBLISH, REFER and
    /// extension methods.
    New,
    /// ACK, BYE, CANCEL, PRACK, UPDATE, INFO, NOTIFY.
    InDialog,
}

impl Method {
    /// Recognises a method token (case-sensitive, as in RFC 3261); unknown
    /// tokens are [`Method::Extension`].
    pub fn from_token(token: &[u8]) -> Method {
        Method::from_prefix(token, token.len())
    }

    /// Recognises the method token made of the first `len` bytes of `p`
    /// (the generic form of [`Method::from_token`]).
    #[inline(always)]
    pub fn from_prefix<P: PacketBytes + ?Sized>(p: &P, len: usize) -> Method {
        // Packed into integers so the comparison is a few register compares,
        // not a memcmp call (friendlier to the eBPF verifier). Known methods
        // are at most 9 bytes; token bytes are never 0, so zero padding
        // cannot make two different tokens equal.
        if len == 0 || len > MAX_KNOWN_LEN {
            return Method::Extension;
        }
        let Some(k) = key_of(p, len) else {
            return Method::Extension;
        };
        const INVITE: Key = key(b"INVITE");
        const REGISTER: Key = key(b"REGISTER");
        const OPTIONS: Key = key(b"OPTIONS");
        const SUBSCRIBE: Key = key(b"SUBSCRIBE");
        const MESSAGE: Key = key(b"MESSAGE");
        const PUBLISH: Key = key(b"PUBLISH");
        const REFER: Key = key(b"REFER");
        const ACK: Key = key(b"ACK");
        const BYE: Key = key(b"BYE");
        const CANCEL: Key = key(b"CANCEL");
        const PRACK: Key = key(b"PRACK");
        const UPDATE: Key = key(b"UPDATE");
        const INFO: Key = key(b"INFO");
        const NOTIFY: Key = key(b"NOTIFY");
        match k {
            INVITE => Method::Invite,
            REGISTER => Method::Register,
            OPTIONS => Method::Options,
            SUBSCRIBE => Method::Subscribe,
            MESSAGE => Method::Message,
            PUBLISH => Method::Publish,
            REFER => Method::Refer,
            ACK => Method::Ack,
            BYE => Method::Bye,
            CANCEL => Method::Cancel,
            PRACK => Method::Prack,
            UPDATE => Method::Update,
            INFO => Method::Info,
            NOTIFY => Method::Notify,
            _ => Method::Extension,
        }
    }

    /// The method's class.
    #[inline(always)]
    pub const fn class(self) -> MethodClass {
        match self {
            Method::Ack
            | Method::Bye
            | Method::Cancel
            | Method::Prack
            | Method::Update
            | Method::Info
            | Method::Notify => MethodClass::InDialog,
            Method::Invite
            | Method::Register
            | Method::Options
            | Method::Subscribe
            | Method::Message
            | Method::Publish
            | Method::Refer
            | Method::Extension => MethodClass::New,
        }
    }

    /// True for the methods that get stricter limits at shed level 1.
    #[inline(always)]
    pub const fn is_shed_strict(self) -> bool {
        matches!(self, Method::Invite | Method::Register)
    }
}

/// Length of the longest known method (`SUBSCRIBE`).
const MAX_KNOWN_LEN: usize = 9;

/// A token of at most [`MAX_KNOWN_LEN`] bytes as integers: the first 8 bytes
/// big-endian, zero-padded, and the 9th byte (or 0). Plain `u64`, no `u128`,
/// so the BPF backend needs no wide-integer lowering.
type Key = (u64, u8);

const fn key(token: &[u8]) -> Key {
    let mut word = 0u64;
    let mut i = 0;
    while i < 8 {
        let b = if i < token.len() { token[i] } else { 0 };
        word = (word << 8) | b as u64;
        i += 1;
    }
    let tail = if token.len() > 8 { token[8] } else { 0 };
    (word, tail)
}

/// [`key`] of the first `len` (at most [`MAX_KNOWN_LEN`]) bytes of `p`.
#[inline(always)]
fn key_of<P: PacketBytes + ?Sized>(p: &P, len: usize) -> Option<Key> {
    let mut word = 0u64;
    let mut i = 0;
    while i < 8 {
        let b = if i < len { p.byte(i)? } else { 0 };
        word = (word << 8) | b as u64;
        i += 1;
    }
    let tail = if len > 8 { p.byte(8)? } else { 0 };
    Some((word, tail))
}

/// What a UDP payload is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Payload {
    /// `TOKEN SP` at the start.
    Request(Method),
    /// Starts with `SIP/2.0 `.
    Response,
    /// 1–4 bytes, all CR or LF.
    Keepalive,
    /// A STUN message.
    Stun,
    /// None of the above.
    NotSip,
    /// The payload is cut (a first fragment, or a datagram longer than the
    /// frame) and what is present is a prefix of something valid, so no
    /// judgement is possible.
    Incomplete,
}

/// True for RFC 3261 `token` characters: alphanumerics and `-.!%*_+`'~`.
#[inline(always)]
pub const fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

/// Classifies `payload`. `complete` is false when `payload` may be only the
/// beginning of the datagram; then a valid-looking prefix gives
/// [`Payload::Incomplete`] instead of [`Payload::NotSip`].
#[inline(always)]
pub fn classify_payload<P: PacketBytes + ?Sized>(payload: &P, complete: bool) -> Payload {
    let short = if complete {
        Payload::NotSip
    } else {
        Payload::Incomplete
    };
    let Some(first) = payload.byte(0) else {
        return short;
    };

    // Keepalive: CR/LF only.
    if first == b'\r' || first == b'\n' {
        let mut i = 0;
        while i <= MAX_KEEPALIVE_LEN {
            match payload.byte(i) {
                None => return if complete { Payload::Keepalive } else { short },
                Some(b'\r' | b'\n') => i += 1,
                Some(_) => return Payload::NotSip,
            }
        }
        return Payload::NotSip;
    }

    // STUN: top two bits clear, magic cookie, 20-byte header.
    // Token characters such as `!`, `%`, `+`, digits also have the top two
    // bits clear: without the cookie they may still start a method.
    if first & 0xC0 == 0 {
        let cookie = array::<P, 4>(payload, 4);
        match cookie {
            Some(c) if u32::from_be_bytes(c) == STUN_MAGIC_COOKIE => {
                return if payload.byte(STUN_HEADER_LEN - 1).is_some() {
                    Payload::Stun
                } else {
                    short
                };
            }
            _ if !is_token_char(first) => {
                return if cookie.is_some() {
                    Payload::NotSip
                } else {
                    short
                };
            }
            _ => {} // `!`, `%`, digits...: maybe a method token
        }
    }

    // Response. A byte loop rather than a slice comparison, which would
    // become a variable-length memcmp call.
    if first == b'S' {
        let mut i = 0;
        let mut matched = true;
        while i < RESPONSE_PREFIX.len() {
            match (payload.byte(i), RESPONSE_PREFIX.get(i)) {
                (Some(a), Some(&b)) if a == b => i += 1,
                (None, _) => return short,
                _ => {
                    matched = false;
                    break;
                }
            }
        }
        if matched {
            return Payload::Response;
        }
        // Otherwise it may still be a request ("SUBSCRIBE ").
    }

    // Request: TOKEN SP, token at most MAX_METHOD_LEN bytes.
    let mut i = 0;
    while i <= MAX_METHOD_LEN {
        match payload.byte(i) {
            None => return short,
            Some(b' ') => {
                return if i > 0 {
                    Payload::Request(Method::from_prefix(payload, i))
                } else {
                    Payload::NotSip
                };
            }
            Some(b) if is_token_char(b) => i += 1,
            Some(_) => return Payload::NotSip,
        }
    }
    // A longer token is an extension method the window cannot see the end
    // of (RFC 4475's TC_INTMETH has 43 characters): a new request, limited
    // like any, never dropped as "not SIP".
    Payload::Request(Method::Extension)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods() {
        assert_eq!(Method::from_token(b"INVITE"), Method::Invite);
        assert_eq!(Method::from_token(b"SUBSCRIBE"), Method::Subscribe);
        assert_eq!(Method::from_token(b"NOTIFY"), Method::Notify);
        assert_eq!(Method::from_token(b"invite"), Method::Extension);
        assert_eq!(Method::from_token(b"INVITEX"), Method::Extension);
        assert_eq!(Method::from_token(b"INVIT"), Method::Extension);
        assert_eq!(Method::from_token(b""), Method::Extension);
        assert_eq!(Method::from_token(&[b'A'; 17]), Method::Extension);
        assert_eq!(Method::Notify.class(), MethodClass::InDialog);
        assert_eq!(Method::Extension.class(), MethodClass::New);
        assert_eq!(Method::Refer.class(), MethodClass::New);
    }

    #[test]
    fn payloads() {
        use Payload::*;
        let stun = {
            let mut s = [0u8; 20];
            s[1] = 1;
            s[4..8].copy_from_slice(&STUN_MAGIC_COOKIE.to_be_bytes());
            s
        };
        let cases: &[(&[u8], bool, Payload)] = &[
            (b"INVITE sip:a@b SIP/2.0\r\n", true, Request(Method::Invite)),
            (b"BYE sip:a@b SIP/2.0\r\n", true, Request(Method::Bye)),
            (b"SUBSCRIBE sip:a", true, Request(Method::Subscribe)),
            (b"FOO-BAR.x sip:a", true, Request(Method::Extension)),
            (b"SIP/2.0 200 OK\r\n", true, Response),
            (b"SIP/2.0", true, NotSip),
            (b"SIP/2.0", false, Incomplete),
            (b"SIP/3.0 200 OK", true, NotSip),
            (b"\r\n\r\n", true, Keepalive),
            (b"\r\n", true, Keepalive),
            (b"\n", true, Keepalive),
            (b"\r\n\r\n\r\n", true, NotSip),
            (b"\r\nX", true, NotSip),
            (b"\r\n", false, Incomplete),
            (&stun, true, Stun),
            (&stun[..19], true, NotSip),
            (&stun[..19], false, Incomplete),
            (
                &[0, 1, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                true,
                NotSip,
            ),
            (b"", true, NotSip),
            (b"", false, Incomplete),
            (b" INVITE", true, NotSip),
            (b"INV", true, NotSip),
            (b"INV", false, Incomplete),
            (b"INVITE\tsip", true, NotSip),
            (b"AAAAAAAAAAAAAAAA x", true, Request(Method::Extension)),
            (b"AAAAAAAAAAAAAAAAA x", true, Request(Method::Extension)),
            (
                b"!interesting-Method0123456789_*+`.%indeed'~ sip:a SIP/2.0",
                true,
                Request(Method::Extension),
            ),
            (
                b"AAAAAAAAAAAAAAAAAAAA\xff",
                true,
                Request(Method::Extension),
            ),
            (b"\xff\xfe", true, NotSip),
            (b"GET / HTTP/1.1", true, Request(Method::Extension)),
        ];
        for (p, complete, want) in cases {
            assert_eq!(classify_payload(p, *complete), *want, "{p:?} {complete}");
        }
    }
}
