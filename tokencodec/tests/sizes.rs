//! Token sizes, measured on real sealed tokens, and the size table of
//! `docs/tokens.md` checked against them.

#[path = "support/strategies.rs"]
mod support;

use std::net::SocketAddr;

use tokencodec::{
    encoded_len, sealed_len, Backend, Flow, Kind, Route, Token, Transport, MAX_TOKEN_LEN,
    TOKEN_EPOCH,
};

fn addr(v6: bool) -> SocketAddr {
    let text = if v6 {
        "[2001:db8:85a3::8a2e:370:7334]:65535"
    } else {
        "203.0.113.254:65535"
    };
    text.parse().expect("addr")
}

fn token(kind: Kind, ue_v6: bool, local_v6: bool, backend_v6: bool) -> Token {
    let flow = Flow {
        transport: Transport::Tls,
        ue: addr(ue_v6),
        local: addr(local_v6),
        instance: u16::MAX,
        connection: u32::MAX,
    };
    match kind {
        Kind::Flow => Token::Flow(flow),
        Kind::Route => Token::Route(Route {
            flow,
            backend: Backend {
                transport: Transport::Udp,
                addr: addr(backend_v6),
            },
        }),
    }
}

fn family(v6: bool) -> &'static str {
    if v6 {
        "IPv6"
    } else {
        "IPv4"
    }
}

/// The size table, one row per kind and combination of address families,
/// every number measured on a sealed token.
fn table() -> String {
    let codec = support::codec(1, 0x11);
    let mut out = String::from(
        "| kind | UE | local | backend | plaintext bytes | sealed bytes | encoded chars |\n\
         |---|---|---|---|---:|---:|---:|\n",
    );
    for kind in [Kind::Flow, Kind::Route] {
        let backends: &[bool] = match kind {
            Kind::Flow => &[false],
            Kind::Route => &[false, true],
        };
        for &backend_v6 in backends {
            for (ue_v6, local_v6) in [(false, false), (true, false), (false, true), (true, true)] {
                let token = token(kind, ue_v6, local_v6, backend_v6);
                let sealed = codec.seal(&token, TOKEN_EPOCH + 1).expect("seals");
                let bytes = sealed_len(kind, ue_v6, local_v6, backend_v6);
                assert_eq!(sealed.len(), encoded_len(kind, ue_v6, local_v6, backend_v6));
                assert_eq!(sealed.len(), (bytes * 4).div_ceil(3));
                let backend = match kind {
                    Kind::Flow => "-",
                    Kind::Route => family(backend_v6),
                };
                out.push_str(&format!(
                    "| {kind} | {} | {} | {backend} | {} | {bytes} | {} |\n",
                    family(ue_v6),
                    family(local_v6),
                    bytes - 14,
                    sealed.len()
                ));
            }
        }
    }
    out
}

#[test]
fn required_size_limits() {
    let codec = support::codec(1, 0x11);
    let v4 = codec
        .seal(&token(Kind::Route, false, false, false), TOKEN_EPOCH)
        .expect("seals");
    let v6 = codec
        .seal(&token(Kind::Route, true, true, true), TOKEN_EPOCH)
        .expect("seals");
    println!("IPv4 route token: {} chars: {v4}", v4.len());
    println!("IPv6 route token: {} chars: {v6}", v6.len());
    assert!(v4.len() <= 80, "IPv4 route token is {} chars", v4.len());
    assert!(v6.len() <= 110, "IPv6 route token is {} chars", v6.len());
    assert_eq!(v6.len(), MAX_TOKEN_LEN);
}

#[test]
fn docs_size_table_matches_the_code() {
    let table = table();
    println!("{table}");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/tokens.md");
    let doc = std::fs::read_to_string(path).expect("docs/tokens.md exists");
    assert!(
        doc.contains(&table),
        "the size table in docs/tokens.md is out of date; it should read:\n\n{table}"
    );
}
