//! `numbering:` and `number_policies:` (SIPhon's number normalization):
//! the cookbook's sections load on a core and resolve into the policies
//! scripts use; a bad format, header, code or key is refused with the
//! file and the key.

#![allow(clippy::unwrap_used)]

mod common;

use anysip_config::ConfigError;
use common::{error, key_path, parse, CORE, EDGE};
use numbers::{IdentityHeader, NumberFormat, UnparseableAction};

/// The sections of SIPhon's cookbook `number-normalization.md`, with a
/// diversion block and a per-policy home.
const SECTIONS: &str = "\
numbering:
  country_code: \"31\"
  trunk_prefix: \"0\"
  international_prefix: \"00\"
  assume: national
number_policies:
  \"ims-e164@2026\":
    default: e164
  \"pstn-national@2026\":
    default: national
    headers:
      request-uri: national
      From: international
      P-Asserted-Identity: international
    preserve_users: [\"112\", \"0800*\"]
  \"carrier-x-egress@2026\":
    default: e164
    on_unparseable: strip
    walk: [From, pai]
    country_code: 44
    diversion:
      format: e164
      apply_to: [Diversion, History-Info]
      respect_privacy: true
";

#[test]
fn cookbook_sections_load_and_resolve() {
    let c = parse(&format!("{CORE}{SECTIONS}")).unwrap();
    assert!(
        !c.notices.iter().any(|n| n.to_string().contains("number")),
        "{:?}",
        c.notices
    );
    let r = c.number_registry();
    assert_eq!(r.locale.country_code, "31");
    assert_eq!(
        r.names(),
        [
            "carrier-x-egress@2026",
            "ims-e164@2026",
            "pstn-national@2026"
        ]
    );
    let pstn = r.policy("pstn-national@2026").unwrap();
    assert_eq!(pstn.default_format, NumberFormat::National);
    assert_eq!(
        pstn.format_for(IdentityHeader::PAssertedIdentity),
        NumberFormat::International
    );
    assert_eq!(pstn.preserve_users, ["112", "0800*"]);
    let carrier = r.policy("carrier-x-egress@2026").unwrap();
    assert_eq!(carrier.locale.country_code, "44");
    assert_eq!(carrier.on_unparseable, UnparseableAction::Strip);
    assert_eq!(
        carrier.headers,
        [IdentityHeader::From, IdentityHeader::PAssertedIdentity]
    );
    assert!(carrier.diversion.as_ref().unwrap().respect_privacy);
}

#[test]
fn without_the_sections_the_home_plan_is_empty() {
    let r = parse(CORE).unwrap().number_registry();
    assert_eq!(r.locale.country_code, "");
    assert_eq!(r.locale.trunk_prefix, "0");
    assert!(r.names().is_empty());
}

/// The error of `CORE` plus `sections`, its key path and text.
fn refused(sections: &str) -> (String, String) {
    let e = error(&format!("{CORE}{sections}"));
    let shown = e.to_string();
    assert!(shown.starts_with("test.yaml"), "{shown}");
    (key_path(&e), shown)
}

#[test]
fn unknown_keys_are_refused_with_their_path() {
    for (sections, path) in [
        ("numbering:\n  country: \"31\"\n", "numbering.country"),
        (
            "number_policies:\n  p:\n    fromat: e164\n",
            "number_policies.p.fromat",
        ),
        (
            "number_policies:\n  p:\n    diversion:\n      privacy: true\n",
            "number_policies.p.diversion.privacy",
        ),
    ] {
        let (key, shown) = refused(sections);
        assert_eq!(key, path, "{shown}");
        assert!(shown.contains("unknown field"), "{shown}");
    }
}

#[test]
fn bad_tokens_are_refused_naming_the_value() {
    for (sections, path, word) in [
        (
            "number_policies:\n  p:\n    default: octal\n",
            "number_policies.p.default",
            "unknown variant `octal`",
        ),
        (
            "number_policies:\n  p:\n    headers:\n      Contact: e164\n",
            "number_policies.p.headers.Contact",
            "unknown identity header `Contact`",
        ),
        (
            "number_policies:\n  p:\n    headers:\n      From: bare-ish\n",
            "number_policies.p.headers.From",
            "unknown variant `bare-ish`",
        ),
        (
            "number_policies:\n  p:\n    walk: [From, Via]\n",
            "number_policies.p.walk[1]",
            "unknown identity header `Via`",
        ),
        (
            "numbering:\n  assume: local\n",
            "numbering.assume",
            "unknown variant `local`",
        ),
        (
            "number_policies:\n  p:\n    on_unparseable: drop\n",
            "number_policies.p.on_unparseable",
            "unknown variant `drop`",
        ),
    ] {
        let (key, shown) = refused(sections);
        assert_eq!(key, path, "{shown}");
        assert!(shown.contains(word), "{shown}");
    }
}

#[test]
fn unusable_values_are_refused_with_their_path() {
    for (sections, path) in [
        ("numbering:\n  country_code: NL\n", "numbering.country_code"),
        (
            "numbering:\n  trunk_prefix: \"0-\"\n",
            "numbering.trunk_prefix",
        ),
        (
            "numbering:\n  min_national_digits: 20\n",
            "numbering.min_national_digits",
        ),
        (
            "number_policies:\n  \"uk@2026\":\n    country_code: \"+4444\"\n",
            "number_policies.uk@2026.country_code",
        ),
        (
            "number_policies:\n  p:\n    preserve_users: [\"\"]\n",
            "number_policies.p.preserve_users[0]",
        ),
    ] {
        let e = error(&format!("{CORE}{sections}"));
        assert!(matches!(e, ConfigError::Invalid { .. }), "{e}");
        assert_eq!(key_path(&e), path, "{e}");
    }
}

#[test]
fn an_edge_refuses_the_sections() {
    for key in ["numbering", "number_policies"] {
        let e = error(&format!("{EDGE}{key}: {{}}\n"));
        assert_eq!(key_path(&e), key, "{e}");
        assert!(e.to_string().contains("only used by role: core"), "{e}");
    }
}
