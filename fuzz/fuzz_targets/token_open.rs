//! Opening arbitrary input as a token or a Via branch never panics, and
//! whatever opens is canonical: it is exactly what sealing its contents
//! gives.
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
    Transport, BRANCH_LEN, MAGIC_COOKIE, TOKEN_EPOCH,
};

/// One instant inside the token range, fixed so runs are reproducible.
const NOW: u64 = TOKEN_EPOCH + 100_000_000;

/// Two codecs over the same two keys, sealing with key 2 and key 1.
fn codecs() -> &'static [TokenCodec; 2] {
    static CODECS: OnceLock<[TokenCodec; 2]> = OnceLock::new();
    CODECS.get_or_init(|| {
        let with_current = |current: u8| {
            let ring = KeyRing::new(
                KeyId(current),
                [
                    (KeyId(1), Secret::from_bytes([0x11; 32])),
                    (KeyId(2), Secret::from_bytes([0x22; 32])),
                ],
            )
            .expect("valid ring");
            TokenCodec::new(ring, Limits::default())
        };
        [with_current(2), with_current(1)]
    })
}

fn open_everything(input: &[u8]) {
    let [codec, _] = codecs();
    for now in [NOW, 0, u64::MAX] {
        match codec.open_any(input, now) {
            Ok(opened) => {
                // Only a genuine token opens (random bytes authenticate with
                // probability 2^-96), and it is the one canonical text for
                // its contents: re-sealing gives the input back.
                let sealer = codecs()
                    .iter()
                    .find(|c| c.key_ring().current() == opened.key_id)
                    .expect("key in ring");
                let again = sealer.seal(&opened.token, opened.issued_at).expect("seals");
                assert_eq!(again.as_bytes(), input);
                assert_eq!(
                    codec.open_flow(input, now).is_ok(),
                    matches!(opened.token, Token::Flow(_))
                );
                assert_eq!(
                    codec.open_route(input, now).is_ok(),
                    matches!(opened.token, Token::Route(_))
                );
            }
            Err(_) => {
                assert!(codec.open_flow(input, now).is_err());
                assert!(codec.open_route(input, now).is_err());
            }
        }
    }
    if codec.verify_branch(input).is_ok() {
        assert_eq!(input.len(), BRANCH_LEN);
        assert!(input.starts_with(MAGIC_COOKIE.as_bytes()));
    }
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
    let [codec, _] = codecs();
    open_everything(data);
    if let Ok(text) = std::str::from_utf8(data) {
        open_everything(text.trim().as_bytes());
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
