//! SIPhon compatibility: every module of SIPhon's `siphon` package
//! imports, an unserved function raises an error naming it, SIPhon's
//! request/reply/URI names act on the message, and the compatibility
//! table of docs/scripting.md is the one the module really has.

use std::sync::Arc;

use anysip_core::{Decision, HeaderEdit, Router};
use pyo3::prelude::*;
use script::Engine;

use super::support::*;

fn engine(body: &str) -> (Engine, Arc<TestHost>) {
    let host = TestHost::new();
    let path = script_file("compat", body);
    let e = Engine::load(&path, false, host.clone()).unwrap();
    (e, host)
}

/// Every top-level name of SIPhon's module (its namespaces and classes).
const MODULES: &str = "proxy, registrar, auth, log, cache, gateway, timer, metrics, b2bua, \
    rtpengine, cdr, li, registration, diameter, presence, srs, isc, sbi, ipsec, stir, sdp, \
    numbers, qos, lcr, smpp, http, Route, LcrDecision, Transform, SecurityOffer, \
    AuthVectorHandle, PendingSA, SecurityServerParams, SAHandle, Flow";

#[test]
fn every_siphon_module_imports_and_unserved_calls_name_themselves() {
    let (e, _) = engine(&format!(
        "from siphon import {MODULES}\n\
         import siphon\n\
         @proxy.on_request\n\
         def r(request):\n\
         \x20   what = request.get_header('X-Call')\n\
         \x20   try:\n\
         \x20       eval(what)\n\
         \x20   except siphon.NotServedError as e:\n\
         \x20       assert isinstance(e, NotImplementedError)\n\
         \x20       request.reply(501, str(e))\n\
         \x20       return\n\
         \x20   request.reply(200, 'served')\n"
    ));
    for (call, reason) in [
        (
            "b2bua.terminate('x')",
            "siphon.b2bua.terminate() is not served by anysip",
        ),
        (
            "presence.publish('a', 'b')",
            "siphon.presence.publish() is not served by anysip",
        ),
        ("Route()", "siphon.Route() is not served by anysip"),
        (
            "rtpengine.instance_count",
            "siphon.rtpengine.instance_count is not served by anysip",
        ),
        (
            "registrar.lookup_by_token('t')",
            "registrar.lookup_by_token() is not served by anysip",
        ),
        (
            "request.add_pcscf_path('t')",
            "request.add_pcscf_path() is not served by anysip",
        ),
        (
            "request.is_ipsec_protected",
            "request.is_ipsec_protected is not served by anysip",
        ),
        (
            "request.relay(send_socket='udp:127.0.0.1:5060')",
            "request.relay(send_socket=) is not served by anysip",
        ),
    ] {
        let req = request(
            "OPTIONS",
            "sip:x@domain.local",
            &format!("X-Call: {call}\n"),
        );
        match e.on_request(&req) {
            Decision::Reply(r) => {
                assert_eq!(
                    (r.status, r.reason.as_deref()),
                    (501, Some(reason)),
                    "{call}"
                )
            }
            other => panic!("{call}: {other:?}"),
        }
    }
    // A decorator of an unserved namespace raises at load, naming itself.
    let host = TestHost::new();
    let path = script_file(
        "compat-decorator",
        "from siphon import b2bua\n@b2bua.on_invite\ndef f(call):\n    pass\n",
    );
    let err = Engine::load(&path, false, host).unwrap_err().to_string();
    assert!(
        err.contains("siphon.b2bua.on_invite() is not served by anysip"),
        "{err}"
    );
}

