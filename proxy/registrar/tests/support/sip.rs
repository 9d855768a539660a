//! REGISTER messages for the tests.
#![allow(dead_code)]

use bytes::Bytes;
use sip::{Framing, Limits, Message};

/// A REGISTER for `aor` with extra header lines (each ending in CRLF).
pub fn register(aor: &str, call_id: &str, cseq: u32, extra: &str) -> Message {
    let text = format!(
        "REGISTER sip:example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK{call_id}{cseq}\r\n\
         Max-Forwards: 70\r\n\
         From: <{aor}>;tag=a\r\n\
         To: <{aor}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} REGISTER\r\n\
         {extra}\
         Content-Length: 0\r\n\r\n"
    );
    Message::parse(Bytes::from(text), Framing::Datagram, &Limits::default())
        .expect("test REGISTER parses")
}

/// Where the test REGISTERs come from.
pub fn source() -> registrar::Source {
    registrar::Source::new("udp", "192.0.2.1:5060".parse().expect("address"))
}

/// Seconds since the epoch, now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
