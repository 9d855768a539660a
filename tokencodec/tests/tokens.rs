//! Property tests of flow and route tokens: every kind, IPv4 and IPv6.

#[path = "support/strategies.rs"]
mod support;

use proptest::prelude::*;
use support::{codec, is_base64url, now, ring, token, Family};
use tokencodec::{
    encoded_len, Error, Flow, KeyId, Kind, Limits, Secret, Token, TokenCodec, MAX_TOKEN_LEN,
};

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(64)
}

fn families() -> impl Strategy<Value = Family> {
    prop_oneof![Just(Family::V4), Just(Family::V6), Just(Family::Any)]
}

fn any_token() -> impl Strategy<Value = Token> {
    families().prop_flat_map(token)
}

fn expected_len(token: &Token) -> usize {
    let flow: &Flow = token.flow();
    let backend_v6 = matches!(token, Token::Route(r) if r.backend.addr.is_ipv6());
    encoded_len(
        token.kind(),
        flow.ue.is_ipv6(),
        flow.local.is_ipv6(),
        backend_v6,
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn round_trip(token in any_token(), now in now(), age in 0..=Limits::DEFAULT_MAX_AGE_SECS) {
        let codec = codec(1, 0x11);
        let sealed = codec.seal(&token, now).expect("seals");
        prop_assert!(is_base64url(&sealed), "alphabet: {sealed}");
        prop_assert_eq!(sealed.len(), expected_len(&token));
        prop_assert!(sealed.len() <= MAX_TOKEN_LEN);
        // Deterministic: any instance with the ring seals the same text.
        prop_assert_eq!(&codec.seal(&token, now).expect("seals"), &sealed);
        prop_assert_eq!(&support::codec(1, 0x11).seal(&token, now).expect("seals"), &sealed);

        let opened = codec.open_any(&sealed, now + age).expect("opens");
        prop_assert_eq!(opened.token, token);
        prop_assert_eq!(opened.issued_at, now);
        prop_assert_eq!(opened.key_id, KeyId(1));
        match token {
            Token::Flow(flow) => {
                prop_assert_eq!(codec.open_flow(&sealed, now).expect("flow").token, flow);
                prop_assert!(matches!(
                    codec.open_route(&sealed, now),
                    Err(Error::WrongKind { expected: Kind::Route, found: Kind::Flow })
                ), "flow token opened as a route");
                prop_assert_eq!(codec.seal_flow(&flow, now).expect("seals"), sealed);
            }
            Token::Route(route) => {
                prop_assert_eq!(codec.open_route(&sealed, now).expect("route").token, route);
                prop_assert!(matches!(
                    codec.open_flow(&sealed, now),
                    Err(Error::WrongKind { expected: Kind::Flow, found: Kind::Route })
                ), "route token opened as a flow");
                prop_assert_eq!(codec.seal_route(&route, now).expect("seals"), sealed);
            }
        }
    }

    #[test]
    fn every_bit_flip_is_rejected(token in any_token(), now in now()) {
        let codec = codec(1, 0x11);
        let sealed = codec.seal(&token, now).expect("seals").into_bytes();
        for i in 0..sealed.len() {
            for bit in 0..8 {
                let mut flipped = sealed.clone();
                flipped[i] ^= 1 << bit;
                let result = codec.open_any(&flipped, now);
                prop_assert!(result.is_err(), "flip of bit {} of byte {} opened: {:?}", bit, i, result);
            }
        }
    }

    #[test]
    fn every_truncation_and_extension_is_rejected(token in any_token(), now in now(), extra in "[A-Za-z0-9_-]{1,4}") {
        let codec = codec(1, 0x11);
        let sealed = codec.seal(&token, now).expect("seals");
        for n in 0..sealed.len() {
            prop_assert!(codec.open_any(&sealed[..n], now).is_err(), "prefix of {} opened", n);
            prop_assert!(codec.open_any(&sealed[sealed.len() - n..], now).is_err(), "suffix of {} opened", n);
        }
        for variant in [
            format!("{sealed}{extra}"),
            format!("{extra}{sealed}"),
            format!("{sealed}="),
            format!(" {sealed}"),
            format!("{sealed}\n"),
        ] {
            prop_assert!(codec.open_any(&variant, now).is_err(), "opened: {}", variant);
        }
    }

    #[test]
    fn wrong_key_is_rejected(token in any_token(), now in now(), fill in 0u8..=255, id in 0u8..=255) {
        prop_assume!(fill != 0x11);
        let sealed = codec(1, 0x11).seal(&token, now).expect("seals");
        // Same id, other secret: fails authentication.
        prop_assert!(matches!(codec(1, fill).open_any(&sealed, now), Err(Error::Forged)), "other secret");
        // Other id: not in the ring.
        prop_assume!(id != 1);
        prop_assert!(matches!(codec(id, 0x11).open_any(&sealed, now), Err(Error::UnknownKey(KeyId(1)))), "other id");
    }

    #[test]
    fn rotation(token in any_token(), now in now()) {
        let old = codec(1, 0x11);
        let sealed_old = old.seal(&token, now).expect("seals");

        // Step 1 and 2: the new key is added and made current.
        let mut rotated = ring(1, 0x11);
        rotated.insert(KeyId(2), Secret::from_bytes([0x22; 32])).expect("insert");
        rotated.set_current(KeyId(2)).expect("current");
        let rotated = TokenCodec::new(rotated, Limits::default());
        let opened = rotated.open_any(&sealed_old, now + 1).expect("older key still opens");
        prop_assert_eq!(opened.token, token);
        prop_assert_eq!(opened.key_id, KeyId(1));
        let sealed_new = rotated.seal(&token, now).expect("seals");
        prop_assert_ne!(&sealed_new, &sealed_old);
        prop_assert_eq!(rotated.open_any(&sealed_new, now).expect("opens").key_id, KeyId(2));
        // An instance not yet rotated cannot open the new token.
        prop_assert!(matches!(old.open_any(&sealed_new, now), Err(Error::UnknownKey(KeyId(2)))), "new key unknown");

        // Step 3: the old key is removed.
        let mut retired = rotated.key_ring().clone();
        retired.remove(KeyId(1)).expect("remove");
        let retired = TokenCodec::new(retired, Limits::default());
        prop_assert!(matches!(retired.open_any(&sealed_old, now), Err(Error::UnknownKey(KeyId(1)))), "retired key");
        prop_assert!(retired.open_any(&sealed_new, now).is_ok());
    }

    #[test]
    fn expired_and_future_tokens_are_rejected(token in any_token(), now in now(), late in 1u64..1_000_000) {
        let limits = Limits { max_age_secs: 3600, max_skew_secs: 30 };
        let codec = TokenCodec::new(ring(1, 0x11), limits);
        let sealed = codec.seal(&token, now).expect("seals");
        prop_assert!(codec.open_any(&sealed, now + 3600).is_ok());
        prop_assert!(
            matches!(codec.open_any(&sealed, now + 3600 + late), Err(Error::Expired { issued_at, .. }) if issued_at == now),
            "expired token opened"
        );
        prop_assert!(codec.open_any(&sealed, now - 30).is_ok());
        prop_assert!(
            matches!(codec.open_any(&sealed, now - 30 - late), Err(Error::NotYetValid { .. })),
            "future token opened"
        );
    }

    #[test]
    fn garbage_never_opens(text in "[A-Za-z0-9_-]{0,120}", bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let codec = codec(1, 0x11);
        prop_assert!(codec.open_any(&text, support::now_min()).is_err());
        prop_assert!(codec.open_any(&bytes, support::now_min()).is_err());
    }
}

#[test]
fn time_outside_the_epoch_cannot_be_sealed() {
    let codec = codec(1, 0x11);
    let flow = Flow {
        transport: tokencodec::Transport::Udp,
        ue: "192.0.2.1:5060".parse().expect("addr"),
        local: "192.0.2.2:5060".parse().expect("addr"),
        instance: 0,
        connection: 0,
    };
    assert!(matches!(
        codec.seal_flow(&flow, 0),
        Err(Error::TimeOutOfRange(0))
    ));
    assert!(matches!(
        codec.seal_flow(&flow, u64::MAX),
        Err(Error::TimeOutOfRange(_))
    ));
    let mut out = String::from("prefix;");
    assert!(codec.seal_into(&Token::Flow(flow), 0, &mut out).is_err());
    assert_eq!(out, "prefix;", "unchanged on error");
    codec
        .seal_into(&Token::Flow(flow), tokencodec::TOKEN_EPOCH, &mut out)
        .expect("seals");
    assert!(out.starts_with("prefix;") && out.len() > 7);
}
