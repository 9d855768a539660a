//! Tests of `sip::digest`: RFC test vectors, a SIP round trip, rejections,
//! stateless nonces, malformed input and property tests.

// Helpers outside `#[test]` functions unwrap too; a panic is a test failure.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use sip::digest::{
    compute_response, nonce_valid, Algorithm, AuthParam, Challenge, ClientRequest, Credentials,
    DigestError, DigestInput, Expected, Ha1, Nonce, NonceCount, NonceStatus, Qop, Secret,
};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const NOW: u64 = 1_700_000_000;

// RFC 2617 §3.5.
const RFC2617_CHALLENGE: &str = concat!(
    "Digest\r\n",
    "    realm=\"testrealm@host.com\",\r\n",
    "    qop=\"auth,auth-int\",\r\n",
    "    nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",\r\n",
    "    opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
);
const RFC2617_CREDENTIALS: &str = concat!(
    "Digest username=\"Mufasa\",\r\n",
    "    realm=\"testrealm@host.com\",\r\n",
    "    nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",\r\n",
    "    uri=\"/dir/index.html\",\r\n",
    "    qop=auth,\r\n",
    "    nc=00000001,\r\n",
    "    cnonce=\"0a4f113b\",\r\n",
    "    response=\"6629fae49393a05397450978507c4ef1\",\r\n",
    "    opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
);

// RFC 7616 §3.9.1.
const RFC7616_REALM: &str = "http-auth@example.org";
const RFC7616_NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
const RFC7616_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
const RFC7616_OPAQUE: &str = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS";

fn rfc7616_challenge(algorithm: &str) -> String {
    format!(
        "Digest\n    realm=\"{RFC7616_REALM}\",\n    qop=\"auth, auth-int\",\n    \
         algorithm={algorithm},\n    nonce=\"{RFC7616_NONCE}\",\n    opaque=\"{RFC7616_OPAQUE}\""
    )
}

fn request<'a>(method: &'a str, uri: &'a str, cnonce: &'a str) -> ClientRequest<'a> {
    ClientRequest {
        method,
        uri,
        cnonce,
        nc: NonceCount::FIRST,
    }
}

#[test]
fn rfc2617_example_compute() {
    let ha1 = Ha1::from_password(
        Algorithm::Md5,
        "Mufasa",
        "testrealm@host.com",
        "Circle Of Life",
    );
    let input = DigestInput {
        algorithm: Algorithm::Md5,
        method: "GET",
        uri: "/dir/index.html",
        nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        cnonce: Some("0a4f113b"),
        qop: Some(Qop::Auth),
        nc: Some(NonceCount(1)),
    };
    assert_eq!(
        compute_response(&ha1, &input).unwrap(),
        "6629fae49393a05397450978507c4ef1"
    );
}

#[test]
fn rfc2617_example_client_and_server() {
    let challenge = Challenge::parse(RFC2617_CHALLENGE).unwrap();
    assert_eq!(challenge.realm, "testrealm@host.com");
    assert_eq!(challenge.qop, vec![Qop::Auth, Qop::AuthInt]);
    assert_eq!(challenge.algorithm, None);
    assert_eq!(challenge.effective_algorithm(), Algorithm::Md5);

    let creds = challenge
        .respond(
            "Mufasa",
            Secret::Password("Circle Of Life"),
            &request("GET", "/dir/index.html", "0a4f113b"),
        )
        .unwrap();
    let parsed = Credentials::parse(RFC2617_CREDENTIALS).unwrap();
    assert_eq!(creds, parsed);
    assert_eq!(
        creds.to_string(),
        "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", \
         nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", \
         response=\"6629fae49393a05397450978507c4ef1\", cnonce=\"0a4f113b\", \
         opaque=\"5ccc069c403ebaf9f0171e9517f40e41\", qop=auth, nc=00000001"
    );

    let algorithms = [Algorithm::Md5];
    let expected = Expected {
        opaque: Some("5ccc069c403ebaf9f0171e9517f40e41"),
        ..Expected::new("testrealm@host.com", &algorithms)
    };
    parsed
        .verify("GET", &expected, Secret::Password("Circle Of Life"))
        .unwrap();
}

