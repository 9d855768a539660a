//! The plaintext layout of flow and route tokens, version 1.
//!
//! ```text
//! offset  size   field
//! 0       1      shape: bits 7-6 kind (00 flow, 01 route), bits 5-3 zero,
//!                bit 2 UE is IPv6, bit 1 local is IPv6, bit 0 backend is IPv6
//! 1       1      transports: bits 7-4 flow transport, bits 3-0 backend
//!                transport (0 in a flow token); 0 udp 1 tcp 2 tls 3 ws 4 wss
//! 2       4      issue time, u32 seconds since TOKEN_EPOCH, big-endian
//! 6       2      edge instance id, u16 big-endian
//! 8       4      connection id, u32 big-endian
//! 12      4|16   UE address, then 2 bytes UE port
//! ..      4|16   local listener address, then 2 bytes port
//! ..      4|16   backend address, then 2 bytes port (route tokens only)
//! ```
//!
//! Decoding is strict: reserved bits, unknown codes and any length that does
//! not match the shape byte are rejected.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::error::Error;
use crate::flow::Flow;
use crate::route::{Backend, Route};
use crate::token::{Kind, Token};
use crate::transport;

/// Bytes before the first address.
const FIXED_LEN: usize = 12;
/// The longest plaintext: a route token with three IPv6 addresses.
pub(crate) const MAX_PLAINTEXT: usize = FIXED_LEN + 3 * (16 + 2);

const KIND_ROUTE: u8 = 0b0100_0000;
const KIND_MASK: u8 = 0b1100_0000;
const RESERVED_MASK: u8 = 0b0011_1000;
const UE_V6: u8 = 0b100;
const LOCAL_V6: u8 = 0b010;
const BACKEND_V6: u8 = 0b001;

/// Length of the plaintext for a token of `kind` with the given address
/// families (`true` = IPv6); `backend_v6` is ignored for flows.
pub(crate) fn plaintext_len(kind: Kind, ue_v6: bool, local_v6: bool, backend_v6: bool) -> usize {
    let addr = |v6: bool| if v6 { 18 } else { 6 };
    let backend = match kind {
        Kind::Flow => 0,
        Kind::Route => addr(backend_v6),
    };
    FIXED_LEN + addr(ue_v6) + addr(local_v6) + backend
}

/// Whether `n` is the plaintext length of some valid token, which lets an
/// opener reject impossible lengths before any cryptography.
pub(crate) fn is_possible_len(n: usize) -> bool {
    // Addresses are 6 or 18 bytes: 2 or 3 of them.
    let rest = n.wrapping_sub(FIXED_LEN);
    n >= FIXED_LEN && matches!(rest, 12 | 24 | 36 | 18 | 30 | 42 | 54)
}

/// Writes the plaintext of `token`, issued at `issued` (token time), into
/// `buf`; returns its length.
pub(crate) fn encode(token: &Token, issued: u32, buf: &mut [u8; MAX_PLAINTEXT]) -> usize {
    let flow = token.flow();
    let (kind_bits, backend) = match token {
        Token::Flow(_) => (0, None),
        Token::Route(route) => (KIND_ROUTE, Some(&route.backend)),
    };
    let mut shape = kind_bits;
    if flow.ue.is_ipv6() {
        shape |= UE_V6;
    }
    if flow.local.is_ipv6() {
        shape |= LOCAL_V6;
    }
    if backend.is_some_and(|b| b.addr.is_ipv6()) {
        shape |= BACKEND_V6;
    }
    let backend_code = backend.map_or(0, |b| transport::code(b.transport));
    let mut w = Writer { buf, pos: 0 };
    w.put(&[shape, (transport::code(flow.transport) << 4) | backend_code]);
    w.put(&issued.to_be_bytes());
    w.put(&flow.instance.to_be_bytes());
    w.put(&flow.connection.to_be_bytes());
    w.put_addr(&flow.ue);
    w.put_addr(&flow.local);
    if let Some(backend) = backend {
        w.put_addr(&backend.addr);
    }
    w.pos
}

/// Parses a plaintext back into the token and its issue time (token time).
pub(crate) fn decode(plaintext: &[u8]) -> Result<(Token, u32), Error> {
    let mut r = Reader { rest: plaintext };
    let [shape, transports] = r.array()?;
    if shape & RESERVED_MASK != 0 {
        return Err(Error::Malformed);
    }
    let kind = match shape & KIND_MASK {
        0 => Kind::Flow,
        KIND_ROUTE => Kind::Route,
        _ => return Err(Error::Malformed),
    };
    if kind == Kind::Flow && (shape & BACKEND_V6 != 0 || transports & 0x0f != 0) {
        return Err(Error::Malformed);
    }
    let flow_transport = transport::from_code(transports >> 4).ok_or(Error::Malformed)?;
    let issued = u32::from_be_bytes(r.array()?);
    let instance = u16::from_be_bytes(r.array()?);
    let connection = u32::from_be_bytes(r.array()?);
    let ue = r.addr(shape & UE_V6 != 0)?;
    let local = r.addr(shape & LOCAL_V6 != 0)?;
    let flow = Flow {
        transport: flow_transport,
        ue,
        local,
        instance,
        connection,
    };
    let token = match kind {
        Kind::Flow => Token::Flow(flow),
        Kind::Route => {
            let transport = transport::from_code(transports & 0x0f).ok_or(Error::Malformed)?;
            let addr = r.addr(shape & BACKEND_V6 != 0)?;
            Token::Route(Route {
                flow,
                backend: Backend { transport, addr },
            })
        }
    };
    if !r.rest.is_empty() {
        return Err(Error::Malformed);
    }
    Ok((token, issued))
}

