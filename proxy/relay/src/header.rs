//! The header in front of every relayed SIP message (sans-IO).
//!
//! A relayed message is one QUIC bidirectional stream: this header, then
//! the SIP bytes, then the end of the stream. The owner answers on the
//! same stream: delivered is the end of the stream alone; flow gone and
//! refused are one [`Ack`] octet, then the end. (A response or an ACK goes
//! on a unidirectional stream and gets no answer.) All integers are
//! big-endian.
//!
//! ```text
//!  0      4        5     6     7          8       10      12        16     17         33     35        39      43
//!  | "ASRL" | version | kind | hops | transport | target | source | conn id | family | address | port | body len | crc32 |
//! ```
//!
//! The CRC-32 covers the 39 octets before it: QUIC already protects the
//! bytes in transit, the checksum catches a sender that writes a header it
//! did not mean (and makes every single-bit change of a header detectable).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The first four octets of every header.
pub const MAGIC: [u8; 4] = *b"ASRL";
/// The version this code writes and reads.
pub const VERSION: u8 = 1;
/// Length of the header on the wire.
pub const LEN: usize = 43;
/// A relayed message crosses exactly one relay hop: the owner writes it to
/// its connection and never relays it again.
pub const MAX_HOPS: u8 = 1;

/// Request or response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A request toward the UE.
    Request,
    /// A response toward the UE.
    Response,
}

/// The stream transport of the flow at its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowTransport {
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
    /// WebSocket.
    Ws,
    /// Secure WebSocket.
    Wss,
}

/// What a relayed message carries besides its SIP bytes: the flow it goes
/// to (instance, connection id, the UE's address) and the loop guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Request or response.
    pub kind: Kind,
    /// Relay hops crossed, counting this one (1 from the first edge).
    pub hops: u8,
    /// The flow's transport.
    pub transport: FlowTransport,
    /// The instance that holds the flow.
    pub target: u16,
    /// The instance that sends (checked against its certificate).
    pub source: u16,
    /// The connection id at the owner.
    pub connection: u32,
    /// The UE's address (the connection's peer at the owner).
    pub ue: SocketAddr,
    /// Length of the SIP bytes that follow.
    pub body_len: u32,
}

/// Why a header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// Fewer octets than a header.
    #[error("truncated header ({0} of {LEN} octets)")]
    Truncated(usize),
    /// Not a relay header at all.
    #[error("bad magic")]
    BadMagic,
    /// A version this code does not read.
    #[error("unsupported version {0}")]
    Version(u8),
    /// The checksum does not match.
    #[error("header checksum mismatch")]
    Checksum,
    /// An unknown kind octet.
    #[error("bad kind {0}")]
    Kind(u8),
    /// An unknown transport octet.
    #[error("bad transport {0}")]
    Transport(u8),
    /// An unknown address family, or an IPv4 address with stray octets.
    #[error("bad address")]
    Address,
    /// Zero hops, or more than [`MAX_HOPS`]: a loop or a forgery.
    #[error("hop count {0} out of 1..={MAX_HOPS}")]
    Hops(u8),
}

impl Kind {
    fn octet(self) -> u8 {
        match self {
            Kind::Request => 1,
            Kind::Response => 2,
        }
    }
}

impl FlowTransport {
    fn octet(self) -> u8 {
        match self {
            FlowTransport::Tcp => 1,
            FlowTransport::Tls => 2,
            FlowTransport::Ws => 3,
            FlowTransport::Wss => 4,
        }
    }
}

impl Header {
    /// The header's octets.
    pub fn encode(&self) -> [u8; LEN] {
        let mut b = [0u8; LEN];
        b[0..4].copy_from_slice(&MAGIC);
        b[4] = VERSION;
        b[5] = self.kind.octet();
        b[6] = self.hops;
        b[7] = self.transport.octet();
        b[8..10].copy_from_slice(&self.target.to_be_bytes());
        b[10..12].copy_from_slice(&self.source.to_be_bytes());
        b[12..16].copy_from_slice(&self.connection.to_be_bytes());
        match self.ue.ip() {
            IpAddr::V4(a) => {
                b[16] = 4;
                b[17..21].copy_from_slice(&a.octets());
            }
            IpAddr::V6(a) => {
                b[16] = 6;
                b[17..33].copy_from_slice(&a.octets());
            }
        }
        b[33..35].copy_from_slice(&self.ue.port().to_be_bytes());
        b[35..39].copy_from_slice(&self.body_len.to_be_bytes());
        let crc = crc32fast::hash(&b[..39]);
        b[39..43].copy_from_slice(&crc.to_be_bytes());
        b
    }

