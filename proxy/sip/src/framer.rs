//! Framing SIP messages on byte streams (TCP, TLS; RFC 3261 §18.3) and the
//! RFC 5626 §3.5.1 keepalives: a double CRLF ("ping") between messages asks
//! for a single CRLF ("pong") back.
//!
//! Bytes may arrive in any chunking, down to one byte at a time. The buffer
//! never holds more than one message's worth (`Limits::max_message_size`)
//! plus what a single `push` brings, and holds no memory at all once every
//! byte pushed has been framed: an idle connection (one of many thousands
//! of UEs sending only keepalives) then costs the framer nothing.

use bytes::{Buf, Bytes, BytesMut};
use memchr::memmem;
use thiserror::Error;

use crate::header_name::HeaderName;
use crate::Limits;

/// What the framer yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// One whole message (header section and exactly Content-Length octets).
    Message(Bytes),
    /// A CRLFCRLF ping: answer with a single CRLF.
    Ping,
    /// A lone CRLF pong (an answer to our ping).
    Pong,
}

/// Why the stream cannot be framed any more; the connection should get a
/// 400 where possible and be closed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FrameError {
    /// The message would exceed the size limit.
    #[error("message larger than {0} octets")]
    TooLarge(usize),
    /// The header section has no Content-Length, mandatory on streams.
    #[error("no Content-Length on a stream transport")]
    MissingContentLength,
    /// Content-Length is malformed or given twice.
    #[error("malformed Content-Length")]
    BadContentLength,
}

/// The stream framer of one connection.
#[derive(Debug)]
pub struct StreamFramer {
    buf: BytesMut,
    limits: Limits,
    /// How far the search for CRLFCRLF has got (no rescans).
    scanned: usize,
    /// Header length and Content-Length of the message being received.
    pending: Option<(usize, usize)>,
    failed: Option<FrameError>,
}

impl StreamFramer {
    /// A framer with these limits.
    pub fn new(limits: Limits) -> Self {
        Self {
            buf: BytesMut::new(),
            limits,
            scanned: 0,
            pending: None,
            failed: None,
        }
    }

    /// Adds received bytes.
    pub fn push(&mut self, data: &[u8]) {
        if self.failed.is_none() {
            self.buf.extend_from_slice(data);
        }
    }

    /// Octets held and not yet framed.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Octets of memory the buffer holds (0 once everything is framed).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Gives the buffer's memory back once it holds nothing: what a message
    /// was split from stays with the message, and the next push allocates
    /// what it needs.
    fn release_if_empty(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() > 0 {
            self.buf = BytesMut::new();
        }
    }

    /// The next frame, `Ok(None)` when more bytes are needed. After an error
    /// every call returns the same error.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let r = self.step();
        if let Err(e) = &r {
            self.failed = Some(e.clone());
            self.buf.clear();
        }
        self.release_if_empty();
        r
    }

    fn step(&mut self) -> Result<Option<Frame>, FrameError> {
        if self.pending.is_none() {
            // Keepalives between messages.
            if self.buf.starts_with(b"\r\n\r\n") {
                self.buf.advance(4);
                return Ok(Some(Frame::Ping));
            }
            if self.buf.starts_with(b"\r\n") {
                match self.buf.get(2) {
                    None => return Ok(None),
                    Some(b'\r') if self.buf.len() == 3 => return Ok(None),
                    _ => {
                        self.buf.advance(2);
                        return Ok(Some(Frame::Pong));
                    }
                }
            }
            if self.buf.len() == 1 && self.buf[0] == b'\r' {
                return Ok(None);
            }
            let from = self.scanned.saturating_sub(3);
            match memmem::find(&self.buf[from..], b"\r\n\r\n") {
                None => {
                    self.scanned = self.buf.len();
                    if self.buf.len() > self.limits.max_message_size {
                        return Err(FrameError::TooLarge(self.limits.max_message_size));
                    }
                    return Ok(None);
                }
                Some(i) => {
                    let head = from + i + 4;
                    let cl = content_length(&self.buf[..head])?;
                    if head.saturating_add(cl) > self.limits.max_message_size {
                        return Err(FrameError::TooLarge(self.limits.max_message_size));
                    }
                    self.pending = Some((head, cl));
                }
            }
        }
        let Some((head, cl)) = self.pending else {
            return Ok(None);
        };
        if self.buf.len() < head + cl {
            return Ok(None);
        }
        self.pending = None;
        self.scanned = 0;
        Ok(Some(Frame::Message(self.buf.split_to(head + cl).freeze())))
    }
}

