#![allow(clippy::unwrap_used)]

use super::*;

fn policies(yaml: &str) -> BTreeMap<String, NumberPolicyConfig> {
    serde_yaml::from_str(yaml).unwrap()
}

#[test]
fn numbering_defaults_are_siphons() {
    let n: NumberingConfig = serde_yaml::from_str("{}").unwrap();
    assert_eq!(n, NumberingConfig::default());
    let l = n.locale();
    assert_eq!(l.country_code, "");
    assert_eq!(l.trunk_prefix, "0");
    assert_eq!(l.international_prefix, "00");
    assert_eq!(l.assume, AssumeForm::National);
    assert_eq!(l.min_national_digits, 5);
}

#[test]
fn country_code_may_be_an_integer_or_carry_a_plus() {
    let n: NumberingConfig = serde_yaml::from_str("country_code: 31").unwrap();
    assert_eq!(n.locale().country_code, "31");
    let n: NumberingConfig = serde_yaml::from_str("country_code: \"+44\"").unwrap();
    n.validate("numbering").unwrap();
    assert_eq!(n.locale().country_code, "44");
}

#[test]
fn numbering_values_are_checked_with_their_key() {
    let bad = [
        ("country_code: NL", "numbering.country_code"),
        ("country_code: \"3100\"", "numbering.country_code"),
        ("trunk_prefix: \"O\"", "numbering.trunk_prefix"),
        (
            "international_prefix: \"+\"",
            "numbering.international_prefix",
        ),
        ("min_national_digits: 16", "numbering.min_national_digits"),
    ];
    for (yaml, path) in bad {
        let n: NumberingConfig = serde_yaml::from_str(yaml).unwrap();
        assert_eq!(n.validate("numbering").unwrap_err().path, path, "{yaml}");
    }
}

#[test]
fn unknown_keys_and_tokens_are_refused() {
    for yaml in ["country: \"31\"", "assume: local"] {
        let e = serde_yaml::from_str::<NumberingConfig>(yaml).unwrap_err();
        assert!(e.to_string().contains("unknown"), "{yaml}: {e}");
    }
    for (yaml, word) in [
        ("p:\n  fromat: e164\n", "unknown field `fromat`"),
        ("p:\n  default: octal\n", "unknown variant `octal`"),
        (
            "p:\n  headers: {Contact: e164}\n",
            "unknown identity header `Contact`",
        ),
        ("p:\n  walk: [From, Via]\n", "unknown identity header `Via`"),
        ("p:\n  on_unparseable: drop\n", "unknown variant `drop`"),
        (
            "p:\n  diversion: {apply_to: [Route]}\n",
            "unknown diversion header `Route`",
        ),
        (
            "p:\n  diversion: {privacy: true}\n",
            "unknown field `privacy`",
        ),
    ] {
        let e = serde_yaml::from_str::<BTreeMap<String, NumberPolicyConfig>>(yaml).unwrap_err();
        assert!(e.to_string().contains(word), "{yaml}: {e}");
    }
}

#[test]
fn a_policy_walks_the_default_set_and_its_formatted_headers() {
    let p = policies(
        "\"pstn@2026\":\n  default: national\n  headers:\n    request-uri: national\n    \
         From: international\n    Referred-By: e164\n  preserve_users: [\"112\", \"0800*\"]\n",
    );
    p["pstn@2026"]
        .validate("number_policies.pstn@2026")
        .unwrap();
    let r = registry(&serde_yaml::from_str("country_code: \"31\"").unwrap(), &p);
    let policy = r.policy("pstn@2026").unwrap();
    assert_eq!(policy.name, "pstn@2026");
    assert_eq!(policy.default_format, NumberFormat::National);
    assert_eq!(
        policy.format_for(IdentityHeader::From),
        NumberFormat::International
    );
    assert_eq!(
        policy.format_for(IdentityHeader::To),
        NumberFormat::National
    );
    let mut walk = DEFAULT_IDENTITY_HEADERS.to_vec();
    walk.push(IdentityHeader::ReferredBy);
    assert_eq!(policy.headers, walk);
    assert_eq!(policy.preserve_users, ["112", "0800*"]);
    assert_eq!(policy.on_unparseable, UnparseableAction::Keep);
    assert_eq!(policy.diversion, None);
    assert_eq!(policy.locale.country_code, "31");
}

#[test]
fn an_explicit_walk_replaces_the_default_set() {
    let p = policies("p:\n  walk: [ruri, pai]\n  on_unparseable: strip\n");
    let policy = p["p"].resolve("p", &Locale::new("31"));
    assert_eq!(
        policy.headers,
        [
            IdentityHeader::RequestUri,
            IdentityHeader::PAssertedIdentity
        ]
    );
    assert_eq!(policy.default_format, NumberFormat::E164);
    assert_eq!(policy.on_unparseable, UnparseableAction::Strip);
}

#[test]
fn a_policy_may_have_its_own_home() {
    let p = policies(
        "uk:\n  default: national\n  country_code: \"44\"\n  trunk_prefix: \"0\"\n  \
         international_prefix: \"00\"\n  assume: international\n",
    );
    let policy = p["uk"].resolve("uk", &Locale::new("31"));
    assert_eq!(policy.locale.country_code, "44");
    assert_eq!(policy.locale.assume, AssumeForm::International);
    let n = crate::Number::parse("+441614960000", &policy.locale).unwrap();
    assert_eq!(n.format(NumberFormat::National), "01614960000");
}

#[test]
fn diversion_block_defaults() {
    let p = policies("d:\n  diversion: {}\n");
    let d = p["d"].resolve("d", &Locale::new("31")).diversion.unwrap();
    assert_eq!(d.format, NumberFormat::E164);
    assert_eq!(
        d.apply_to,
        [DiversionHeader::Diversion, DiversionHeader::HistoryInfo]
    );
    assert!(d.respect_privacy);
    let p = policies(
        "d:\n  diversion: {format: national, apply_to: [History-Info], respect_privacy: false}\n",
    );
    let d = p["d"].resolve("d", &Locale::new("31")).diversion.unwrap();
    assert_eq!(d.format, NumberFormat::National);
    assert_eq!(d.apply_to, [DiversionHeader::HistoryInfo]);
    assert!(!d.respect_privacy);
}

#[test]
fn policy_values_are_checked_with_their_key() {
    let p = policies("p:\n  country_code: \"+x\"\n");
    assert_eq!(
        p["p"].validate("number_policies.p").unwrap_err().path,
        "number_policies.p.country_code"
    );
    let p = policies("p:\n  preserve_users: [\"112\", \"\"]\n");
    assert_eq!(
        p["p"].validate("number_policies.p").unwrap_err().path,
        "number_policies.p.preserve_users[1]"
    );
}
