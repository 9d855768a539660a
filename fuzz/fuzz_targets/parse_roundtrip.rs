//! Parser round trip: whatever parses must re-parse from its own bytes to the
//! same message, its typed headers must not panic, and edits must produce a
//! message that parses again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip::edit::Editor;
use sip::{Framing, Limits, Message};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let framing = if data.first().is_some_and(|b| b & 1 == 1) { Framing::Stream } else { Framing::Datagram };
    let bytes = bytes::Bytes::copy_from_slice(data);
    let Ok(m) = Message::parse(bytes, framing, &limits) else {
        let _ = sip::validate::screen(bytes::Bytes::copy_from_slice(data), framing, &limits);
        return;
    };
    // Round trip: the message's own bytes parse to the same message.
    let again = Message::parse(m.as_bytes().clone(), framing, &limits).expect("re-parse");
    assert_eq!(again, m);
    // Typed access never panics.
    let _ = m.request_uri();
    for v in m.vias() {
        if let Ok(v) = v {
            let _ = (v.branch(), v.received(), v.rport(), v.response_target(), v.sent_by());
        }
    }
    let _ = (m.from(), m.to(), m.call_id(), m.cseq(), m.max_forwards(), m.expires());
    for c in m.contacts().flatten() {
        let _ = c.params();
    }
    let _ = m.routes().count() + m.record_routes().count() + m.paths().count();
    let _ = sip::validate::check_request(&m);
    let _ = sip::validate::check_response(&m);
    let _ = sip::matching::ServerKey::for_request(&m);
    // Edits keep the message parseable.
    if m.is_request() && sip::validate::check_request(&m).is_ok() {
        let mut ed = Editor::new(&m);
        ed.prepend("Via", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKfuzz");
        let _ = ed.remove_value(sip::HeaderName::Route, 0);
        let _ = ed.decrement_max_forwards();
        if let Ok(top) = m.top_via() {
            let _ = ed.set_via_param(&top, "received", Some("192.0.2.2"));
        }
        if let Ok(out) = ed.finish() {
            let fwd = Message::parse(out, framing, &limits).expect("edited message parses");
            assert_eq!(fwd.body(), m.body());
        }
    }
    let _ = sip::response::response(&m, 400).map(|b| b.to_tag("x").build());
});
