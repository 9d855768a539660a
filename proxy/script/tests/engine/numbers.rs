//! SIPhon's `numbers` module and `request.rewrite_identities` in scripts:
//! a number parsed and written in every shape, the identity headers of a
//! request rewritten (as edits the relay carries), and the arguments
//! SIPhon refuses with ValueError refused the same way.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use anysip_core::{Decision, HeaderEdit, Router};
use numbers::{IdentityHeader, Locale, NumberFormat, NumberPolicy, Registry};
use script::Engine;

use super::support::*;

/// Home +31 with the policies `ims-e164@2026` (e164 everywhere, 0800
/// numbers preserved) and `pstn@2026` (national, From international, PAI
/// stripped when not a number).
fn registry() -> Registry {
    let nl = Locale::new("31");
    let mut ims = NumberPolicy::uniform(
        nl.clone(),
        NumberFormat::E164,
        numbers::DEFAULT_IDENTITY_HEADERS.to_vec(),
    );
    ims.name = "ims-e164@2026".into();
    ims.preserve_users = vec!["0800*".into()];
    let mut pstn = NumberPolicy::uniform(
        nl.clone(),
        NumberFormat::National,
        numbers::DEFAULT_IDENTITY_HEADERS.to_vec(),
    );
    pstn.name = "pstn@2026".into();
    pstn.header_formats = HashMap::from([(IdentityHeader::From, NumberFormat::International)]);
    pstn.on_unparseable = numbers::UnparseableAction::Strip;
    Registry {
        locale: nl,
        policies: BTreeMap::from([
            ("ims-e164@2026".to_owned(), Arc::new(ims)),
            ("pstn@2026".to_owned(), Arc::new(pstn)),
        ]),
    }
}

fn engine(body: &str, configured: bool) -> Engine {
    let host = TestHost::new();
    if configured {
        *host.numbers.lock().unwrap() = Arc::new(registry());
    }
    let path = script_file("numbers", body);
    Engine::load(&path, false, host).unwrap()
}