struct Writer<'a> {
    buf: &'a mut [u8; MAX_PLAINTEXT],
    pos: usize,
}

impl Writer<'_> {
    /// Appends `bytes`. The buffer fits the longest layout, so the bounds
    /// check never fails; if it did, the length would not match the shape
    /// byte and the token would not open.
    fn put(&mut self, bytes: &[u8]) {
        let end = self.pos + bytes.len();
        if let Some(dst) = self.buf.get_mut(self.pos..end) {
            dst.copy_from_slice(bytes);
            self.pos = end;
        }
    }

    fn put_addr(&mut self, addr: &SocketAddr) {
        match addr.ip() {
            IpAddr::V4(ip) => self.put(&ip.octets()),
            IpAddr::V6(ip) => self.put(&ip.octets()),
        }
        self.put(&addr.port().to_be_bytes());
    }
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl Reader<'_> {
    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let (head, rest) = self.rest.split_first_chunk::<N>().ok_or(Error::Malformed)?;
        self.rest = rest;
        Ok(*head)
    }

    fn addr(&mut self, v6: bool) -> Result<SocketAddr, Error> {
        let ip = if v6 {
            IpAddr::V6(Ipv6Addr::from(self.array::<16>()?))
        } else {
            IpAddr::V4(Ipv4Addr::from(self.array::<4>()?))
        };
        let port = u16::from_be_bytes(self.array()?);
        Ok(SocketAddr::new(ip, port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Transport;

    fn route(ue: &str, local: &str, backend: &str) -> Token {
        Token::Route(Route {
            flow: Flow {
                transport: Transport::Wss,
                ue: ue.parse().expect("addr"),
                local: local.parse().expect("addr"),
                instance: 0xbeef,
                connection: 0xdead_beef,
            },
            backend: Backend {
                transport: Transport::Tls,
                addr: backend.parse().expect("addr"),
            },
        })
    }

    #[test]
    fn round_trip_and_lengths() {
        let cases = [
            route("192.0.2.1:1", "192.0.2.2:2", "192.0.2.3:3"),
            route("[2001:db8::1]:1", "192.0.2.2:2", "[::1]:3"),
            route("[2001:db8::1]:1", "[2001:db8::2]:2", "[2001:db8::3]:3"),
        ];
        for token in cases {
            let mut buf = [0u8; MAX_PLAINTEXT];
            let n = encode(&token, 77, &mut buf);
            let flow = token.flow();
            let backend_v6 = matches!(token, Token::Route(r) if r.backend.addr.is_ipv6());
            assert_eq!(
                n,
                plaintext_len(
                    token.kind(),
                    flow.ue.is_ipv6(),
                    flow.local.is_ipv6(),
                    backend_v6
                )
            );
            assert!(is_possible_len(n));
            assert_eq!(decode(&buf[..n]).ok(), Some((token, 77)));
            let flow_token = Token::Flow(*flow);
            let n = encode(&flow_token, 5, &mut buf);
            assert!(is_possible_len(n));
            assert_eq!(decode(&buf[..n]).ok(), Some((flow_token, 5)));
        }
        assert_eq!(MAX_PLAINTEXT, 66);
    }

    #[test]
    fn possible_lengths() {
        let mut lens = Vec::new();
        for kind in [Kind::Flow, Kind::Route] {
            for bits in 0..8u8 {
                lens.push(plaintext_len(
                    kind,
                    bits & 4 != 0,
                    bits & 2 != 0,
                    bits & 1 != 0,
                ));
            }
        }
        for n in 0..200 {
            assert_eq!(is_possible_len(n), lens.contains(&n), "{n}");
        }
    }

    #[test]
    fn strict_decoding() {
        let token = route("192.0.2.1:1", "192.0.2.2:2", "192.0.2.3:3");
        let mut buf = [0u8; MAX_PLAINTEXT];
        let n = encode(&token, 1, &mut buf);
        let good = buf[..n].to_vec();
        let mutate = |i: usize, v: u8| {
            let mut b = good.clone();
            b[i] = v;
            decode(&b)
        };
        assert!(mutate(0, good[0] | 0b1000_0000).is_err(), "unknown kind");
        assert!(mutate(0, good[0] | 0b0000_1000).is_err(), "reserved bit");
        assert!(mutate(1, 0x52).is_err(), "bad flow transport");
        assert!(mutate(1, 0x45).is_err(), "bad backend transport");
        assert!(mutate(0, 0).is_err(), "flow shape with route length");
        assert!(decode(&good[..n - 1]).is_err());
        let mut longer = good.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
        assert!(decode(&[]).is_err());
    }
}
