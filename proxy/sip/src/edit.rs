//! Editing a message without re-serialising it: edits are recorded against
//! the original bytes and spliced in by [`Editor::finish`]. Bytes that no
//! edit touches are copied verbatim.

use bytes::{BufMut, Bytes, BytesMut};
use thiserror::Error;

use crate::header::{max_forwards, Via};
use crate::header_name::HeaderName;
use crate::message::{values::split_first, Message, Span};

/// Why a set of edits cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EditError {
    /// Two edits touch the same bytes.
    #[error("two edits overlap at byte {0}")]
    Overlap(usize),
    /// A value handed in does not borrow from the edited message.
    #[error("the value does not belong to this message")]
    Foreign,
    /// There is no such header value.
    #[error("no value {index} of {name}")]
    NoValue { name: HeaderName, index: usize },
    /// Max-Forwards is zero (answer 483) or malformed.
    #[error("Max-Forwards is zero or malformed")]
    MaxForwards,
}

#[derive(Debug, Clone)]
struct Splice {
    span: Span,
    text: Vec<u8>,
    /// Order among inserts at the same position: higher goes first.
    order: usize,
}

/// Records edits to one message.
#[derive(Debug)]
pub struct Editor<'m> {
    msg: &'m Message,
    splices: Vec<Splice>,
    removed: Vec<(usize, usize)>,
}

impl<'m> Editor<'m> {
    /// Starts editing `msg`.
    pub fn new(msg: &'m Message) -> Self {
        Self {
            msg,
            splices: Vec::new(),
            removed: Vec::new(),
        }
    }

    fn splice(&mut self, span: Span, text: Vec<u8>) {
        let order = self.splices.len();
        self.splices.push(Splice { span, text, order });
    }

    /// Adds a field above every other field of the same name (so a new Via,
    /// Route, Record-Route or Path becomes the topmost value), or right after
    /// the start line if there is none. A later prepend of the same name goes
    /// above an earlier one.
    pub fn prepend(&mut self, name: &str, value: &str) {
        let hn = HeaderName::from_bytes(name.as_bytes());
        let at = self
            .msg
            .fields()
            .iter()
            .find(|h| h.name == hn && hn != HeaderName::Other)
            .map_or(self.msg.start_line_end(), |h| h.line.start as usize);
        self.splice(Span::new(at, at), field_line(name, value));
    }

    /// Adds a field at the end of the header section.
    pub fn append(&mut self, name: &str, value: &str) {
        let at = self.msg.body_start() - 2;
        // Appends at the same place keep their order: give them low priority.
        let text = field_line(name, value);
        self.splices.push(Splice {
            span: Span::new(at, at),
            text,
            order: 0,
        });
    }

