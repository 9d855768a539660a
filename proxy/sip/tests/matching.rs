//! Transaction matching (RFC 3261 §17.1.3, §17.2.3, §9.2) and responses
//! built from requests (§8.2.6).
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use sip::matching::{ClientKey, ServerKey};
use sip::response::response;
use sip::{Framing, HeaderName, Limits, Message, Method};

fn msg(s: &str) -> Message {
    Message::parse(
        Bytes::copy_from_slice(s.as_bytes()),
        Framing::Datagram,
        &Limits::default(),
    )
    .unwrap()
}

fn req(method: &str, cseq_method: &str, branch: &str, to_tag: &str) -> Message {
    msg(&format!(
        "{method} sip:bob@biloxi.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP PC33.atlanta.com:5060;branch={branch}\r\n\
         Via: SIP/2.0/UDP origin.example.com;branch=z9hG4bKorigin\r\n\
         To: <sip:bob@biloxi.com>{to_tag}\r\n\
         From: <sip:alice@atlanta.com>;tag=1928301774\r\n\
         Call-ID: a84b4c76e66710\r\n\
         CSeq: 314159 {cseq_method}\r\n\
         Timestamp: 54\r\n\
         Content-Length: 0\r\n\r\n"
    ))
}

#[test]
fn server_keys_rfc3261() {
    let invite = req("INVITE", "INVITE", "z9hG4bK776asdhds", "");
    let retrans = req("INVITE", "INVITE", "z9hG4bK776asdhds", "");
    let ack = req("ACK", "ACK", "z9hG4bK776asdhds", ";tag=xyz");
    let cancel = req("CANCEL", "CANCEL", "z9hG4bK776asdhds", "");
    let other = req("INVITE", "INVITE", "z9hG4bK776asdhdt", "");
    let k = ServerKey::for_request(&invite).unwrap();
    assert_eq!(k, ServerKey::for_request(&retrans).unwrap());
    // The non-2xx ACK matches the INVITE transaction; CANCEL has its own
    // transaction but names the INVITE's.
    assert_eq!(k, ServerKey::for_request(&ack).unwrap());
    assert_ne!(k, ServerKey::for_request(&cancel).unwrap());
    assert_eq!(k, ServerKey::cancel_target(&cancel).unwrap());
    assert_ne!(k, ServerKey::for_request(&other).unwrap());
    // sent-by host compares case-insensitively.
    let lower = msg(&String::from_utf8(invite.as_bytes().to_vec())
        .unwrap()
        .replace("PC33", "pc33"));
    assert_eq!(k, ServerKey::for_request(&lower).unwrap());
    assert!(matches!(k, ServerKey::Rfc3261 { .. }));
}

#[test]
fn server_keys_rfc2543_fallback() {
    // No magic cookie, and the bare cookie (RFC 4475 §3.2.1): RFC 2543 rules.
    for branch in ["1f2e3d", "z9hG4bK"] {
        let invite = req("INVITE", "INVITE", branch, "");
        let k = ServerKey::for_request(&invite).unwrap();
        assert!(matches!(k, ServerKey::Rfc2543 { .. }));
        let ack = req("ACK", "ACK", branch, ";tag=totag");
        assert_eq!(k, ServerKey::for_request(&ack).unwrap());
        let cancel = req("CANCEL", "CANCEL", branch, "");
        assert_eq!(k, ServerKey::cancel_target(&cancel).unwrap());
        let bye = req("BYE", "BYE", branch, ";tag=totag");
        assert_ne!(k, ServerKey::for_request(&bye).unwrap());
        let other_call = msg(&String::from_utf8(invite.as_bytes().to_vec())
            .unwrap()
            .replace("a84b4c76e66710", "other"));
        assert_ne!(k, ServerKey::for_request(&other_call).unwrap());
    }
}

#[test]
fn client_keys() {
    let invite = req("INVITE", "INVITE", "z9hG4bK776asdhds", "");
    let k = ClientKey::for_request(&invite).unwrap();
    let resp = |cseq: &str| {
        msg(&format!(
            "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP pc33.atlanta.com:5060;branch=z9hG4bK776asdhds\r\n\
             To: <sip:bob@biloxi.com>;tag=a\r\nFrom: <sip:alice@atlanta.com>;tag=1928301774\r\n\
             Call-ID: a84b4c76e66710\r\nCSeq: 314159 {cseq}\r\nContent-Length: 0\r\n\r\n"
        ))
    };
    assert_eq!(k, ClientKey::for_response(&resp("INVITE")).unwrap());
    // A response to the CANCEL has the same branch but another method.
    assert_ne!(k, ClientKey::for_response(&resp("CANCEL")).unwrap());
    assert_eq!(k.method, Method::Invite);
}

#[test]
fn response_from_request() {
    let invite = req("INVITE", "INVITE", "z9hG4bK776asdhds", "");
    let r = response(&invite, 486)
        .unwrap()
        .to_tag("t1")
        .header("Retry-After", "30")
        .build();
    let r = msg(std::str::from_utf8(&r).unwrap());
    assert_eq!(r.status(), Some(486));
    assert_eq!(r.reason(), Some("Busy Here"));
    assert_eq!(r.to_tag(), Some("t1"));
    assert_eq!(r.from_tag(), Some("1928301774"));
    assert_eq!(r.call_id().unwrap(), "a84b4c76e66710");
    assert_eq!(r.cseq().unwrap().seq, 314159);
    let vias: Vec<_> = r.values(HeaderName::Via).collect();
    let want: Vec<_> = invite.values(HeaderName::Via).collect();
    assert_eq!(vias, want);
    assert_eq!(r.header(HeaderName::RetryAfter), Some("30"));
    assert_eq!(r.header(HeaderName::Timestamp), None);
    assert_eq!(r.content_length(), Some(0));
    // 100 Trying: no To tag, Timestamp copied (§8.2.6.1).
    let t = response(&invite, 100).unwrap().to_tag("t1").build();
    let t = msg(std::str::from_utf8(&t).unwrap());
    assert_eq!(t.to_tag(), None);
    assert_eq!(t.header(HeaderName::Timestamp), Some("54"));
    // An existing To tag is kept.
    let bye = req("BYE", "BYE", "z9hG4bK1", ";tag=keep");
    let ok = response(&bye, 200).unwrap().to_tag("other").build();
    assert_eq!(
        msg(std::str::from_utf8(&ok).unwrap()).to_tag(),
        Some("keep")
    );
    // No Via: nothing to answer to.
    let novia = msg("OPTIONS sip:a@b SIP/2.0\r\nTo: <sip:a@b>\r\nFrom: <sip:c@d>;tag=1\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n");
    assert!(response(&novia, 400).is_err());
    // A response is never answered.
    assert!(response(&r, 400).is_err());
}

#[test]
fn empty_supported_is_valid_but_empty_require_is_not() {
    let base = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@b>\r\nFrom: <sip:c@d>;tag=1\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n";
    let ok = msg(&format!("{base}Supported: \r\nContent-Length: 0\r\n\r\n"));
    assert!(sip::validate::check_request(&ok).is_ok());
    let bad = msg(&format!("{base}Require: \r\nContent-Length: 0\r\n\r\n"));
    assert_eq!(sip::validate::check_request(&bad).unwrap_err().status, 400);
}
