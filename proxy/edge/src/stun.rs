//! STUN binding requests on the SIP UDP port (RFC 5389 / RFC 8489; RFC 5626
//! §8.4 keepalives): answered with XOR-MAPPED-ADDRESS.

use std::net::SocketAddr;

use bytes::{BufMut, Bytes, BytesMut};
use thiserror::Error;

const MAGIC: u32 = 0x2112_A442;
const BINDING_REQUEST: u16 = 0x0001;
const BINDING_SUCCESS: u16 = 0x0101;
const XOR_MAPPED_ADDRESS: u16 = 0x0020;

/// Why a datagram is not a STUN binding request the edge answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum StunError {
    /// Not a STUN message (first two bits, magic cookie, length).
    #[error("not a STUN message")]
    NotStun,
    /// A STUN message other than a binding request.
    #[error("not a binding request")]
    NotBindingRequest,
}

/// True when the datagram looks like STUN (RFC 8489 §6: top two bits zero,
/// magic cookie, length a multiple of 4 that fits).
pub fn is_stun(d: &[u8]) -> bool {
    d.len() >= 20 && d[0] & 0xc0 == 0 && u32::from_be_bytes([d[4], d[5], d[6], d[7]]) == MAGIC && {
        let len = usize::from(u16::from_be_bytes([d[2], d[3]]));
        len % 4 == 0 && 20 + len == d.len()
    }
}

/// The Binding success response to a Binding request from `source`.
pub fn stun_binding_response(request: &[u8], source: SocketAddr) -> Result<Bytes, StunError> {
    if !is_stun(request) {
        return Err(StunError::NotStun);
    }
    if u16::from_be_bytes([request[0], request[1]]) != BINDING_REQUEST {
        return Err(StunError::NotBindingRequest);
    }
    let txid = &request[8..20];
    let mut attr = BytesMut::with_capacity(24);
    let port = source.port() ^ (MAGIC >> 16) as u16;
    attr.put_u8(0);
    match source {
        SocketAddr::V4(a) => {
            attr.put_u8(0x01);
            attr.put_u16(port);
            attr.put_u32(u32::from(*a.ip()) ^ MAGIC);
        }
        SocketAddr::V6(a) => {
            attr.put_u8(0x02);
            attr.put_u16(port);
            let mut key = [0u8; 16];
            key[..4].copy_from_slice(&MAGIC.to_be_bytes());
            key[4..].copy_from_slice(txid);
            for (b, k) in a.ip().octets().iter().zip(key) {
                attr.put_u8(b ^ k);
            }
        }
    }
    let mut out = BytesMut::with_capacity(20 + 4 + attr.len());
    out.put_u16(BINDING_SUCCESS);
    out.put_u16((4 + attr.len()) as u16);
    out.put_u32(MAGIC);
    out.put_slice(txid);
    out.put_u16(XOR_MAPPED_ADDRESS);
    out.put_u16(attr.len() as u16);
    out.put_slice(&attr);
    Ok(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Vec<u8> {
        let mut r = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42];
        r.extend_from_slice(&[
            0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
        ]);
        r
    }

    #[test]
    fn ipv4_mapped_address() {
        // RFC 5769 §2.2: 192.0.2.1:32853 encodes as 0x8112 / 0xe112a643.
        let resp = stun_binding_response(&request(), "192.0.2.1:32853".parse().unwrap()).unwrap();
        assert_eq!(&resp[0..2], &[0x01, 0x01]);
        assert_eq!(&resp[8..20], &request()[8..20]);
        assert_eq!(&resp[20..24], &[0x00, 0x20, 0x00, 0x08]);
        assert_eq!(
            &resp[24..32],
            &[0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43]
        );
        assert!(is_stun(&resp));
    }

    #[test]
    fn ipv6_mapped_address() {
        // RFC 5769 §2.3: 2001:db8:1234:5678:11:2233:4455:6677 port 32853.
        let resp = stun_binding_response(
            &request(),
            "[2001:db8:1234:5678:11:2233:4455:6677]:32853"
                .parse()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            &resp[24..44],
            &[
                0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25,
                0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9
            ]
        );
    }

    #[test]
    fn not_stun() {
        assert_eq!(
            stun_binding_response(b"OPTIONS sip:x SIP/2.0\r\n", "192.0.2.1:1".parse().unwrap()),
            Err(StunError::NotStun)
        );
        let mut r = request();
        r[1] = 0x11;
        assert_eq!(
            stun_binding_response(&r, "192.0.2.1:1".parse().unwrap()),
            Err(StunError::NotBindingRequest)
        );
        assert!(!is_stun(&r[..19]));
    }
}
