#![allow(clippy::unwrap_used)]

use super::*;

fn registry() -> Registry {
    let mut policies = BTreeMap::new();
    policies.insert(
        "teams@2026".to_owned(),
        Arc::new(NumberPolicy::uniform(
            Locale::new("31"),
            NumberFormat::E164,
            DEFAULT_IDENTITY_HEADERS.to_vec(),
        )),
    );
    Registry {
        locale: Locale::new("31"),
        policies,
    }
}

#[test]
fn header_tokens_and_aliases() {
    let cases = [
        ("request-uri", IdentityHeader::RequestUri),
        ("ruri", IdentityHeader::RequestUri),
        ("R-URI", IdentityHeader::RequestUri),
        ("uri", IdentityHeader::RequestUri),
        ("request_uri", IdentityHeader::RequestUri),
        ("To", IdentityHeader::To),
        ("from", IdentityHeader::From),
        ("P-Asserted-Identity", IdentityHeader::PAssertedIdentity),
        ("pai", IdentityHeader::PAssertedIdentity),
        ("p_preferred_identity", IdentityHeader::PPreferredIdentity),
        ("PPI", IdentityHeader::PPreferredIdentity),
        ("Referred-By", IdentityHeader::ReferredBy),
        ("rpid", IdentityHeader::RemotePartyId),
        ("Remote-Party-ID", IdentityHeader::RemotePartyId),
    ];
    for (token, want) in cases {
        assert_eq!(IdentityHeader::from_token(token), Some(want), "{token}");
    }
    assert_eq!(IdentityHeader::from_token("Contact"), None);
    assert_eq!(
        DiversionHeader::from_token("history_info"),
        Some(DiversionHeader::HistoryInfo)
    );
    assert_eq!(DiversionHeader::from_token("Via"), None);
}

#[test]
fn from_to_and_request_uri_are_never_stripped() {
    assert!(!IdentityHeader::From.strippable());
    assert!(!IdentityHeader::To.strippable());
    assert!(!IdentityHeader::RequestUri.strippable());
    assert!(IdentityHeader::PAssertedIdentity.strippable());
    assert!(IdentityHeader::RemotePartyId.strippable());
}

#[test]
fn preserve_patterns_match_exact_prefix_suffix_and_all() {
    let mut p = NumberPolicy::uniform(Locale::new("31"), NumberFormat::E164, Vec::new());
    p.preserve_users = vec!["112".into(), "0800*".into(), "*999".into()];
    assert!(p.preserves("112"));
    assert!(!p.preserves("1120"));
    assert!(p.preserves("0800123"));
    assert!(p.preserves("0612999"));
    assert!(!p.preserves("0612345678"));
    p.preserve_users = vec!["*".into()];
    assert!(p.preserves("anything"));
}

#[test]
fn inline_format_walks_the_default_headers_at_home() {
    let p = registry().resolve(None, Some("e164"), None, None).unwrap();
    assert_eq!(p.default_format, NumberFormat::E164);
    assert_eq!(p.headers, DEFAULT_IDENTITY_HEADERS);
    assert_eq!(p.locale.country_code, "31");
    assert_eq!(p.name, "(inline)");
}

#[test]
fn inline_headers_are_read_as_tokens_without_repeats() {
    let headers = ["From".to_owned(), "ruri".into(), "from".into()];
    let p = registry()
        .resolve(None, Some("national"), Some(&headers), None)
        .unwrap();
    assert_eq!(
        p.headers,
        [IdentityHeader::From, IdentityHeader::RequestUri]
    );
}

#[test]
fn home_overrides_the_country_code() {
    let p = registry()
        .resolve(None, Some("e164"), None, Some("+44"))
        .unwrap();
    assert_eq!(p.locale.country_code, "44");
    assert_eq!(p.locale.trunk_prefix, "0");
}

#[test]
fn named_policy_is_found() {
    let p = registry()
        .resolve(Some("teams@2026"), None, None, None)
        .unwrap();
    assert_eq!(p.default_format, NumberFormat::E164);
    assert_eq!(registry().names(), ["teams@2026"]);
}

#[test]
fn bad_arguments_are_refused() {
    let r = registry();
    assert_eq!(
        r.resolve(Some("teams@2026"), Some("e164"), None, None),
        Err(PolicyError::Both)
    );
    assert_eq!(
        r.resolve(Some("teams@2026"), None, Some(&["From".to_owned()]), None),
        Err(PolicyError::Both)
    );
    assert_eq!(r.resolve(None, None, None, None), Err(PolicyError::Neither));
    assert_eq!(
        r.resolve(Some("nope@2026"), None, None, None),
        Err(PolicyError::UnknownPolicy("nope@2026".into()))
    );
    assert_eq!(
        r.resolve(None, Some("octal"), None, None),
        Err(PolicyError::Format(NumberError::UnknownFormat(
            "octal".into()
        )))
    );
    assert_eq!(
        r.resolve(None, Some("e164"), Some(&["Contact".to_owned()]), None),
        Err(PolicyError::UnknownHeader("Contact".into()))
    );
    assert_eq!(
        r.resolve(None, Some("e164"), None, Some("NL")),
        Err(PolicyError::BadHome("NL".into()))
    );
    assert_eq!(
        PolicyError::UnknownPolicy("nope@2026".into()).to_string(),
        "unknown number policy \"nope@2026\""
    );
}
