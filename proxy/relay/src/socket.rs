//! The relay's UDP socket, screened: every datagram that cannot be a QUIC
//! version 1 packet from a fleet peer is counted (`not_quic`) before quinn
//! drops it, so garbage on the relay port shows in the failure counters
//! instead of vanishing.

use std::fmt;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, UdpPoller};

use crate::error::Failure;
use crate::Observer;

/// The smallest datagram carrying a client's Initial packet (RFC 9000
/// §14.1).
const MIN_INITIAL: usize = 1200;
/// The smallest short-header packet a peer sends: one octet, an 8-octet
/// connection id (quinn's), a packet number and a 16-octet tag; a
/// stateless reset is at least 21 octets (RFC 9000 §10.3) too.
const MIN_SHORT: usize = 21;
/// Connection ids are at most 20 octets in version 1.
const MAX_CID: usize = 20;

/// Whether `d` can be a QUIC version 1 packet from a fleet peer (which
/// never greases the fixed bit: the endpoint does not offer it).
pub(crate) fn plausible(d: &[u8]) -> bool {
    let Some(&first) = d.first() else {
        return false;
    };
    if first & 0x40 == 0 {
        return false;
    }
    if first & 0x80 == 0 {
        return d.len() >= MIN_SHORT;
    }
    // Long header: version, then the connection ids with their lengths.
    let Some(version) = d.get(1..5) else {
        return false;
    };
    if version != [0, 0, 0, 1] {
        return false;
    }
    let Some(&dcid) = d.get(5) else {
        return false;
    };
    let dcid = usize::from(dcid);
    let Some(&scid) = d.get(6 + dcid) else {
        return false;
    };
    let initial = (first >> 4) & 0x03 == 0;
    dcid <= MAX_CID && usize::from(scid) <= MAX_CID && (!initial || d.len() >= MIN_INITIAL)
}

/// A socket that counts what cannot be QUIC and hands everything to quinn.
pub(crate) struct Screened {
    pub(crate) inner: Arc<dyn AsyncUdpSocket>,
    pub(crate) observer: Arc<dyn Observer>,
}

impl fmt::Debug for Screened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Screened")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl AsyncUdpSocket for Screened {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        self.inner.clone().create_io_poller()
    }

    fn try_send(&self, transmit: &Transmit<'_>) -> io::Result<()> {
        self.inner.try_send(transmit)
    }

    fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let polled = self.inner.poll_recv(cx, bufs, meta);
        if let Poll::Ready(Ok(n)) = &polled {
            for (buf, m) in bufs.iter().zip(meta.iter()).take(*n) {
                let data = buf.get(..m.len).unwrap_or_default();
                // With GRO, one buffer holds several datagrams of `stride`.
                for d in data.chunks(m.stride.max(1)) {
                    if !plausible(d) {
                        self.observer.failure(Failure::NotQuic);
                    }
                }
            }
        }
        polled
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn max_transmit_segments(&self) -> usize {
        self.inner.max_transmit_segments()
    }

    fn max_receive_segments(&self) -> usize {
        self.inner.max_receive_segments()
    }

    fn may_fragment(&self) -> bool {
        self.inner.may_fragment()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_not_quic_and_packets_are() {
        assert!(!plausible(b""));
        // Fixed bit clear.
        assert!(!plausible(&[0x00; 1200]));
        assert!(!plausible(&[0x31; 1200]));
        // Long header, version 1, a connection id length over 20.
        assert!(!plausible(b"\xc0\x00\x00\x00\x01garbage"));
        // Another version.
        assert!(!plausible(&[
            0xc0, 0xff, 0, 0, 0x1d, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0
        ]));
        // A short Initial.
        let mut initial = vec![0xc0, 0, 0, 0, 1, 8];
        initial.extend_from_slice(&[7; 8]);
        initial.push(8);
        initial.extend_from_slice(&[9; 8]);
        assert!(!plausible(&initial));
        initial.resize(MIN_INITIAL, 0);
        assert!(plausible(&initial));
        // A Handshake packet need not be padded.
        let mut handshake = initial[..24].to_vec();
        handshake[0] = 0xe0;
        assert!(plausible(&handshake));
        // Short header.
        assert!(plausible(&[0x41; 40]));
        assert!(!plausible(&[0x41; 10]));
    }
}