/// Finds Content-Length (or `l`) in a header section, folded lines included.
fn content_length(head: &[u8]) -> Result<usize, FrameError> {
    let mut found = None;
    let mut lines = head.split(|&c| c == b'\n').peekable();
    lines.next(); // start line
    while let Some(line) = lines.next() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let name = trim(&line[..colon]);
        if HeaderName::from_bytes(name) != HeaderName::ContentLength {
            continue;
        }
        let mut value = trim(&line[colon + 1..]).to_vec();
        while let Some(next) = lines.peek() {
            if next.first().is_some_and(|&c| c == b' ' || c == b'\t') {
                value.extend_from_slice(trim(next.strip_suffix(b"\r").unwrap_or(next)));
                lines.next();
            } else {
                break;
            }
        }
        let v = std::str::from_utf8(&value).map_err(|_| FrameError::BadContentLength)?;
        let n = crate::message::parse::parse_length(v).map_err(|_| FrameError::BadContentLength)?;
        if found.replace(n).is_some() {
            return Err(FrameError::BadContentLength);
        }
    }
    found.ok_or(FrameError::MissingContentLength)
}

fn trim(b: &[u8]) -> &[u8] {
    let s = b
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t'))
        .unwrap_or(b.len());
    let e = b
        .iter()
        .rposition(|c| !matches!(c, b' ' | b'\t'))
        .map_or(s, |e| e + 1);
    &b[s..e.max(s)]
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] =
        b"OPTIONS sip:a@b.c SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nl: 4\r\n\r\nbody";

    #[test]
    fn byte_at_a_time() {
        let mut f = StreamFramer::new(Limits::default());
        let mut stream = b"\r\n\r\n".to_vec();
        stream.extend_from_slice(MSG);
        stream.extend_from_slice(b"\r\n");
        stream.extend_from_slice(MSG);
        let mut frames = vec![];
        for b in &stream {
            f.push(std::slice::from_ref(b));
            while let Some(fr) = f.next_frame().unwrap() {
                frames.push(fr);
            }
        }
        assert_eq!(
            frames,
            vec![
                Frame::Ping,
                Frame::Message(Bytes::from_static(MSG)),
                Frame::Pong,
                Frame::Message(Bytes::from_static(MSG))
            ]
        );
        assert_eq!(f.buffered(), 0);
        assert_eq!(f.capacity(), 0, "an idle framer holds no memory");
    }

    #[test]
    fn memory_is_released_once_framed() {
        let mut f = StreamFramer::new(Limits::default());
        f.push(b"\r\n\r\n");
        assert_eq!(f.next_frame(), Ok(Some(Frame::Ping)));
        assert_eq!(f.capacity(), 0);
        f.push(&MSG[..10]);
        assert_eq!(f.next_frame(), Ok(None));
        assert!(f.capacity() >= 10, "a partial message is kept");
        f.push(&MSG[10..]);
        assert_eq!(
            f.next_frame(),
            Ok(Some(Frame::Message(Bytes::from_static(MSG))))
        );
        assert_eq!((f.buffered(), f.capacity()), (0, 0));
        let mut f = StreamFramer::new(Limits::default());
        f.push(b"OPTIONS sip:a@b.c SIP/2.0\r\nVia: x\r\n\r\n");
        assert!(f.next_frame().is_err());
        assert_eq!(f.capacity(), 0, "a failed framer holds nothing");
    }

    #[test]
    fn errors() {
        let mut f = StreamFramer::new(Limits::default());
        f.push(b"OPTIONS sip:a@b.c SIP/2.0\r\nVia: x\r\n\r\n");
        assert_eq!(f.next_frame(), Err(FrameError::MissingContentLength));
        assert_eq!(f.next_frame(), Err(FrameError::MissingContentLength));
        let mut f = StreamFramer::new(Limits {
            max_message_size: 100,
            max_headers: 10,
        });
        f.push(&[b'a'; 101]);
        assert_eq!(f.next_frame(), Err(FrameError::TooLarge(100)));
        let mut f = StreamFramer::new(Limits {
            max_message_size: 100,
            max_headers: 10,
        });
        f.push(b"OPTIONS sip:a@b.c SIP/2.0\r\nContent-Length: 1000\r\n\r\n");
        assert_eq!(f.next_frame(), Err(FrameError::TooLarge(100)));
    }
}