#[test]
fn rfc7616_md5_and_sha256() {
    for (alg, want) in [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        (
            "SHA-256",
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
        ),
    ] {
        let challenge = Challenge::parse(&rfc7616_challenge(alg)).unwrap();
        assert_eq!(challenge.opaque.as_deref(), Some(RFC7616_OPAQUE));
        let creds = challenge
            .respond(
                "Mufasa",
                Secret::Password("Circle of Life"),
                &request("GET", "/dir/index.html", RFC7616_CNONCE),
            )
            .unwrap();
        assert_eq!(creds.response, want, "{alg}");
        assert_eq!(creds.qop, Some(Qop::Auth));
        assert_eq!(creds.algorithm, Some(Algorithm::parse(alg).unwrap()));

        let header = creds.to_string();
        assert!(header.contains(&format!("algorithm={alg}, ")), "{header}");
        let parsed = Credentials::parse(&header).unwrap();
        assert_eq!(parsed, creds);
        let algorithms = [Algorithm::parse(alg).unwrap()];
        parsed
            .verify(
                "GET",
                &Expected::new(RFC7616_REALM, &algorithms),
                Secret::Password("Circle of Life"),
            )
            .unwrap();
    }
}

/// RFC 7616 §3.9.2 uses SHA-512/256 with userhash; its published hashes do
/// not reproduce (known errata), so the expected response here was computed
/// independently with OpenSSL's SHA-512/256 (Python hashlib).
#[test]
fn sha512_256_cross_check() {
    let ha1 = Ha1::from_password(
        Algorithm::Sha512_256,
        "J\u{e4}s\u{f8}n Doe",
        "api@example.org",
        "Secret, or not?",
    );
    let input = DigestInput {
        algorithm: Algorithm::Sha512_256,
        method: "GET",
        uri: "/doc/index.html",
        nonce: "5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK",
        cnonce: Some("NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v"),
        qop: Some(Qop::Auth),
        nc: Some(NonceCount(1)),
    };
    assert_eq!(
        compute_response(&ha1, &input).unwrap(),
        "93308f41873a77f41ea3d87886878276f1a92271362e72275c3d3a38cf9f5fd6"
    );
}

/// A registrar flow: stateless nonce, SHA-256 and MD5 challenges, REGISTER.
#[test]
fn sip_register_round_trip() {
    let nonce = Nonce::issue(SECRET, NOW, &[0x42; 16]);
    let algorithms = [Algorithm::Sha256, Algorithm::Md5];
    for alg in algorithms {
        let mut challenge = Challenge::new("example.com", nonce.clone(), alg);
        challenge.opaque = Some("edge-7".to_owned());
        let www_authenticate = challenge.to_string();

        let seen = Challenge::parse(&www_authenticate).unwrap();
        assert_eq!(seen, challenge);
        let creds = seen
            .respond(
                "alice",
                Secret::Password("s3cret"),
                &request("REGISTER", "sip:example.com", "8f1c2d"),
            )
            .unwrap();
        let authorization = creds.to_string();

        let got = Credentials::parse(&authorization).unwrap();
        let expected = Expected {
            opaque: Some("edge-7"),
            ..Expected::new("example.com", &algorithms)
        };
        got.verify("REGISTER", &expected, Secret::Password("s3cret"))
            .unwrap();
        // The registrar's stored-HA1 path.
        let stored = Ha1::from_password(alg, "alice", "example.com", "s3cret")
            .as_hex()
            .to_owned();
        let ha1 = Ha1::from_hex(got.effective_algorithm(), &stored.to_ascii_uppercase()).unwrap();
        got.verify("REGISTER", &expected, Secret::Ha1(&ha1))
            .unwrap();
        assert_eq!(
            nonce_valid(SECRET, &got.nonce, NOW + 30, 300),
            Ok(NonceStatus::Fresh)
        );
    }
}

fn sip_credentials(alg: Algorithm) -> Credentials {
    Challenge::new("example.com", Nonce::issue(SECRET, NOW, b"r"), alg)
        .respond(
            "alice",
            Secret::Password("s3cret"),
            &request("REGISTER", "sip:example.com", "c0ffee"),
        )
        .unwrap()
}