    /// Removes the `index`-th value (0 = topmost) of a header across its fields.
    pub fn remove_value(&mut self, name: HeaderName, index: usize) -> Result<(), EditError> {
        let mut seen = 0;
        for (fi, h) in self
            .msg
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, h)| h.name == name)
        {
            let n = field_values(self.msg, h.value).len();
            if index < seen + n {
                self.removed.push((fi, index - seen));
                return Ok(());
            }
            seen += n;
        }
        Err(EditError::NoValue { name, index })
    }

    /// Removes a whole field.
    pub fn remove_field(&mut self, index: usize) -> Result<(), EditError> {
        let h = self.msg.fields().get(index).ok_or(EditError::NoValue {
            name: HeaderName::Other,
            index,
        })?;
        self.splice(h.line, Vec::new());
        Ok(())
    }

    /// Replaces a piece of text that borrows from the message.
    pub fn replace(&mut self, part: &str, text: &str) -> Result<(), EditError> {
        let span = self.msg.offset_of(part).ok_or(EditError::Foreign)?;
        self.splice(span, text.as_bytes().to_vec());
        Ok(())
    }

    /// Sets a Via parameter (`received`, `rport`, ...): replaces it when the
    /// Via has it, else appends it. `via` must come from this message.
    pub fn set_via_param(
        &mut self,
        via: &Via<'_>,
        name: &str,
        value: Option<&str>,
    ) -> Result<(), EditError> {
        // Where the parameter goes: over the one the Via has, or after the
        // Via's last parameter (then with its `;`).
        let (span, appended) = match via.params.find(name) {
            Some(p) => {
                let start = self.msg.offset_of(p.name).ok_or(EditError::Foreign)?;
                let end = match p.value {
                    Some(v) => self.msg.offset_of(v).ok_or(EditError::Foreign)?,
                    None => start,
                };
                (
                    Span {
                        start: start.start,
                        end: end.end,
                    },
                    false,
                )
            }
            None => {
                let whole = self.msg.offset_of(via.as_str()).ok_or(EditError::Foreign)?;
                let at = whole.end as usize;
                (Span::new(at, at), true)
            }
        };
        let mut text = Vec::with_capacity(2 + name.len() + value.map_or(0, str::len));
        if appended {
            text.push(b';');
        }
        text.extend_from_slice(name.as_bytes());
        if let Some(v) = value {
            text.push(b'=');
            text.extend_from_slice(v.as_bytes());
        }
        self.splice(span, text);
        Ok(())
    }

    /// RFC 3261 §16.6 step 3: decrements Max-Forwards, or adds
    /// `Max-Forwards: 70` when absent. Returns the new value. Fails when the
    /// value is 0 (the caller answers 483) or malformed.
    pub fn decrement_max_forwards(&mut self) -> Result<u8, EditError> {
        let msg = self.msg;
        match msg
            .fields()
            .iter()
            .find(|h| h.name == HeaderName::MaxForwards)
        {
            Some(h) => {
                let v = msg.value_text(h);
                let n = max_forwards(v).map_err(|_| EditError::MaxForwards)?;
                let n = n.checked_sub(1).ok_or(EditError::MaxForwards)?;
                self.replace(v, &n.to_string())?;
                Ok(n)
            }
            None => {
                self.append("Max-Forwards", "70");
                Ok(70)
            }
        }
    }

    /// Sets Content-Length (replacing the field, or appending one).
    pub fn set_content_length(&mut self, len: usize) -> Result<(), EditError> {
        let msg = self.msg;
        match msg
            .fields()
            .iter()
            .find(|h| h.name == HeaderName::ContentLength)
        {
            Some(h) => self.replace(msg.value_text(h), &len.to_string()),
            None => {
                self.append("Content-Length", &len.to_string());
                Ok(())
            }
        }
    }

    /// Applies the edits and returns the new message bytes.
    pub fn finish(mut self) -> Result<Bytes, EditError> {
        self.removals_to_splices();
        let mut s = self.splices;
        // By position; at one position, insertions before a replaced range,
        // and later prepends above earlier ones.
        s.sort_by(|a, b| {
            a.span
                .start
                .cmp(&b.span.start)
                .then((a.span.end > a.span.start).cmp(&(b.span.end > b.span.start)))
                .then(b.order.cmp(&a.order))
        });
        let src: &[u8] = self.msg.as_bytes();
        let grow: usize = s.iter().map(|x| x.text.len()).sum();
        let mut out = BytesMut::with_capacity(src.len() + grow);
        let mut pos = 0usize;
        for x in &s {
            let r = x.span.range();
            if r.start < pos || r.end > src.len() {
                return Err(EditError::Overlap(r.start));
            }
            out.put_slice(&src[pos..r.start]);
            out.put_slice(&x.text);
            pos = r.end;
        }
        out.put_slice(&src[pos..]);
        Ok(out.freeze())
    }

    fn removals_to_splices(&mut self) {
        let mut removed = std::mem::take(&mut self.removed);
        removed.sort_unstable();
        removed.dedup();
        let mut i = 0;
        while i < removed.len() {
            let fi = removed[i].0;
            let Some(h) = self.msg.fields().get(fi).copied() else {
                break;
            };
            let vals = field_values(self.msg, h.value);
            let gone: Vec<usize> = removed[i..]
                .iter()
                .take_while(|r| r.0 == fi)
                .map(|r| r.1)
                .collect();
            i += gone.len();
            if gone.len() == vals.len() {
                self.splice(h.line, Vec::new());
                continue;
            }
            // Contiguous runs of removed values, with the separators next to them.
            let mut k = 0;
            while k < gone.len() {
                let a = gone[k];
                let mut b = a;
                while k + 1 < gone.len() && gone[k + 1] == b + 1 {
                    k += 1;
                    b += 1;
                }
                k += 1;
                let span = if b + 1 < vals.len() {
                    Span {
                        start: vals[a].start,
                        end: vals[b + 1].start,
                    }
                } else {
                    Span {
                        start: vals[a - 1].end,
                        end: vals[b].end,
                    }
                };
                self.splice(span, Vec::new());
            }
        }
    }
}

/// The spans of the comma-separated values of one field.
fn field_values(msg: &Message, value: Span) -> Vec<Span> {
    let mut out = Vec::new();
    let mut rest = Some(msg.text(value));
    while let Some(r) = rest {
        let (item, after) = split_first(r);
        let t = crate::message::trim_lws(item);
        if let Some(sp) = msg.offset_of(t) {
            out.push(sp);
        }
        rest = after;
    }
    out
}

