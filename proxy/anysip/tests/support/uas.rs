//! What a test UA answers to a request it receives: an INVITE gets 180 and
//! 200 (its Record-Route copied, `contact` as Contact, `tag` as To tag), a
//! BYE 200, anything else nothing.

use bytes::Bytes;
use sip::{HeaderName, Message};

/// The responses to `m`, in the order to send them.
pub fn answer(m: &Message, tag: &str, contact: &str) -> Vec<Bytes> {
    match m.method().map(|x| x.as_str()) {
        Some("INVITE") => {
            let mut ok = sip::response::response(m, 200)
                .unwrap()
                .to_tag(tag)
                .header("Contact", contact);
            for h in m.headers().filter(|h| h.name == HeaderName::RecordRoute) {
                ok = ok.header("Record-Route", h.value);
            }
            let ringing = sip::response::response(m, 180).unwrap().to_tag(tag);
            vec![ringing.build(), ok.build()]
        }
        Some("BYE") => vec![sip::response::response(m, 200).unwrap().build()],
        _ => vec![],
    }
}