#[test]
fn rejections() {
    let creds = sip_credentials(Algorithm::Sha256);
    let algorithms = [Algorithm::Sha256];
    let expected = Expected::new("example.com", &algorithms);
    let pw = Secret::Password("s3cret");

    let wrong_pw = creds.verify("REGISTER", &expected, Secret::Password("guess"));
    assert_eq!(wrong_pw, Err(DigestError::ResponseMismatch));
    let wrong_method = creds.verify("INVITE", &expected, pw);
    assert_eq!(wrong_method, Err(DigestError::ResponseMismatch));
    let wrong_realm = creds.verify("REGISTER", &Expected::new("example.org", &algorithms), pw);
    assert_eq!(wrong_realm, Err(DigestError::RealmMismatch));
    let md5_only = [Algorithm::Md5];
    let wrong_alg = creds.verify("REGISTER", &Expected::new("example.com", &md5_only), pw);
    assert_eq!(wrong_alg, Err(DigestError::AlgorithmMismatch));
    let opaque = Expected {
        opaque: Some("x"),
        ..expected
    };
    assert_eq!(
        creds.verify("REGISTER", &opaque, pw),
        Err(DigestError::OpaqueMismatch)
    );

    let mut tampered = creds.clone();
    tampered.uri = "sip:evil.example.com".to_owned();
    assert_eq!(
        tampered.verify("REGISTER", &expected, pw),
        Err(DigestError::ResponseMismatch)
    );
    let mut tampered = creds.clone();
    tampered.nc = Some(NonceCount(2));
    assert_eq!(
        tampered.verify("REGISTER", &expected, pw),
        Err(DigestError::ResponseMismatch)
    );
    let mut hashed = creds.clone();
    hashed.userhash = true;
    assert_eq!(
        hashed.verify("REGISTER", &expected, pw),
        Err(DigestError::UserhashUnsupported)
    );
    let mut int = creds.clone();
    int.qop = Some(Qop::AuthInt);
    assert!(matches!(
        int.verify("REGISTER", &expected, pw),
        Err(DigestError::UnsupportedQop(_))
    ));

    // An MD5 HA1 cannot verify SHA-256 credentials.
    let md5_ha1 = Ha1::from_password(Algorithm::Md5, "alice", "example.com", "s3cret");
    assert_eq!(
        creds.verify("REGISTER", &expected, Secret::Ha1(&md5_ha1)),
        Err(DigestError::Ha1Mismatch)
    );
    assert_eq!(
        Ha1::from_hex(Algorithm::Sha256, md5_ha1.as_hex()),
        Err(DigestError::Ha1Mismatch)
    );
    assert_eq!(
        Ha1::from_hex(Algorithm::Md5, "zz3c2f5ad2b1d0b56c2a7ad0c20d6a5b"),
        Err(DigestError::Ha1Mismatch)
    );
}

#[test]
fn uppercase_response_hex_is_accepted() {
    let mut creds = sip_credentials(Algorithm::Md5);
    creds.response = creds.response.to_ascii_uppercase();
    let algorithms = [Algorithm::Md5];
    creds
        .verify(
            "REGISTER",
            &Expected::new("example.com", &algorithms),
            Secret::Password("s3cret"),
        )
        .unwrap();
}

#[test]
fn rfc2069_mode() {
    let mut challenge = Challenge::new("example.com", "abc123", Algorithm::Md5);
    challenge.qop.clear();
    challenge.algorithm = None;
    assert_eq!(
        challenge.to_string(),
        "Digest realm=\"example.com\", nonce=\"abc123\""
    );
    let creds = challenge
        .respond(
            "bob",
            Secret::Password("pw"),
            &request("INVITE", "sip:carol@example.com", "unused"),
        )
        .unwrap();
    assert_eq!(creds.qop, None);
    assert_eq!(creds.cnonce, None);
    assert_eq!(creds.nc, None);
    let ha1 = Ha1::from_password(Algorithm::Md5, "bob", "example.com", "pw");
    let ha2 = Algorithm::Md5.hash_hex(&[b"INVITE", b"sip:carol@example.com"]);
    let want = Algorithm::Md5.hash_hex(&[ha1.as_hex().as_bytes(), b"abc123", ha2.as_bytes()]);
    assert_eq!(creds.response, want);

    let algorithms = [Algorithm::Md5];
    let strict = Expected::new("example.com", &algorithms);
    let pw = Secret::Password("pw");
    assert_eq!(
        creds.verify("INVITE", &strict, pw),
        Err(DigestError::QopRequired)
    );
    let legacy = Expected {
        require_qop: false,
        ..strict
    };
    creds.verify("INVITE", &legacy, pw).unwrap();
    let parsed = Credentials::parse(&creds.to_string()).unwrap();
    assert_eq!(parsed, creds);
}