#[test]
fn siphon_request_names_edit_the_message() {
    let (e, _) = engine(
        "from siphon import proxy\n\
         @proxy.on_request\n\
         def r(request):\n\
         \x20   assert request.get_header('x-keep') == 'k' and request.header('X-Keep') == 'k'\n\
         \x20   assert request.has_header('X-Strip-A') and not request.has_header('X-None')\n\
         \x20   assert request.has_body('application/sdp') and not request.has_body('text/plain')\n\
         \x20   request.set_header('X-Set', 'v')\n\
         \x20   request.remove_headers_matching('x-strip-')\n\
         \x20   assert not request.has_header('X-Strip-B')\n\
         \x20   request.ensure_header('X-Keep', 'other')\n\
         \x20   request.ensure_header('X-Ensured', '1')\n\
         \x20   request.remove_header('User-Agent')\n\
         \x20   request.set_ruri_user('carol')\n\
         \x20   request.set_ruri_host('10.0.0.9')\n\
         \x20   assert str(request.ruri) == 'sip:carol@10.0.0.9:5070;transport=tcp', str(request.ruri)\n\
         \x20   u = request.ruri\n\
         \x20   u.port = None\n\
         \x20   assert u.params == {'transport': 'tcp'} and not u.is_tel and not u.is_local\n\
         \x20   request.ruri = u\n\
         \x20   assert request.source_ip_in(['192.0.2.0/24']) and not request.source_ip_in(['10.0.0.0/8'])\n\
         \x20   request.relay()\n",
    );
    let req = ctx("INVITE sip:bob@domain.local:5070;transport=tcp SIP/2.0\n\
         Via: SIP/2.0/UDP 192.0.2.7:5062;branch=z9hG4bK776asdhds\n\
         Max-Forwards: 70\n\
         To: <sip:bob@domain.local>\n\
         From: <sip:alice@domain.local>;tag=1928301774\n\
         Call-ID: compat@pc33\n\
         CSeq: 1 INVITE\n\
         X-Keep: k\nX-Strip-A: 1\nX-Strip-B: 2\nUser-Agent: ua\n\
         Content-Type: application/sdp\n\
         Content-Length: 4\n\nv=0\n");
    match e.on_request(&req) {
        Decision::Relay { edits, .. } => {
            assert_eq!(
                edits.ruri.as_deref(),
                Some("sip:carol@10.0.0.9;transport=tcp")
            );
            for want in [
                HeaderEdit::Set("X-Set".into(), "v".into()),
                HeaderEdit::Remove("X-Strip-A".into()),
                HeaderEdit::Remove("X-Strip-B".into()),
                HeaderEdit::Set("X-Ensured".into(), "1".into()),
                HeaderEdit::Remove("User-Agent".into()),
            ] {
                assert!(edits.headers.contains(&want), "{want:?} in {edits:?}");
            }
            assert!(!edits
                .headers
                .iter()
                .any(|h| matches!(h, HeaderEdit::Set(n, _) if n == "X-Keep")));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn reply_headers_join_the_reply() {
    let (e, _) = engine(
        "from siphon import proxy\n\
         @proxy.on_request\n\
         def r(request):\n\
         \x20   request.set_reply_header('X-One', 'a')\n\
         \x20   request.set_reply_header('X-One', 'b')\n\
         \x20   request.add_reply_header('X-Many', '1')\n\
         \x20   request.add_reply_header('X-Many', '2')\n\
         \x20   request.set_reply_body('hello', 'text/plain')\n\
         \x20   request.reply(480, 'Later', reliable=False)\n",
    );
    match e.on_request(&request("MESSAGE", "sip:x@domain.local", "")) {
        Decision::Reply(r) => {
            assert_eq!(r.status, 480);
            assert_eq!(
                r.headers,
                vec![
                    ("X-One".to_owned(), "b".to_owned()),
                    ("X-Many".to_owned(), "1".to_owned()),
                    ("X-Many".to_owned(), "2".to_owned()),
                ]
            );
            let (ct, body) = r.body.unwrap();
            assert_eq!((ct.as_str(), &body[..]), ("text/plain", &b"hello"[..]));
            assert!(!r.reliable);
        }
        other => panic!("{other:?}"),
    }
}

/// The Python type whose attributes are SIPhon's `object`, if anysip has one.
fn type_of<'py>(siphon: &Bound<'py, PyModule>, object: &str) -> Option<Bound<'py, PyAny>> {
    let name = match object {
        "Request" | "Reply" | "SipUri" | "Destination" | "Counter" | "Gauge" | "Histogram"
        | "TimerHandle" | "Number" => object,
        "Contact" => "Binding",
        "classes" => return Some(siphon.clone().into_any()),
        ns => {
            let obj = siphon.getattr(ns).ok()?;
            let t = obj.get_type().into_any();
            if t.getattr("__name__").ok()?.extract::<String>().ok()? == "Unserved" {
                return None;
            }
            return Some(t);
        }
    };
    siphon.getattr(name).ok()
}

#[test]
fn reply_reliable_reaches_the_core() {
    let (e, _) = engine(
        "from siphon import proxy\n\
         @proxy.on_request\n\
         def r(request):\n\
         \x20   request.reply(183, 'Session Progress', reliable=True)\n",
    );
    match e.on_request(&request("INVITE", "sip:x@domain.local", "")) {
        Decision::Reply(r) => {
            assert_eq!((r.status, r.reliable), (183, true));
            assert_eq!(r.reason.as_deref(), Some("Session Progress"));
        }
        other => panic!("{other:?}"),
    }
}

/// The table of docs/scripting.md, from what the module really has.
fn table() -> String {
    Python::attach(|py| {
        let siphon = py.import("siphon").unwrap();
        let inspect = py.import("inspect").unwrap();
        let names: Vec<(String, String)> =
            siphon.getattr("_siphon_names").unwrap().extract().unwrap();
        let mut objects: Vec<String> = Vec::new();
        for (o, _) in &names {
            if !objects.contains(o) {
                objects.push(o.clone());
            }
        }
        let (mut all_served, mut all_not) = (0, 0);
        let mut rows = String::new();
        for o in &objects {
            let t = type_of(&siphon, o);
            let (mut served, mut not) = (Vec::new(), Vec::new());
            for (_, n) in names.iter().filter(|(x, _)| x == o) {
                // Served: present, and not one of the module's unserved
                // stand-ins (a top-level class anysip lacks).
                let has = t.as_ref().is_some_and(|t| {
                    inspect
                        .call_method1("getattr_static", (t, n.as_str()))
                        .is_ok_and(|v| {
                            v.get_type()
                                .getattr("__name__")
                                .and_then(|n| n.extract::<String>())
                                .is_ok_and(|n| n != "Unserved")
                        })
                });
                if has {
                    served.push(format!("`{n}`"));
                } else {
                    not.push(format!("`{n}`"));
                }
            }
            all_served += served.len();
            all_not += not.len();
            let label = if o == "classes" {
                "top-level classes".to_owned()
            } else {
                format!("`{o}`")
            };
            rows.push_str(&format!(
                "| {label} | {} | {} | {} | {} |\n",
                served.len(),
                not.len(),
                if served.is_empty() {
                    "—".to_owned()
                } else {
                    served.join(", ")
                },
                if not.is_empty() {
                    "—".to_owned()
                } else {
                    not.join(", ")
                },
            ));
        }
        format!(
            "SIPhon names: {} — served {all_served}, not served {all_not}.\n\n\
             | object | served | not served | served names | not served names |\n\
             |---|---|---|---|---|\n{rows}",
            all_served + all_not
        )
    })
}

#[test]
fn docs_table_matches_the_module() {
    // The interpreter and the module exist once an engine was loaded.
    let _ = engine("from siphon import proxy\n");
    let want = table();
    let doc_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/scripting.md");
    let doc = std::fs::read_to_string(&doc_path).unwrap();
    let (begin, end) = (
        "<!-- siphon-compat:begin -->\n",
        "<!-- siphon-compat:end -->",
    );
    let (Some(b), Some(e)) = (doc.find(begin), doc.find(end)) else {
        panic!("docs/scripting.md has no {begin:?} … {end:?} section");
    };
    let have = &doc[b + begin.len()..e];
    if std::env::var_os("ANYSIP_BLESS").is_some() {
        let new = format!("{}{want}{}", &doc[..b + begin.len()], &doc[e..]);
        std::fs::write(&doc_path, new).unwrap();
        return;
    }
    assert_eq!(
        have, want,
        "docs/scripting.md's compatibility table is stale (ANYSIP_BLESS=1 rewrites it)"
    );
}

#[test]
fn registrar_names_and_on_change() {
    let (e, host) = engine(
        "from siphon import proxy, registrar\n\
         seen = []\n\
         @registrar.on_change\n\
         def changed(aor, event, contacts):\n\
         \x20   seen.append((aor, event, [c.uri for c in contacts], [c.q for c in contacts]))\n\
         @proxy.on_request('REGISTER')\n\
         def reg(request):\n\
         \x20   registrar.save(request, force=request.has_header('X-Force'))\n\
         @proxy.on_request('OPTIONS')\n\
         async def info(request):\n\
         \x20   n = await registrar.aor_count()\n\
         \x20   c = registrar.lookup_contact(request.get_header('X-Contact'))\n\
         \x20   b = registrar.lookup('sip:bob@domain.local')[0]\n\
         \x20   request.reply(200, repr((seen, n, [x.uri for x in c], registrar.is_registered_contact('sip:nobody@x'), b.received, b.age_secs)))\n",
    );
    let register = |contact: &str, extra: &str| {
        let req = request(
            "REGISTER",
            "sip:domain.local",
            &format!("Contact: <{contact}>\n{extra}"),
        );
        assert!(matches!(e.on_request(&req), Decision::Reply(r) if r.status == 200));
    };
    register("sip:bob@192.0.2.10:5070", "");
    register("sip:bob@192.0.2.10:5070", "");
    register("sip:bob@192.0.2.11", "X-Force: 1\n");
    assert!(host.called("registrar_remove sip:bob@domain.local"));
    let req = request(
        "OPTIONS",
        "sip:domain.local",
        "X-Contact: sip:bob@192.0.2.11:5060;transport=udp\n",
    );
    match e.on_request(&req) {
        Decision::Reply(r) => assert_eq!(
            r.reason.as_deref(),
            Some(
                "([('sip:bob@domain.local', 'registered', ['sip:bob@192.0.2.10:5070'], [1.0]), \
                 ('sip:bob@domain.local', 'refreshed', ['sip:bob@192.0.2.10:5070', 'sip:bob@192.0.2.10:5070'], [1.0, 1.0]), \
                 ('sip:bob@domain.local', 'registered', ['sip:bob@192.0.2.11'], [1.0])], \
                 1, ['sip:bob@192.0.2.11'], False, 'sip:192.0.2.10:5060;transport=udp', 5)"
            )
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn registrar_aliases_are_checked_then_declared() {
    let (e, host) = engine(
        "from siphon import proxy, registrar\n\
         @proxy.on_request('REGISTER')\n\
         def reg(request):\n\
         \x20   aliases = request.get_header('X-Aliases').split()\n\
         \x20   registrar.save(request, aliases=aliases)\n\
         @proxy.on_request('OPTIONS')\n\
         def info(request):\n\
         \x20   request.reply(200, ' '.join(registrar.associated_uris('sip:bob@domain.local')))\n",
    );
    let register = |aliases: &str| {
        let req = request(
            "REGISTER",
            "sip:domain.local",
            &format!("Contact: <sip:bob@192.0.2.10>\nX-Aliases: {aliases}\n"),
        );
        e.on_request(&req)
    };
    // A URI of another scheme: ValueError before anything is stored.
    match register("tel:+1555 mailto:bob@example.com") {
        Decision::Failed(tb) => assert!(
            tb.contains(
                "ValueError: aliases: \"mailto:bob@example.com\" is not a sip, sips or tel URI"
            ),
            "{tb}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(!host.called("registrar_save"));
    assert!(
        matches!(register("tel:+1555 <sip:+1555@domain.local>"), Decision::Reply(r) if r.status == 200)
    );
    assert!(host
        .called("registrar_set_aliases sip:bob@domain.local tel:+1555,<sip:+1555@domain.local>"));
    let req = request("OPTIONS", "sip:domain.local", "");
    assert!(matches!(e.on_request(&req), Decision::Reply(r)
        if r.reason.as_deref() == Some("tel:+1555 <sip:+1555@domain.local>")));
}

#[test]
fn gateway_return_conventions() {
    let (e, host) = engine(
        "from siphon import proxy, gateway\n\
         @proxy.on_request\n\
         def r(request):\n\
         \x20   assert gateway.select('nope') is None\n\
         \x20   assert gateway.list('nope') == []\n\
         \x20   assert gateway.status('nope') == []\n\
         \x20   assert gateway.mark_down('nope', 'sip:x') is False\n\
         \x20   assert gateway.remove_group('nope') is False\n\
         \x20   assert gateway.status('backends') == [('sip:b1.example', True), ('sip:b2.example', False)]\n\
         \x20   assert gateway.groups() == ['backends']\n\
         \x20   assert gateway.mark_down('backends', 'sip:b1.example') is True\n\
         \x20   gateway.add_group('pstn', [{'uri': 'sip:gw1.example', 'address': '192.0.2.1:5060'}], algorithm='round_robin', probe=True)\n\
         \x20   assert gateway.remove_group('pstn') is True\n\
         \x20   request.reply(200)\n",
    );
    host.add_group(
        "backends",
        &[("sip:b1.example", true), ("sip:b2.example", false)],
    );
    match e.on_request(&request("OPTIONS", "sip:x@domain.local", "")) {
        Decision::Reply(r) => assert_eq!(r.status, 200),
        other => panic!("{other:?}"),
    }
    assert!(host.called("gateway_add_group pstn round_robin 1 probe"));
}

#[test]
fn siphon_rewrites() {
    let (e, host) = engine(
        "from siphon import proxy\n\
         @proxy.on_request\n\
         def r(request):\n\
         \x20   request.set_from_uri('sip:carol@example.net')\n\
         \x20   request.set_to_display('Bob B')\n\
         \x20   request.set_contact_user('c1')\n\
         \x20   request.fix_nated_contact()\n\
         \x20   request.fix_nated_register()\n\
         \x20   request.add_path('sip:edge.example')\n\
         \x20   request.prepend_route('sip:first.example;lr')\n\
         \x20   request.remove_from_header_list('Supported', 'timer')\n\
         \x20   assert request.route_user == None\n\
         \x20   assert request.from_gateway('backends') and not request.from_gateway('nope')\n\
         \x20   assert len(request.generate_icid()) == 36\n\
         \x20   request.auth_user = 'carol'\n\
         \x20   assert request.auth_user == 'carol'\n\
         \x20   request.relay()\n\
         @proxy.on_register_reply\n\
         def rr(request, reply):\n\
         \x20   reply.set_header('X-Register-Reply', request.method)\n",
    );
    host.add_group("backends", &[("sip:b1.example", true)]);
    {
        let mut g = host.groups.lock().unwrap();
        g[0].2[0].address = Some("192.0.2.7:5060".into());
    }
    let req = request(
        "REGISTER",
        "sip:domain.local",
        "Contact: \"Me\" <sip:me@10.0.0.5:5080>;expires=60, <sip:other@10.0.0.6>\n\
         Supported: path, timer, outbound\n\
         Path: <sip:old.example;lr>\n",
    );
    match e.on_request(&req) {
        Decision::Relay { edits, .. } => {
            let set = |name: &str| {
                edits
                    .headers
                    .iter()
                    .rev()
                    .find_map(|h| match h {
                        HeaderEdit::Set(n, v) if n == name => Some(v.clone()),
                        _ => None,
                    })
                    .unwrap_or_default()
            };
            assert_eq!(
                set("From"),
                "\"Alice\" <sip:carol@example.net>;tag=1928301774"
            );
            assert_eq!(set("To"), "\"Bob B\" <sip:bob@domain.local>");
            assert_eq!(
                set("Contact"),
                "\"Me\" <sip:c1@192.0.2.7:5062>;expires=60, <sip:other@10.0.0.6>"
            );
            assert_eq!(set("Path"), "<sip:edge.example;lr>, <sip:old.example;lr>");
            assert_eq!(set("Route"), "<sip:first.example;lr>");
            assert_eq!(set("Supported"), "path, outbound");
        }
        other => panic!("{other:?}"),
    }
    // on_register_reply: a reply handler for REGISTER only.
    assert!(e.wants_replies());
    let resp = response(200, "OK");
    match e.on_reply(&req, &resp) {
        anysip_core::ReplyDecision::ForwardEdited(edits) => assert_eq!(
            edits,
            vec![HeaderEdit::Set(
                "X-Register-Reply".into(),
                "REGISTER".into()
            )]
        ),
        other => panic!("{other:?}"),
    }
    let invite = request("INVITE", "sip:bob@domain.local", "");
    assert_eq!(
        e.on_reply(&invite, &resp),
        anysip_core::ReplyDecision::Forward
    );
}

#[test]
fn timers_every_and_one_shot() {
    let (e, _) = engine(
        "from siphon import proxy, timer\n\
         ticks = []\n\
         fired = []\n\
         @timer.every(seconds=0.05)\n\
         def tick():\n\
         \x20   ticks.append(1)\n\
         def shot(key):\n\
         \x20   fired.append(key)\n\
         @proxy.on_request\n\
         def r(request):\n\
         \x20   what = request.get_header('X-Do')\n\
         \x20   if what == 'arm':\n\
         \x20       h = timer.set('a', 50, shot)\n\
         \x20       timer.set('b', 60000, shot)\n\
         \x20       assert h.key == 'a' and timer.active_count == 2\n\
         \x20       assert timer.cancel('b') is True and timer.cancel('b') is False\n\
         \x20   request.reply(200, repr((len(ticks) >= 2, fired, timer.active_count)))\n",
    );
    let ask = |extra: &str| match e.on_request(&request("OPTIONS", "sip:x@domain.local", extra)) {
        Decision::Reply(r) => r.reason.unwrap_or_default(),
        other => panic!("{other:?}"),
    };
    let armed = ask("X-Do: arm\n");
    assert!(armed.ends_with("[], 1)"), "{armed}");
    let t0 = std::time::Instant::now();
    loop {
        let now = ask("");
        if now == "(True, ['a'], 0)" {
            break;
        }
        assert!(t0.elapsed() < std::time::Duration::from_secs(5), "{now}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn proxy_utilities() {
    let (e, _) = engine(
        "from siphon import proxy\n\
         @proxy.on_request\n\
         def r(request):\n\
         \x20   ok = [proxy.rate_limit(request, 60, 2) for _ in range(3)]\n\
         \x20   pct = proxy.memory_used_pct()\n\
         \x20   assert 0 <= pct <= 100\n\
         \x20   request.reply(200, repr((ok, proxy.sanity_check(request))))\n",
    );
    let reason = |req: &anysip_core::RequestContext| match e.on_request(req) {
        Decision::Reply(r) => r.reason.unwrap_or_default(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        reason(&request("OPTIONS", "sip:x@domain.local", "")),
        "([True, True, False], True)"
    );
    // Another source has its own window; a CSeq of another method fails
    // the sanity check.
    let mut other = ctx("OPTIONS sip:x@domain.local SIP/2.0\n\
         Via: SIP/2.0/UDP 192.0.2.8:5062;branch=z9hG4bK776asdhd2\n\
         Max-Forwards: 70\n\
         To: <sip:bob@domain.local>\n\
         From: <sip:alice@domain.local>;tag=1\n\
         Call-ID: sanity@pc33\n\
         CSeq: 1 INVITE\n\
         Content-Length: 0\n\n");
    other.source = "192.0.2.8:5062".parse().unwrap();
    assert_eq!(reason(&other), "([True, True, False], False)");
}

#[test]
fn reply_source_and_nat() {
    let (e, host) = engine(
        "from siphon import proxy\n\
         @proxy.on_reply\n\
         def r(request, reply):\n\
         \x20   assert (reply.source_ip, reply.source_port) == ('192.0.2.20', 5060)\n\
         \x20   assert reply.from_gateway('backends') and not reply.from_gateway('nope')\n\
         \x20   reply.fix_nated_contact()\n",
    );
    host.add_group("backends", &[("sip:b1.example", true)]);
    host.groups.lock().unwrap()[0].2[0].address = Some("192.0.2.20:5060".into());
    let mut resp = response(180, "Ringing");
    resp.message = message(
        "SIP/2.0 180 Ringing\n\
         Via: SIP/2.0/UDP 192.0.2.7:5062;branch=z9hG4bK776asdhds\n\
         To: <sip:bob@domain.local>;tag=xyz\n\
         From: <sip:alice@domain.local>;tag=1928301774\n\
         Call-ID: a84b4c76e66710@pc33\n\
         CSeq: 314159 INVITE\n\
         Contact: \"B\" <sip:bob@10.0.0.9:5070;transport=udp>;expires=30\n\
         Content-Length: 0\n\n",
    );
    let req = request("INVITE", "sip:bob@domain.local", "");
    assert_eq!(
        e.on_reply(&req, &resp),
        anysip_core::ReplyDecision::ForwardEdited(vec![HeaderEdit::Set(
            "Contact".into(),
            "\"B\" <sip:bob@192.0.2.20:5060;transport=udp>;expires=30".into()
        )])
    );
}

#[test]
fn no_handler_for_a_method() {
    let (e, _) = engine(
        "from siphon import proxy\n\
         @proxy.on_request('INVITE')\n\
         def r(request):\n\
         \x20   request.reply(486)\n",
    );
    match e.on_request(&request("MESSAGE", "sip:x@domain.local", "")) {
        Decision::Reply(r) => assert_eq!(
            (r.status, r.reason.as_deref()),
            (500, Some("No Script Handler"))
        ),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        e.on_request(&request("INVITE", "sip:x@domain.local", "")),
        Decision::Reply(r) if r.status == 486
    ));
}