    /// Reads a header from the start of `b` (the SIP bytes follow it).
    pub fn decode(b: &[u8]) -> Result<Header, HeaderError> {
        let b: &[u8; LEN] = b
            .get(..LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or(HeaderError::Truncated(b.len()))?;
        if b[0..4] != MAGIC {
            return Err(HeaderError::BadMagic);
        }
        if b[4] != VERSION {
            return Err(HeaderError::Version(b[4]));
        }
        let crc = u32::from_be_bytes([b[39], b[40], b[41], b[42]]);
        if crc32fast::hash(&b[..39]) != crc {
            return Err(HeaderError::Checksum);
        }
        let kind = match b[5] {
            1 => Kind::Request,
            2 => Kind::Response,
            k => return Err(HeaderError::Kind(k)),
        };
        if b[6] == 0 || b[6] > MAX_HOPS {
            return Err(HeaderError::Hops(b[6]));
        }
        let transport = match b[7] {
            1 => FlowTransport::Tcp,
            2 => FlowTransport::Tls,
            3 => FlowTransport::Ws,
            4 => FlowTransport::Wss,
            t => return Err(HeaderError::Transport(t)),
        };
        let ip = match b[16] {
            4 if b[21..33].iter().all(|&o| o == 0) => {
                IpAddr::V4(Ipv4Addr::new(b[17], b[18], b[19], b[20]))
            }
            6 => {
                let mut o = [0u8; 16];
                o.copy_from_slice(&b[17..33]);
                IpAddr::V6(Ipv6Addr::from(o))
            }
            _ => return Err(HeaderError::Address),
        };
        Ok(Header {
            kind,
            hops: b[6],
            transport,
            target: u16::from_be_bytes([b[8], b[9]]),
            source: u16::from_be_bytes([b[10], b[11]]),
            connection: u32::from_be_bytes([b[12], b[13], b[14], b[15]]),
            ue: SocketAddr::new(ip, u16::from_be_bytes([b[33], b[34]])),
            body_len: u32::from_be_bytes([b[35], b[36], b[37], b[38]]),
        })
    }
}

/// The owner's answer to one relayed message: the end of the stream alone
/// (delivered) or one octet, then the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    /// Written to the flow's connection.
    Delivered,
    /// The flow's connection is gone (or belongs to another peer now).
    FlowGone,
    /// Not taken: a bad header, the wrong instance, a message over the
    /// limits or not SIP.
    Refused,
}

impl Ack {
    /// The octet on the wire.
    pub fn octet(self) -> u8 {
        match self {
            Ack::Delivered => 0xA0,
            Ack::FlowGone => 0xA1,
            Ack::Refused => 0xA2,
        }
    }

    /// The answer an octet means, if any.
    pub fn from_octet(o: u8) -> Option<Ack> {
        match o {
            0xA0 => Some(Ack::Delivered),
            0xA1 => Some(Ack::FlowGone),
            0xA2 => Some(Ack::Refused),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn sample(ue: &str) -> Header {
        Header {
            kind: Kind::Request,
            hops: 1,
            transport: FlowTransport::Tls,
            target: 3,
            source: 2,
            connection: 0xdead_beef,
            ue: ue.parse().unwrap(),
            body_len: 1234,
        }
    }

    #[test]
    fn round_trips_v4_and_v6() {
        for ue in ["192.0.2.7:5060", "[2001:db8::1]:40000"] {
            let h = sample(ue);
            assert_eq!(Header::decode(&h.encode()), Ok(h));
        }
    }

    #[test]
    fn every_single_bit_flip_is_refused() {
        for ue in ["192.0.2.7:5060", "[2001:db8::1]:40000"] {
            let good = sample(ue).encode();
            for bit in 0..LEN * 8 {
                let mut b = good;
                b[bit / 8] ^= 1 << (bit % 8);
                assert!(
                    Header::decode(&b).is_err(),
                    "bit {bit} flipped was accepted"
                );
            }
        }
    }

    #[test]
    fn truncation_is_refused() {
        let good = sample("192.0.2.7:5060").encode();
        for n in 0..LEN {
            assert_eq!(Header::decode(&good[..n]), Err(HeaderError::Truncated(n)));
        }
    }

    #[test]
    fn loops_and_unknown_values_are_refused() {
        let mut h = sample("192.0.2.7:5060");
        h.hops = 2;
        assert_eq!(Header::decode(&h.encode()), Err(HeaderError::Hops(2)));
        h.hops = 0;
        assert_eq!(Header::decode(&h.encode()), Err(HeaderError::Hops(0)));
        let mut b = sample("192.0.2.7:5060").encode();
        b[4] = 2;
        assert_eq!(Header::decode(&b), Err(HeaderError::Version(2)));
        assert_eq!(
            Header::decode(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n0123456789abcdef"),
            Err(HeaderError::BadMagic)
        );
    }

    #[test]
    fn acks_round_trip() {
        for a in [Ack::Delivered, Ack::FlowGone, Ack::Refused] {
            assert_eq!(Ack::from_octet(a.octet()), Some(a));
        }
        assert_eq!(Ack::from_octet(0), None);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = Header::decode(&b);
        }
    }
}
