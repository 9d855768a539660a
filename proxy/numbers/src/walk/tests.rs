#![allow(clippy::unwrap_used)]

use super::*;
use crate::number::Locale;
use crate::policy::{DiversionHeader, IdentityHeader};

/// A request as header lists.
#[derive(Debug, Default)]
struct Msg {
    ruri: String,
    headers: Vec<(String, Vec<String>)>,
}

impl Msg {
    fn new(ruri: &str, headers: &[(&str, &[&str])]) -> Msg {
        Msg {
            ruri: ruri.to_owned(),
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
                .collect(),
        }
    }

    fn get(&self, name: &str) -> Vec<String> {
        self.header_values(name)
    }
}

impl Identities for Msg {
    fn request_uri(&self) -> String {
        self.ruri.clone()
    }
    fn set_request_uri(&mut self, uri: String) {
        self.ruri = uri;
    }
    fn header_values(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }
    fn set_header_values(&mut self, name: &str, values: Vec<String>) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        if !values.is_empty() {
            self.headers.push((name.to_owned(), values));
        }
    }
}

fn uniform(format: NumberFormat, headers: &[IdentityHeader]) -> NumberPolicy {
    NumberPolicy::uniform(Locale::new("31"), format, headers.to_vec())
}

fn all(format: NumberFormat) -> NumberPolicy {
    uniform(format, crate::DEFAULT_IDENTITY_HEADERS)
}

#[test]
fn from_to_and_request_uri_become_e164_keeping_display_tag_and_host() {
    let mut m = Msg::new(
        "sip:0201234567@example.com;user=phone",
        &[
            ("From", &["\"Alice\" <sip:0612345678@example.com>;tag=abc"]),
            ("To", &["<sip:0201234567@example.com>"]),
        ],
    );
    let r = apply(&mut m, &all(NumberFormat::E164));
    assert_eq!(r.rewritten, 3);
    assert_eq!(r.changed(), 3);
    assert_eq!(m.ruri, "sip:+31201234567@example.com;user=phone");
    assert_eq!(
        m.get("From"),
        ["\"Alice\" <sip:+31612345678@example.com>;tag=abc"]
    );
    assert_eq!(m.get("To"), ["<sip:+31201234567@example.com>"]);
}

#[test]
fn only_the_headers_asked_for_are_walked() {
    let mut m = Msg::new(
        "sip:0612345678@example.com",
        &[("From", &["<sip:0612345678@example.com>;tag=1"])],
    );
    apply(
        &mut m,
        &uniform(NumberFormat::Plain, &[IdentityHeader::From]),
    );
    assert_eq!(m.get("From"), ["<sip:31612345678@example.com>;tag=1"]);
    assert_eq!(m.ruri, "sip:0612345678@example.com");
}

#[test]
fn non_numbers_and_absent_headers_are_left_alone() {
    let mut m = Msg::new(
        "sip:alice@example.com",
        &[
            ("From", &["\"Alice\" <sip:alice@example.com>;tag=x"]),
            ("To", &["<sip:example.com>"]),
        ],
    );
    let r = apply(&mut m, &all(NumberFormat::E164));
    assert_eq!(r.changed(), 0);
    assert_eq!(m.ruri, "sip:alice@example.com");
    assert_eq!(m.get("From"), ["\"Alice\" <sip:alice@example.com>;tag=x"]);
    assert!(m.get("P-Asserted-Identity").is_empty());
}

#[test]
fn a_number_already_in_shape_is_not_counted() {
    let mut m = Msg::new(
        "sip:+31201234567@example.com",
        &[("From", &["<sip:0612345678@example.com>;tag=1"])],
    );
    let r = apply(&mut m, &all(NumberFormat::E164));
    assert_eq!(r.rewritten, 1);
    assert_eq!(m.ruri, "sip:+31201234567@example.com");
}

