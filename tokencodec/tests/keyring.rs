//! Key rings end to end: key files, the environment, secrets kept out of
//! `Debug` and errors.

#[path = "support/strategies.rs"]
mod support;

use tokencodec::{
    Error, Flow, KeyFileFormat, KeyId, KeyRing, Limits, Secret, TokenCodec, Transport, TOKEN_EPOCH,
};

fn flow() -> Flow {
    Flow {
        transport: Transport::Tcp,
        ue: "[2001:db8::5]:40000".parse().expect("addr"),
        local: "[2001:db8::1]:5060".parse().expect("addr"),
        instance: 12,
        connection: 345,
    }
}

#[test]
fn a_ring_written_to_a_key_file_opens_the_same_tokens() {
    let mut ring = KeyRing::generate(KeyId(1)).expect("rng");
    ring.rotate(KeyId(2)).expect("rotate");
    let original = TokenCodec::new(ring.clone(), Limits::default());
    let sealed = original
        .seal_flow(&flow(), TOKEN_EPOCH + 100)
        .expect("seals");
    for format in [KeyFileFormat::Yaml, KeyFileFormat::Json] {
        let text = ring.to_key_file(format);
        let loaded = KeyRing::from_key_file(&text).expect("parses");
        assert_eq!(loaded.current(), KeyId(2));
        assert_eq!(loaded.key_ids(), vec![KeyId(1), KeyId(2)]);
        let codec = TokenCodec::new(loaded, Limits::default());
        assert_eq!(
            codec.seal_flow(&flow(), TOKEN_EPOCH + 100).expect("seals"),
            sealed
        );
        assert_eq!(
            codec
                .open_flow(&sealed, TOKEN_EPOCH + 100)
                .expect("opens")
                .token,
            flow()
        );
    }
}

#[test]
fn loads_from_the_environment() {
    let ring = support::ring(3, 0x33);
    let var = "TOKENCODEC_TEST_KEYS_LOADS_FROM_THE_ENVIRONMENT";
    std::env::set_var(var, ring.to_key_file(KeyFileFormat::Json));
    let loaded = KeyRing::load_env(var).expect("loads");
    std::env::remove_var(var);
    assert_eq!(loaded.current(), KeyId(3));
    let sealed = TokenCodec::new(ring, Limits::default())
        .seal_flow(&flow(), TOKEN_EPOCH)
        .expect("seals");
    let codec = TokenCodec::new(loaded, Limits::default());
    assert!(codec.open_flow(&sealed, TOKEN_EPOCH).is_ok());
}

#[test]
fn accepts_a_hand_written_key_file() {
    let text = r#"
# two keys; 7 seals, 6 still opens
current: 7
keys:
  - id: 6
    secret: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
  - id: 7
    secret: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8
"#;
    let ring = KeyRing::from_key_file(text).expect("parses");
    assert_eq!(ring.current(), KeyId(7));
    assert_eq!(ring.key_ids(), vec![KeyId(6), KeyId(7)]);
    let json = r#"{"current": 6, "keys": [{"id": 6, "secret": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}]}"#;
    assert_eq!(
        KeyRing::from_key_file(json).expect("parses").current(),
        KeyId(6)
    );
}

#[test]
fn secrets_never_show_in_debug_or_errors() {
    let secret_bytes = [0x5a; 32];
    let secret_b64 = Secret::from_bytes(secret_bytes).to_base64();
    let ring =
        KeyRing::new(KeyId(1), [(KeyId(1), Secret::from_bytes(secret_bytes))]).expect("ring");
    let codec = TokenCodec::new(ring.clone(), Limits::default());
    let shown = [
        format!("{ring:?}"),
        format!("{ring:#?}"),
        format!("{codec:?}"),
        format!("{:?}", Secret::from_bytes(secret_bytes)),
    ];
    let hex: String = secret_bytes.iter().map(|b| format!("{b:02x}")).collect();
    for text in &shown {
        assert!(!text.contains(&secret_b64), "{text}");
        assert!(!text.contains(&secret_b64[..16]), "{text}");
        assert!(!text.to_lowercase().contains(&hex[..16]), "{text}");
        assert!(!text.contains("90, 90, 90"), "{text}");
    }
    // A secret in the wrong place of a key file is not quoted back.
    let misplaced = format!("current: {secret_b64}\nkeys: []\n");
    let err = KeyRing::from_key_file(&misplaced).expect_err("invalid");
    assert!(!err.to_string().contains(&secret_b64[..16]), "{err}");
    assert!(!format!("{err:?}").contains(&secret_b64[..16]), "{err:?}");
}

#[test]
fn rejects_invalid_rings() {
    let secret = Secret::from_bytes([1; 32]).to_base64();
    for text in [
        "",
        "current: 1",
        "keys: []",
        "{}",
        "[]",
        "current: 1\nkeys: []\n",
        &format!("current: 2\nkeys: [{{id: 1, secret: \"{secret}\"}}]\n"),
        &format!("current: 1\nkeys: [{{id: 1, secret: \"{secret}\", note: x}}]\n"),
    ] {
        assert!(
            matches!(
                KeyRing::from_key_file(text),
                Err(Error::KeyFile(_) | Error::KeyRing(_))
            ),
            "accepted: {text:?}"
        );
    }
}