#[test]
fn session_algorithms() {
    for alg in [
        Algorithm::Md5Sess,
        Algorithm::Sha256Sess,
        Algorithm::Sha512_256Sess,
    ] {
        let creds = sip_credentials(alg);
        assert_eq!(creds.algorithm, Some(alg));
        let algorithms = [alg];
        let expected = Expected::new("example.com", &algorithms);
        creds
            .verify("REGISTER", &expected, Secret::Password("s3cret"))
            .unwrap();
        let ha1 = Ha1::from_password(alg.base(), "alice", "example.com", "s3cret");
        creds
            .verify("REGISTER", &expected, Secret::Ha1(&ha1))
            .unwrap();
        // The session HA1 depends on the cnonce.
        let mut other = creds.clone();
        other.cnonce = Some("c0ffef".to_owned());
        assert_eq!(
            other.verify("REGISTER", &expected, Secret::Password("s3cret")),
            Err(DigestError::ResponseMismatch)
        );
    }
}

#[test]
fn challenge_offering_only_auth_int_cannot_be_answered() {
    let challenge = Challenge::parse("Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"").unwrap();
    let res = challenge.respond(
        "u",
        Secret::Password("p"),
        &request("REGISTER", "sip:r", "c"),
    );
    assert!(matches!(res, Err(DigestError::UnsupportedQop(_))));
    // Unknown qop options are ignored; none known at all is an error.
    let c = Challenge::parse("Digest realm=r, nonce=n, qop=\"x-new, auth\"").unwrap();
    assert_eq!(c.qop, vec![Qop::Auth]);
    assert!(matches!(
        Challenge::parse("Digest realm=r, nonce=n, qop=\"x-new\""),
        Err(DigestError::UnsupportedQop(_))
    ));
}

#[test]
fn stateless_nonce() {
    let nonce = Nonce::issue(SECRET, NOW, &[1, 2, 3, 4, 5, 6, 7, 8]);
    assert!(nonce.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(nonce_valid(SECRET, &nonce, NOW, 60), Ok(NonceStatus::Fresh));
    assert_eq!(
        nonce_valid(SECRET, &nonce, NOW + 60, 60),
        Ok(NonceStatus::Fresh)
    );
    assert_eq!(
        nonce_valid(SECRET, &nonce, NOW + 61, 60),
        Ok(NonceStatus::Stale)
    );
    // Another node's clock slightly behind: fine; far behind: stale.
    assert_eq!(
        nonce_valid(SECRET, &nonce, NOW - 5, 60),
        Ok(NonceStatus::Fresh)
    );
    assert_eq!(
        nonce_valid(SECRET, &nonce, NOW - 61, 60),
        Ok(NonceStatus::Stale)
    );
    // Same inputs, same nonce; different randomness, different nonce.
    assert_eq!(nonce, Nonce::issue(SECRET, NOW, &[1, 2, 3, 4, 5, 6, 7, 8]));
    assert_ne!(nonce, Nonce::issue(SECRET, NOW, &[1, 2, 3, 4, 5, 6, 7, 9]));
    // No randomness at all still verifies.
    let bare = Nonce::issue(SECRET, NOW, &[]);
    assert_eq!(nonce_valid(SECRET, &bare, NOW, 60), Ok(NonceStatus::Fresh));

    assert_eq!(
        nonce_valid(b"another secret", &nonce, NOW, 60),
        Err(DigestError::InvalidNonce)
    );
    // Flip every hex digit in turn: timestamp, random part and tag.
    for i in 0..nonce.len() {
        let mut bytes = nonce.clone().into_bytes();
        bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(
            nonce_valid(SECRET, &tampered, NOW, 60),
            Err(DigestError::InvalidNonce),
            "digit {i}"
        );
    }
    for bad in [
        "",
        "xyz",
        "abc",
        &nonce[..nonce.len() - 1],
        &nonce[2..],
        &"0".repeat(2000),
    ] {
        assert_eq!(
            nonce_valid(SECRET, bad, NOW, 60),
            Err(DigestError::InvalidNonce),
            "{bad}"
        );
    }
}

#[test]
fn stale_nonce_with_right_password_gives_stale_challenge() {
    let creds = sip_credentials(Algorithm::Sha256);
    let algorithms = [Algorithm::Sha256];
    creds
        .verify(
            "REGISTER",
            &Expected::new("example.com", &algorithms),
            Secret::Password("s3cret"),
        )
        .unwrap();
    assert_eq!(
        nonce_valid(SECRET, &creds.nonce, NOW + 3600, 300),
        Ok(NonceStatus::Stale)
    );
    let mut again = Challenge::new(
        "example.com",
        Nonce::issue(SECRET, NOW + 3600, b"s"),
        Algorithm::Sha256,
    );
    again.stale = true;
    let header = again.to_string();
    assert!(
        header.contains(", stale=true, algorithm=SHA-256"),
        "{header}"
    );
    assert!(Challenge::parse(&header).unwrap().stale);
    assert!(
        Challenge::parse("Digest realm=r, nonce=n, stale=TRUE")
            .unwrap()
            .stale
    );
    assert!(
        !Challenge::parse("Digest realm=r, nonce=n, stale=no")
            .unwrap()
            .stale
    );
}

/// RFC 4475 §3.1.2.14 (TC_REGAUT01): an unknown scheme must not break parsing.
#[test]
fn unknown_scheme() {
    let value = "NoOneKnowsThisScheme opaque-data=here";
    let err = Credentials::parse(value).unwrap_err();
    assert!(err.is_unsupported_scheme());
    assert_eq!(
        err,
        DigestError::UnsupportedScheme("NoOneKnowsThisScheme".to_owned())
    );
    assert!(Challenge::parse(value).unwrap_err().is_unsupported_scheme());
    assert!(Credentials::parse("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
        .unwrap_err()
        .is_unsupported_scheme());
}

#[test]
fn malformed_inputs() {
    let ok = "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:r\", response=\"00\"";
    assert!(Credentials::parse(ok).is_ok());
    type Check = fn(&DigestError) -> bool;
    let cases: &[(&str, Check)] = &[
        ("", |e| *e == DigestError::Empty),
        ("   ", |e| *e == DigestError::Empty),
        ("Digest", |e| matches!(e, DigestError::Malformed { .. })),
        ("Digest   ", |e| matches!(e, DigestError::Malformed { .. })),
        ("Digest username=\"u", |e| {
            matches!(e, DigestError::Malformed { at: 16, .. })
        }),
        ("Digest username", |e| {
            matches!(e, DigestError::Malformed { .. })
        }),
        ("Digest username \"u\"", |e| {
            matches!(e, DigestError::Malformed { .. })
        }),
        ("Digest username=", |e| {
            matches!(e, DigestError::Malformed { .. })
        }),
        ("Digest username=u realm=r", |e| {
            matches!(e, DigestError::Malformed { .. })
        }),
        ("Digest username=\"a\"\"b\"", |e| {
            matches!(e, DigestError::Malformed { .. })
        }),
        ("Digest =x", |e| matches!(e, DigestError::Malformed { .. })),
        ("\"Digest\" realm=r", |e| {
            matches!(e, DigestError::Malformed { .. })
        }),
        ("Digest realm=\"a\nb\", nonce=n", |e| {
            matches!(e, DigestError::Malformed { .. })
        }),
        ("Digest realm=\"a\u{0}b\", nonce=n", |e| {
            matches!(e, DigestError::Malformed { .. })
        }),
        ("Digest realm=r, nonce=n", |e| {
            *e == DigestError::MissingParam("username")
        }),
        ("Digest username=u, realm=r, nonce=n, uri=x", |e| {
            *e == DigestError::MissingParam("response")
        }),
        (ONE_QOP_NO_NC, |e| *e == DigestError::MissingParam("nc")),
        ("Digest username=u, USERNAME=v", |e| {
            *e == DigestError::DuplicateParam("USERNAME".to_owned())
        }),
        ("Digest username=u, nc=1", |e| {
            *e == DigestError::InvalidParam("nc")
        }),
        ("Digest username=u, nc=0000000A", |e| {
            *e == DigestError::InvalidParam("nc")
        }),
        ("Digest username=u, algorithm=SHA-1", |e| {
            *e == DigestError::UnknownAlgorithm("SHA-1".to_owned())
        }),
        ("Digest username=u, qop=auth-conf", |e| {
            matches!(e, DigestError::UnsupportedQop(_))
        }),
    ];
    for (input, check) in cases {
        let err = Credentials::parse(input).unwrap_err();
        assert!(check(&err), "{input:?} gave {err:?}");
        assert!(err.is_parse_error(), "{input:?}");
    }
    assert_eq!(
        Challenge::parse("Digest realm=r"),
        Err(DigestError::MissingParam("nonce"))
    );
}

const ONE_QOP_NO_NC: &str =
    "Digest username=u, realm=r, nonce=n, uri=x, response=00, qop=auth, cnonce=c";

#[test]
fn liberal_but_exact_parsing() {
    let value = "  diGEST   USERNAME = \"al\\ice\"  ,REALM=example.com,nonce=\"n\"\t,\
                 uri=\"sip:example.com\", response=\"ab\", algorithm=sha-256, \
                 QOP=\"auth\", nc=000000ff, cnonce=\"a\\\"b\", opaque=abc==, x-new=\"1,2\"";
    let c = Credentials::parse(value).unwrap();
    assert_eq!(c.username, "alice");
    assert_eq!(c.realm, "example.com");
    assert_eq!(c.algorithm, Some(Algorithm::Sha256));
    assert_eq!(c.qop, Some(Qop::Auth));
    assert_eq!(c.nc, Some(NonceCount(255)));
    assert_eq!(c.cnonce.as_deref(), Some("a\"b"));
    assert_eq!(c.opaque.as_deref(), Some("abc=="));
    assert_eq!(c.extra, vec![AuthParam::new("x-new", "1,2").unwrap()]);
    let written = c.to_string();
    assert!(written.contains("cnonce=\"a\\\"b\""), "{written}");
    assert!(written.contains("x-new=\"1,2\""), "{written}");
    assert_eq!(Credentials::parse(&written).unwrap(), c);

    let ch = Challenge::parse(
        "Digest realm=\"r\", domain=\"sip:a sip:b\", nonce=\"n\", charset=UTF-8, userhash=true",
    )
    .unwrap();
    assert_eq!(ch.domain.as_deref(), Some("sip:a sip:b"));
    assert!(ch.userhash);
    assert_eq!(ch.extra, vec![AuthParam::new("charset", "UTF-8").unwrap()]);
    assert_eq!(
        ch.to_string(),
        "Digest realm=\"r\", domain=\"sip:a sip:b\", nonce=\"n\", userhash=true, charset=UTF-8"
    );
    assert!(AuthParam::new("bad name", "v").is_err());
}

#[test]
fn header_injection_is_impossible() {
    let mut creds = sip_credentials(Algorithm::Md5);
    creds.username = "eve\r\nVia: SIP/2.0/UDP evil".to_owned();
    let written = creds.to_string();
    assert!(!written.contains('\r') && !written.contains('\n'));
    assert_eq!(
        Credentials::parse(&written).unwrap().username,
        "eve  Via: SIP/2.0/UDP evil"
    );
}

#[test]
fn secrets_are_redacted() {
    let ha1 = Ha1::from_password(Algorithm::Md5, "u", "r", "hunter2");
    let debug = format!(
        "{:?} {:?} {:?}",
        ha1,
        Secret::Password("hunter2"),
        Secret::Ha1(&ha1)
    );
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(!debug.contains(ha1.as_hex()), "{debug}");
    assert!(debug.contains("redacted"), "{debug}");
}

#[test]
fn enumerations() {
    for alg in Algorithm::ALL {
        assert_eq!(Algorithm::parse(alg.as_str()), Ok(alg));
        assert_eq!(
            Algorithm::parse(&alg.as_str().to_ascii_lowercase()),
            Ok(alg)
        );
        assert_eq!(alg.hash_hex(&[b"x"]).len(), alg.hex_len());
    }
    assert_eq!(NonceCount(0x1a).to_string(), "0000001a");
    assert_eq!("0000001a".parse(), Ok(NonceCount(0x1a)));
    assert_eq!(NonceCount(u32::MAX).next(), None);
    assert_eq!("AUTH".parse(), Ok(Qop::Auth));
}

fn text() -> impl Strategy<Value = String> {
    "[^\r\n]{0,24}"
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(text())
}

const KNOWN: &[&str] = &[
    "username",
    "realm",
    "nonce",
    "uri",
    "response",
    "algorithm",
    "cnonce",
    "opaque",
    "qop",
    "nc",
    "userhash",
    "domain",
    "stale",
];

fn extras() -> impl Strategy<Value = Vec<AuthParam>> {
    proptest::collection::vec(("[a-zA-Z][a-zA-Z0-9.!%*_+`'~-]{0,8}", text()), 0..4).prop_map(
        |pairs| {
            let mut out: Vec<AuthParam> = Vec::new();
            for (name, value) in pairs {
                let clash = KNOWN.iter().any(|k| k.eq_ignore_ascii_case(&name))
                    || out.iter().any(|p| p.name().eq_ignore_ascii_case(&name));
                if !clash {
                    out.push(AuthParam::new(name, value).unwrap());
                }
            }
            out
        },
    )
}

fn algorithm() -> impl Strategy<Value = Option<Algorithm>> {
    proptest::option::of(proptest::sample::select(Algorithm::ALL.to_vec()))
}

prop_compose! {
    fn credentials()(
        username in text(), realm in text(), nonce in text(), uri in text(),
        response in "[0-9a-f]{32,64}", algorithm in algorithm(),
        cnonce in opt_text(), opaque in opt_text(),
        qop in proptest::option::of(prop_oneof![Just(Qop::Auth), Just(Qop::AuthInt)]),
        nc in any::<u32>(), userhash in any::<bool>(), extra in extras(),
    ) -> Credentials {
        let (cnonce, nc) = match qop {
            Some(_) => (Some(cnonce.unwrap_or_default()), Some(NonceCount(nc))),
            None => (cnonce, None),
        };
        Credentials {
            username, realm, nonce, uri, response, algorithm, cnonce, opaque, qop, nc,
            userhash, extra,
        }
    }
}

prop_compose! {
    fn challenge()(
        realm in text(), domain in opt_text(), nonce in text(), opaque in opt_text(),
        stale in any::<bool>(), algorithm in algorithm(),
        qop in proptest::sample::select(vec![
            vec![], vec![Qop::Auth], vec![Qop::AuthInt], vec![Qop::Auth, Qop::AuthInt],
        ]),
        userhash in any::<bool>(), extra in extras(),
    ) -> Challenge {
        Challenge { realm, domain, nonce, opaque, stale, algorithm, qop, userhash, extra }
    }
}

proptest! {
    #[test]
    fn credentials_round_trip(c in credentials()) {
        let written = c.to_string();
        prop_assert_eq!(Credentials::parse(&written), Ok(c));
    }

    #[test]
    fn challenge_round_trip(c in challenge()) {
        let written = c.to_string();
        prop_assert_eq!(Challenge::parse(&written), Ok(c));
    }

    #[test]
    fn arbitrary_input_never_panics(s in any::<String>()) {
        let _ = Credentials::parse(&s);
        let _ = Challenge::parse(&s);
        let _ = nonce_valid(SECRET, &s, NOW, 60);
    }

    #[test]
    fn digest_like_input_never_panics(s in "Digest [ -~\t\r\n\u{e9}]{0,80}") {
        let _ = Credentials::parse(&s);
        let _ = Challenge::parse(&s);
    }

    #[test]
    fn truncated_headers_never_panic(c in credentials(), cut in any::<prop::sample::Index>())
    {
        let written = c.to_string();
        let at = cut.index(written.len() + 1);
        if let Some(prefix) = written.get(..at) {
            let _ = Credentials::parse(prefix);
        }
    }

    #[test]
    fn verify_accepts_own_responses(
        user in text(), pw in text(), uri in text(), cnonce in text(), nc in 1u32..,
        alg in proptest::sample::select(Algorithm::ALL.to_vec()), qop in any::<bool>(),
    ) {
        let mut ch = Challenge::new("r", Nonce::issue(SECRET, NOW, cnonce.as_bytes()), alg);
        if !qop {
            ch.qop.clear();
        }
        let req = ClientRequest {
            method: "INVITE",
            uri: &uri,
            cnonce: &cnonce,
            nc: NonceCount(nc),
        };
        let creds = ch.respond(&user, Secret::Password(&pw), &req).unwrap();
        let parsed = Credentials::parse(&creds.to_string()).unwrap();
        let algorithms = [alg];
        let expected = Expected { require_qop: qop, ..Expected::new("r", &algorithms) };
        if uri.is_empty() {
            prop_assert_eq!(
                parsed.verify("INVITE", &expected, Secret::Password(&pw)),
                Err(DigestError::MissingParam("uri"))
            );
        } else {
            prop_assert_eq!(parsed.verify("INVITE", &expected, Secret::Password(&pw)), Ok(()));
            prop_assert_eq!(
                parsed.verify("INVITE", &expected, Secret::Password(&format!("{pw}x"))),
                Err(DigestError::ResponseMismatch)
            );
        }
    }
}