#[test]
fn per_header_formats_override_the_default() {
    let mut m = Msg::new(
        "sip:0201234567@example.com",
        &[
            ("From", &["<sip:0612345678@example.com>;tag=x"]),
            ("P-Asserted-Identity", &["<sip:0612345678@example.com>"]),
        ],
    );
    let mut p = uniform(
        NumberFormat::International,
        &[
            IdentityHeader::RequestUri,
            IdentityHeader::From,
            IdentityHeader::PAssertedIdentity,
        ],
    );
    p.header_formats
        .insert(IdentityHeader::RequestUri, NumberFormat::National);
    p.header_formats
        .insert(IdentityHeader::PAssertedIdentity, NumberFormat::E164);
    apply(&mut m, &p);
    assert_eq!(m.ruri, "sip:0201234567@example.com");
    assert_eq!(m.get("From"), ["<sip:0031612345678@example.com>;tag=x"]);
    assert_eq!(
        m.get("P-Asserted-Identity"),
        ["<sip:+31612345678@example.com>"]
    );
}

#[test]
fn preserved_service_code_stays_while_the_rest_is_rewritten() {
    let mut m = Msg::new(
        "sip:0800123@example.com",
        &[("From", &["<sip:0612345678@example.com>;tag=x"])],
    );
    let mut p = all(NumberFormat::E164);
    p.preserve_users = vec!["0800*".into()];
    apply(&mut m, &p);
    assert_eq!(m.ruri, "sip:0800123@example.com");
    assert_eq!(m.get("From"), ["<sip:+31612345678@example.com>;tag=x"]);
}

#[test]
fn emergency_short_code_is_never_given_a_country_code() {
    let mut m = Msg::new("sip:112@example.com", &[("To", &["<sip:112@example.com>"])]);
    let r = apply(&mut m, &all(NumberFormat::E164));
    assert_eq!(r.changed(), 0);
    assert_eq!(m.ruri, "sip:112@example.com");
}

#[test]
fn strip_removes_a_non_number_pai_but_never_from() {
    let mut m = Msg::new(
        "sip:0201234567@example.com",
        &[
            ("From", &["<sip:alice@example.com>;tag=x"]),
            ("P-Asserted-Identity", &["<sip:alice@example.com>"]),
        ],
    );
    let mut p = uniform(
        NumberFormat::E164,
        &[IdentityHeader::From, IdentityHeader::PAssertedIdentity],
    );
    p.on_unparseable = UnparseableAction::Strip;
    let r = apply(&mut m, &p);
    assert_eq!(r.stripped, 1);
    assert!(m.get("P-Asserted-Identity").is_empty());
    assert_eq!(m.get("From"), ["<sip:alice@example.com>;tag=x"]);
}

#[test]
fn strip_keeps_the_numbers_of_a_mixed_pai() {
    let mut m = Msg::new(
        "sip:0201234567@example.com",
        &[(
            "P-Asserted-Identity",
            &["<sip:alice@example.com>", "<tel:0612345678>"],
        )],
    );
    let mut p = uniform(NumberFormat::E164, &[IdentityHeader::PAssertedIdentity]);
    p.on_unparseable = UnparseableAction::Strip;
    apply(&mut m, &p);
    assert_eq!(m.get("P-Asserted-Identity"), ["<tel:+31612345678>"]);
}

#[test]
fn tel_and_sip_entries_of_pai_keep_their_schemes() {
    let mut m = Msg::new(
        "sip:0201234567@example.com",
        &[(
            "P-Asserted-Identity",
            &[
                "<tel:0612345678;phone-context=+31>",
                "\"A\" <sips:0612345678@example.com>",
            ],
        )],
    );
    apply(
        &mut m,
        &uniform(NumberFormat::E164, &[IdentityHeader::PAssertedIdentity]),
    );
    assert_eq!(
        m.get("P-Asserted-Identity"),
        [
            "<tel:+31612345678;phone-context=+31>",
            "\"A\" <sips:+31612345678@example.com>"
        ]
    );
}

#[test]
fn tel_request_uri_is_rewritten() {
    let mut m = Msg::new("tel:+31-20-1234567", &[]);
    apply(
        &mut m,
        &uniform(NumberFormat::National, &[IdentityHeader::RequestUri]),
    );
    assert_eq!(m.ruri, "tel:0201234567");
}