/// The reason phrase of the script's reply.
fn reason(e: &Engine, req: &anysip_core::RequestContext) -> String {
    match e.on_request(req) {
        Decision::Reply(r) => r.reason.unwrap_or_default(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn numbers_parse_writes_every_shape() {
    let e = engine(
        "from siphon import proxy, numbers\n\
         @proxy.on_request\n\
         def r(request):\n\
         \x20   n = numbers.parse('0031612345678')\n\
         \x20   uk = numbers.parse('01614960000', home='44')\n\
         \x20   us = numbers.parse('+1 415-555-0123')\n\
         \x20   request.reply(200, repr([n.e164, n.plain, n.international, n.national, n.cc, n.nsn,\n\
         \x20       n.format('plain'), n.format('INTL'), str(n), repr(n), uk.e164, us.cc, us.national,\n\
         \x20       numbers.parse('0612345678').e164, numbers.policy_names()]))\n",
        true,
    );
    assert_eq!(
        reason(&e, &request("OPTIONS", "sip:x@domain.local", "")),
        "['+31612345678', '31612345678', '0031612345678', '0612345678', '31', '612345678', \
         '31612345678', '0031612345678', '+31612345678', '<Number +31612345678>', \
         '+441614960000', None, '0014155550123', '+31612345678', ['ims-e164@2026', 'pstn@2026']]"
    );
}

#[test]
fn numbers_refuses_what_is_not_a_number_with_value_error() {
    let e = engine(
        "from siphon import proxy, numbers\n\
         @proxy.on_request\n\
         def r(request):\n\
         \x20   out = []\n\
         \x20   for call in ['numbers.parse(\"alice\")', 'numbers.parse(\"112\")', 'numbers.parse(\"\")',\n\
         \x20                'numbers.parse(\"+1234567890123456\")', 'numbers.parse(\"0612345678\").format(\"octal\")',\n\
         \x20                'numbers.parse(\"0612345678\", home=\"NL\")']:\n\
         \x20       try:\n\
         \x20           eval(call)\n\
         \x20           out.append('accepted')\n\
         \x20       except ValueError as e:\n\
         \x20           out.append(str(e))\n\
         \x20   request.reply(200, ' | '.join(out))\n",
        true,
    );
    assert_eq!(
        reason(&e, &request("OPTIONS", "sip:x@domain.local", "")),
        "not a dialable number: \"alice\" | not a dialable number: \"112\" | empty number | \
         number exceeds E.164 15-digit maximum: \"+1234567890123456\" | \
         unknown number format: \"octal\" | \
         home \"NL\" is not a country calling code (1 to 3 digits, an optional +)"
    );
}

#[test]
fn without_numbering_the_home_plan_has_no_country_code() {
    let e = engine(
        "from siphon import proxy, numbers\n\
         @proxy.on_request\n\
         def r(request):\n\
         \x20   n = numbers.parse('+31612345678')\n\
         \x20   request.reply(200, repr([n.cc, n.national, numbers.policy_names()]))\n",
        false,
    );
    assert_eq!(
        reason(&e, &request("OPTIONS", "sip:x@domain.local", "")),
        "[None, '0031612345678', []]"
    );
}

const INVITE: &str = "INVITE sip:0201234567@example.com;user=phone SIP/2.0\n\
     Via: SIP/2.0/UDP 192.0.2.7:5062;branch=z9hG4bK776asdhds\n\
     Max-Forwards: 70\n\
     From: \"Alice\" <sip:0612345678@example.com>;tag=1928301774\n\
     To: <sip:0201234567@example.com>\n\
     P-Asserted-Identity: <sip:0031612345678@example.com>\n\
     P-Asserted-Identity: <tel:0612345678>\n\
     Call-ID: numbers@pc33\n\
     CSeq: 1 INVITE\n\
     Content-Length: 0\n\n";

/// The edits of a relayed request.
fn relayed(e: &Engine, req: anysip_core::RequestContext) -> anysip_core::Edits {
    match e.on_request(&req) {
        Decision::Relay { edits, .. } => edits,
        other => panic!("{other:?}"),
    }
}

#[test]
fn inline_format_rewrites_ruri_from_to_and_pai() {
    let e = engine(
        "from siphon import proxy\n\
         @proxy.on_request\n\
         def r(request):\n\
         \x20   n = request.rewrite_identities(format='e164')\n\
         \x20   assert n == 5, n\n\
         \x20   assert request.ruri.user == '+31201234567', str(request.ruri)\n\
         \x20   assert request.from_uri.user == '+31612345678', str(request.from_uri)\n\
         \x20   assert request.to_uri.user == '+31201234567', str(request.to_uri)\n\
         \x20   assert request.rewrite_identities(format='e164') == 0\n\
         \x20   request.relay()\n",
        true,
    );
    let edits = relayed(&e, ctx(INVITE));
    assert_eq!(
        edits.ruri.as_deref(),
        Some("sip:+31201234567@example.com;user=phone")
    );
    for want in [
        HeaderEdit::Set(
            "From".into(),
            "\"Alice\" <sip:+31612345678@example.com>;tag=1928301774".into(),
        ),
        HeaderEdit::Set("To".into(), "<sip:+31201234567@example.com>".into()),
        HeaderEdit::Set(
            "P-Asserted-Identity".into(),
            "<sip:+31612345678@example.com>, <tel:+31612345678>".into(),
        ),
    ] {
        assert!(edits.headers.contains(&want), "{want:?} in {edits:?}");
    }
}

#[test]
fn header_subset_and_home_override() {
    let e = engine(
        "from siphon import proxy\n\
         @proxy.on_request\n\
         def r(request):\n\
         \x20   assert request.rewrite_identities(format='plain', headers=['From']) == 1\n\
         \x20   assert request.ruri.user == '0201234567'\n\
         \x20   assert request.rewrite_identities(format='e164', headers=['ruri', 'pai'], home='+44') == 3\n\
         \x20   request.relay()\n",
        true,
    );
    let edits = relayed(&e, ctx(INVITE));
    assert_eq!(
        edits.ruri.as_deref(),
        Some("sip:+44201234567@example.com;user=phone")
    );
    assert!(edits.headers.contains(&HeaderEdit::Set(
        "From".into(),
        "\"Alice\" <sip:31612345678@example.com>;tag=1928301774".into()
    )));
    assert!(edits.headers.contains(&HeaderEdit::Set(
        "P-Asserted-Identity".into(),
        "<sip:+31612345678@example.com>, <tel:+44612345678>".into()
    )));
    assert!(!edits
        .headers
        .iter()
        .any(|h| matches!(h, HeaderEdit::Set(n, _) if n == "To")));
}

#[test]
fn named_policies_preserve_and_strip() {
    let e = engine(
        "from siphon import proxy\n\
         @proxy.on_request\n\
         def r(request):\n\
         \x20   request.rewrite_identities(request.get_header('X-Policy'))\n\
         \x20   request.relay()\n",
        true,
    );
    let service = INVITE
        .replace("INVITE sip:0201234567@", "INVITE sip:08001234@")
        .replace("To: <sip:0201234567@", "To: <sip:08001234@")
        .replace("Call-ID:", "X-Policy: ims-e164@2026\nCall-ID:");
    let edits = relayed(&e, ctx(&service));
    assert_eq!(edits.ruri, None, "the 0800 service number is preserved");
    assert!(!edits
        .headers
        .iter()
        .any(|h| matches!(h, HeaderEdit::Set(n, _) if n == "To")));
    assert!(edits.headers.contains(&HeaderEdit::Set(
        "From".into(),
        "\"Alice\" <sip:+31612345678@example.com>;tag=1928301774".into()
    )));

    let pstn = INVITE
        .replace("<sip:0031612345678@example.com>", "<sip:alice@example.com>")
        .replace("P-Asserted-Identity: <tel:0612345678>\n", "")
        .replace("Call-ID:", "X-Policy: pstn@2026\nCall-ID:");
    let edits = relayed(&e, ctx(&pstn));
    assert_eq!(edits.ruri, None, "already national");
    assert!(edits.headers.contains(&HeaderEdit::Set(
        "From".into(),
        "\"Alice\" <sip:0031612345678@example.com>;tag=1928301774".into()
    )));
    assert!(edits
        .headers
        .contains(&HeaderEdit::Remove("P-Asserted-Identity".into())));
}

#[test]
fn rewrite_identities_refuses_bad_arguments_with_value_error() {
    let e = engine(
        "from siphon import proxy\n\
         @proxy.on_request\n\
         def r(request):\n\
         \x20   out = []\n\
         \x20   for kw in [dict(policy='nope@2026'), dict(policy='ims-e164@2026', format='e164'),\n\
         \x20              dict(), dict(format='octal'), dict(format='e164', headers=['Contact']),\n\
         \x20              dict(policy='ims-e164@2026', headers=['From'])]:\n\
         \x20       try:\n\
         \x20           request.rewrite_identities(**kw)\n\
         \x20           out.append('accepted')\n\
         \x20       except ValueError as e:\n\
         \x20           out.append(str(e))\n\
         \x20   request.reply(200, ' | '.join(out))\n",
        true,
    );
    assert_eq!(
        reason(&e, &ctx(INVITE)),
        "unknown number policy \"nope@2026\" | \
         rewrite_identities(): pass either policy= or format=, not both | \
         rewrite_identities(): requires policy= (named) or format= (inline) | \
         unknown number format: \"octal\" | unknown identity header \"Contact\" | \
         rewrite_identities(): pass either policy= or format=, not both"
    );
}

#[test]
fn non_numbers_are_left_alone() {
    let e = engine(
        "from siphon import proxy\n\
         @proxy.on_request\n\
         def r(request):\n\
         \x20   assert request.rewrite_identities(format='e164') == 0\n\
         \x20   request.relay()\n",
        true,
    );
    let edits = relayed(
        &e,
        request(
            "INVITE",
            "sip:bob@domain.local",
            "Remote-Party-ID: <sip:anonymous@x>\n",
        ),
    );
    assert_eq!(edits.ruri, None);
    assert!(edits.headers.is_empty(), "{edits:?}");
}

/// SIPhon's `examples/number_routing.py`, unchanged
/// (`tests/data/siphon/numbers/`): a ported number gets the LNP routing
/// number in its Request-URI (RFC 4694 `npdi`, `rn`), another is relayed
/// as it came.
#[test]
fn siphon_number_routing_example_runs_unchanged() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/siphon/numbers/number_routing.py");
    let e = Engine::load(&path, false, TestHost::new()).unwrap();
    let edits = relayed(&e, request("INVITE", "sip:+15551234567@example.net", ""));
    assert_eq!(
        edits.ruri.as_deref(),
        Some("sip:+15551234567;npdi;rn=+15559990000@carrier.example.net;user=phone")
    );
    let edits = relayed(&e, request("INVITE", "sip:+15550001111@example.net", ""));
    assert_eq!(edits.ruri, None);
    assert!(edits.headers.is_empty(), "{edits:?}");
}
