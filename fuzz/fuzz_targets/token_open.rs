//! Opening arbitrary input as a token or a Via branch never panics, and
//! nothing but a genuine token opens.
//!
//! The input is fed as raw bytes and, where it is UTF-8, as text, to every
//! opener of a fixed key ring. Inputs long enough to describe a route are
//! also sealed and opened again, which must round-trip.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tokencodec::{
    Backend, BranchInputs, Flow, KeyId, KeyRing, Limits, Route, Secret, Token, TokenCodec,
    Transport, TOKEN_EPOCH,
};

/// One instant inside the token range, fixed so runs are reproducible.
const NOW: u64 = TOKEN_EPOCH + 100_000_000;

fn codec() -> &'static TokenCodec {
    static CODEC: OnceLock<TokenCodec> = OnceLock::new();
    CODEC.get_or_init(|| {
        let ring = KeyRing::new(
            KeyId(2),
            [
                (KeyId(1), Secret::from_bytes([0x11; 32])),
                (KeyId(2), Secret::from_bytes([0x22; 32])),
            ],
        )
        .expect("valid ring");
        TokenCodec::new(ring, Limits::default())
    })
}

fn open_everything(codec: &TokenCodec, input: &[u8]) {
    // Random bytes must not authenticate (a 2^-96 chance per try).
    assert!(codec.open_any(input, NOW).is_err());
    assert!(codec.open_flow(input, NOW).is_err());
    assert!(codec.open_route(input, NOW).is_err());
    assert!(codec.verify_branch(input).is_err());
    let _ = codec.open_any(input, 0);
    let _ = codec.open_any(input, u64::MAX);
}

/// Reads fixed-size pieces off the input.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }

    fn transport(&mut self) -> Option<Transport> {
        let [b] = self.take()?;
        Some(Transport::ALL[usize::from(b) % Transport::ALL.len()])
    }

    fn addr(&mut self) -> Option<SocketAddr> {
        let [family] = self.take()?;
        let ip = if family & 1 == 0 {
            IpAddr::V4(Ipv4Addr::from(self.take::<4>()?))
        } else {
            IpAddr::V6(Ipv6Addr::from(self.take::<16>()?))
        };
        Some(SocketAddr::new(ip, u16::from_be_bytes(self.take()?)))
    }

    fn route(&mut self) -> Option<(Route, u64)> {
        let flow = Flow {
            transport: self.transport()?,
            ue: self.addr()?,
            local: self.addr()?,
            instance: u16::from_be_bytes(self.take()?),
            connection: u32::from_be_bytes(self.take()?),
        };
        let backend = Backend {
            transport: self.transport()?,
            addr: self.addr()?,
        };
        let issued = TOKEN_EPOCH + u64::from(u32::from_be_bytes(self.take()?));
        Some((Route { flow, backend }, issued))
    }
}

fuzz_target!(|data: &[u8]| {
    let codec = codec();
    open_everything(codec, data);
    if let Ok(text) = std::str::from_utf8(data) {
        open_everything(codec, text.trim().as_bytes());
        // The branch of arbitrary inputs always verifies.
        let inputs = BranchInputs {
            via_branch: text.as_bytes(),
            call_id: data,
            ..BranchInputs::default()
        };
        let branch = codec.branch(&inputs);
        assert!(codec.verify_branch(branch.as_str()).is_ok());
    }
    if let Some((route, issued)) = Bytes(data).route() {
        for token in [Token::Route(route), Token::Flow(route.flow)] {
            let sealed = codec.seal(&token, issued).expect("in range");
            let opened = codec.open_any(&sealed, issued).expect("opens");
            assert_eq!(opened.token, token);
            assert_eq!(opened.issued_at, issued);
        }
    }
});