#[test]
fn addr_spec_without_angle_brackets_is_rewritten() {
    let mut m = Msg::new(
        "sip:x@example.com",
        &[("From", &["sip:0612345678@example.com;tag=9"])],
    );
    apply(
        &mut m,
        &uniform(NumberFormat::E164, &[IdentityHeader::From]),
    );
    assert_eq!(m.get("From"), ["sip:+31612345678@example.com;tag=9"]);
}

#[test]
fn an_unparseable_header_value_is_kept_verbatim() {
    let mut m = Msg::new("sip:x@example.com", &[("To", &["<<not a uri"])]);
    let r = apply(&mut m, &uniform(NumberFormat::E164, &[IdentityHeader::To]));
    assert_eq!(r.changed(), 0);
    assert_eq!(m.get("To"), ["<<not a uri"]);
}

fn diversion(format: NumberFormat) -> NumberPolicy {
    let mut p = uniform(format, &[]);
    p.diversion = Some(DiversionPolicy {
        format,
        apply_to: vec![DiversionHeader::Diversion, DiversionHeader::HistoryInfo],
        respect_privacy: true,
    });
    p
}

#[test]
fn diversion_family_is_off_unless_enabled() {
    let mut m = Msg::new(
        "sip:x@example.com",
        &[(
            "Diversion",
            &["<sip:0201234567@example.com>;reason=unconditional"],
        )],
    );
    apply(
        &mut m,
        &uniform(NumberFormat::E164, &[IdentityHeader::From]),
    );
    assert_eq!(
        m.get("Diversion"),
        ["<sip:0201234567@example.com>;reason=unconditional"]
    );
}

#[test]
fn diversion_keeps_reason_and_counter() {
    let mut m = Msg::new(
        "sip:x@example.com",
        &[(
            "Diversion",
            &["<sip:0201234567@example.com>;reason=unconditional;counter=1"],
        )],
    );
    apply(&mut m, &diversion(NumberFormat::E164));
    assert_eq!(
        m.get("Diversion"),
        ["<sip:+31201234567@example.com>;reason=unconditional;counter=1"]
    );
}

#[test]
fn history_info_keeps_escaped_cause_index_and_order() {
    let mut m = Msg::new(
        "sip:x@example.com",
        &[(
            "History-Info",
            &[
                "<sip:0201234567@example.com?Reason=SIP%3Bcause%3D302>;index=1",
                "<sip:0612345678@example.com>;index=1.1",
            ],
        )],
    );
    apply(&mut m, &diversion(NumberFormat::E164));
    assert_eq!(
        m.get("History-Info"),
        [
            "<sip:+31201234567@example.com?Reason=SIP%3Bcause%3D302>;index=1",
            "<sip:+31612345678@example.com>;index=1.1"
        ]
    );
}

#[test]
fn private_diversion_entries_are_not_rewritten() {
    let mut m = Msg::new(
        "sip:x@example.com",
        &[
            (
                "Diversion",
                &[
                    "<sip:0201234567@example.com>;reason=busy;privacy=full",
                    "<sip:0301234567@example.com>;reason=busy;privacy=off",
                ],
            ),
            (
                "History-Info",
                &["<sip:0201234567@example.com?Privacy=history>;index=1"],
            ),
        ],
    );
    let r = apply(&mut m, &diversion(NumberFormat::E164));
    assert_eq!(r.rewritten, 1);
    assert_eq!(
        m.get("Diversion"),
        [
            "<sip:0201234567@example.com>;reason=busy;privacy=full",
            "<sip:+31301234567@example.com>;reason=busy;privacy=off"
        ]
    );
    assert_eq!(
        m.get("History-Info"),
        ["<sip:0201234567@example.com?Privacy=history>;index=1"]
    );
    // Without respect_privacy the private entry is rewritten too.
    let mut p = diversion(NumberFormat::E164);
    if let Some(d) = p.diversion.as_mut() {
        d.respect_privacy = false;
    }
    apply(&mut m, &p);
    assert_eq!(
        m.get("History-Info"),
        ["<sip:+31201234567@example.com?Privacy=history>;index=1"]
    );
}