fn field_line(name: &str, value: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(name.len() + value.len() + 4);
    v.extend_from_slice(name.as_bytes());
    v.extend_from_slice(b": ");
    v.extend_from_slice(value.as_bytes());
    v.extend_from_slice(b"\r\n");
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Framing, Limits};

    fn msg(s: &str) -> Message {
        Message::parse(
            Bytes::copy_from_slice(s.as_bytes()),
            Framing::Datagram,
            &Limits::default(),
        )
        .unwrap()
    }

    const REQ: &str = "INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nRoute: <sip:e1;lr>, <sip:e2;lr>\r\nRoute: <sip:e3;lr>\r\nMax-Forwards: 10\r\nTo: <sip:b@x>\r\nFrom: <sip:a@x>;tag=1\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn splices() {
        let m = msg(REQ);
        let mut ed = Editor::new(&m);
        ed.remove_value(HeaderName::Route, 0).unwrap();
        ed.remove_value(HeaderName::Route, 1).unwrap();
        ed.prepend("Route", "<sip:new;lr>");
        ed.prepend("Via", "SIP/2.0/UDP me;branch=z9hG4bK2");
        ed.prepend("Via", "SIP/2.0/UDP me2;branch=z9hG4bK3");
        let top = m.top_via().unwrap();
        ed.set_via_param(&top, "received", Some("192.0.2.1"))
            .unwrap();
        assert_eq!(ed.decrement_max_forwards(), Ok(9));
        let out = ed.finish().unwrap();
        let text = std::str::from_utf8(&out).unwrap();
        assert!(text.contains("Via: SIP/2.0/UDP me2;branch=z9hG4bK3\r\nVia: SIP/2.0/UDP me;branch=z9hG4bK2\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1;received=192.0.2.1\r\n"), "{text}");
        assert!(text.contains("Max-Forwards: 9\r\n"));
        assert!(text.contains("a;branch=z9hG4bK1;received=192.0.2.1\r\nRoute: <sip:new;lr>\r\nRoute: <sip:e3;lr>\r\nMax"), "{text}");
        assert!(text.contains("Max-Forwards: 9\r\n"));
    }

    #[test]
    fn remove_all_values_of_a_field_removes_the_line() {
        let m = msg(REQ);
        let mut ed = Editor::new(&m);
        ed.remove_value(HeaderName::Route, 0).unwrap();
        ed.remove_value(HeaderName::Route, 1).unwrap();
        ed.prepend("Route", "<sip:new;lr>");
        let out = ed.finish().unwrap();
        let fwd = Message::parse(out, Framing::Datagram, &Limits::default()).unwrap();
        let routes: Vec<_> = fwd
            .routes()
            .map(|r| r.unwrap().uri_raw.to_string())
            .collect();
        assert_eq!(routes, ["sip:new;lr", "sip:e3;lr"]);
        assert_eq!(fwd.count(HeaderName::Route), 2);
    }

    #[test]
    fn remove_middle_and_last_values() {
        let m = msg(REQ);
        let mut ed = Editor::new(&m);
        ed.remove_value(HeaderName::Route, 1).unwrap();
        let fwd =
            Message::parse(ed.finish().unwrap(), Framing::Datagram, &Limits::default()).unwrap();
        assert_eq!(fwd.header(HeaderName::Route), Some("<sip:e1;lr>"));
        assert!(Editor::new(&m).remove_value(HeaderName::Route, 3).is_err());
    }

    #[test]
    fn max_forwards_zero_and_absent() {
        let m = msg(&REQ.replace("Max-Forwards: 10", "Max-Forwards: 0"));
        assert_eq!(
            Editor::new(&m).decrement_max_forwards(),
            Err(EditError::MaxForwards)
        );
        let m = msg(&REQ.replace("Max-Forwards: 10\r\n", ""));
        let mut ed = Editor::new(&m);
        assert_eq!(ed.decrement_max_forwards(), Ok(70));
        let fwd =
            Message::parse(ed.finish().unwrap(), Framing::Datagram, &Limits::default()).unwrap();
        assert_eq!(fwd.max_forwards().unwrap(), Some(70));
    }

    #[test]
    fn via_param_replaced_in_place() {
        let m = msg(&REQ.replace("branch=z9hG4bK1", "rport;branch=z9hG4bK1;received=10.0.0.1"));
        let mut ed = Editor::new(&m);
        let top = m.top_via().unwrap();
        ed.set_via_param(&top, "rport", Some("5070")).unwrap();
        ed.set_via_param(&top, "received", Some("192.0.2.9"))
            .unwrap();
        let fwd =
            Message::parse(ed.finish().unwrap(), Framing::Datagram, &Limits::default()).unwrap();
        assert_eq!(
            fwd.header(HeaderName::Via),
            Some("SIP/2.0/UDP a;rport=5070;branch=z9hG4bK1;received=192.0.2.9")
        );
    }
}
