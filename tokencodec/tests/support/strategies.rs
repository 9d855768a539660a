//! Shared test helpers: key rings and proptest strategies.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use proptest::prelude::*;
use tokencodec::{
    Backend, Flow, KeyId, KeyRing, Limits, Route, Secret, Token, TokenCodec, Transport, TOKEN_EPOCH,
};

/// A ring with one key `id` whose secret is `fill` repeated.
pub fn ring(id: u8, fill: u8) -> KeyRing {
    KeyRing::new(KeyId(id), [(KeyId(id), Secret::from_bytes([fill; 32]))]).expect("valid ring")
}

/// A codec over [`ring`] with the default limits.
pub fn codec(id: u8, fill: u8) -> TokenCodec {
    TokenCodec::new(ring(id, fill), Limits::default())
}

/// Address family choice for generated addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
    Any,
}

pub fn ip(family: Family) -> BoxedStrategy<IpAddr> {
    let v4 = any::<[u8; 4]>().prop_map(|b| IpAddr::V4(Ipv4Addr::from(b)));
    let v6 = any::<[u8; 16]>().prop_map(|b| IpAddr::V6(Ipv6Addr::from(b)));
    match family {
        Family::V4 => v4.boxed(),
        Family::V6 => v6.boxed(),
        Family::Any => prop_oneof![v4, v6].boxed(),
    }
}

pub fn addr(family: Family) -> impl Strategy<Value = SocketAddr> {
    (ip(family), any::<u16>()).prop_map(|(ip, port)| SocketAddr::new(ip, port))
}

pub fn transport() -> impl Strategy<Value = Transport> {
    prop::sample::select(Transport::ALL.to_vec())
}

pub fn flow(family: Family) -> impl Strategy<Value = Flow> {
    (
        transport(),
        addr(family),
        addr(family),
        any::<u16>(),
        any::<u32>(),
    )
        .prop_map(|(transport, ue, local, instance, connection)| Flow {
            transport,
            ue,
            local,
            instance,
            connection,
        })
}

pub fn route(family: Family) -> impl Strategy<Value = Route> {
    (flow(family), transport(), addr(family)).prop_map(|(flow, transport, addr)| Route {
        flow,
        backend: Backend { transport, addr },
    })
}

/// A token of either kind, all addresses of `family`.
pub fn token(family: Family) -> impl Strategy<Value = Token> {
    prop_oneof![
        flow(family).prop_map(Token::Flow),
        route(family).prop_map(Token::Route)
    ]
}

/// A `now` that a token can carry, with room for a maximum age after it.
pub fn now() -> impl Strategy<Value = u64> {
    TOKEN_EPOCH..TOKEN_EPOCH + u64::from(u32::MAX) - 30 * 24 * 3600
}

/// Whether every character is in the base64url alphabet.
pub fn is_base64url(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The smallest `now` a token can carry.
pub fn now_min() -> u64 {
    TOKEN_EPOCH
}
