//! Request attributes, header operations, decisions and host calls.

use std::sync::Arc;

use anysip_core::{Decision, ForkStrategy, HeaderEdit, ReplyDecision, Router, Target};
use script::Engine;

use super::support::*;

fn engine(body: &str) -> (Engine, Arc<TestHost>) {
    let host = TestHost::new();
    let path = script_file("api", body);
    let e = Engine::load(&path, false, host.clone()).unwrap();
    (e, host)
}

/// A script that checks `cond` (a Python expression over `request`) and
/// replies 200 when true, 500 with the failing value otherwise.
fn check(cond: &str, req: &anysip_core::RequestContext) {
    let (e, _) = engine(&format!(
        "from anysip import proxy\n\
         @proxy.on_request\n\
         def r(request):\n\
         \x20   ok = {cond}\n\
         \x20   request.reply(200 if ok is True else 599, repr(ok))\n"
    ));
    match e.on_request(req) {
        Decision::Reply(r) if r.status == 200 => {}
        other => panic!("{cond}: {other:?}"),
    }
}

#[test]
fn request_attributes() {
    let req = request(
        "INVITE",
        "sip:bob@domain.local:5070;transport=tcp",
        "User-Agent: softphone/1.0\nContent-Type: application/sdp\n",
    );
    for cond in [
        "request.method == 'INVITE'",
        "str(request.ruri) == 'sip:bob@domain.local:5070;transport=tcp'",
        "request.ruri.user == 'bob' and request.ruri.host == 'domain.local' and request.ruri.port == 5070",
        "request.ruri.transport == 'tcp' and request.ruri.scheme == 'sip'",
        "request.ruri.param('transport') == 'tcp' and request.ruri.param('lr') is None",
        "str(request.from_uri) == 'sip:alice@domain.local' and request.from_uri.user == 'alice'",
        "str(request.to_uri) == 'sip:bob@domain.local' and request.to_uri.port is None",
        "request.call_id == 'a84b4c76e66710@pc33'",
        "request.cseq == (314159, 'INVITE') and request.cseq_method == 'INVITE'",
        "request.in_dialog is False and request.to_tag is None and request.from_tag == '1928301774'",
        "request.max_forwards == 70",
        "request.transport == 'udp'",
        "request.source_ip == '192.0.2.7' and request.source_port == 5062",
        "request.local_ip == '192.0.2.1' and request.local_port == 5060",
        "request.user_agent == 'softphone/1.0'",
        "request.body is None and request.content_type == 'application/sdp'",
        "request.auth_user is None and request.decided is False",
        "request.ruri == 'sip:bob@domain.local:5070;transport=tcp'",
        "request.ruri.aor == 'sip:bob@domain.local'",
        "request.loose_route() is False",
    ] {
        check(cond, &req);
    }
}

#[test]
fn in_dialog_and_routes() {
    let mut req = request(
        "BYE",
        "sip:bob@192.0.2.20",
        "Route: <sip:next.example;lr>\n",
    );
    req.message = message(
        &String::from_utf8_lossy(req.message.as_bytes())
            .replace(
                "To: <sip:bob@domain.local>",
                "To: <sip:bob@domain.local>;tag=abc",
            )
            .replace("\r\n", "\n"),
    );
    check(
        "request.in_dialog is True and request.to_tag == 'abc'",
        &req,
    );
    check("request.loose_route() is True", &req);
    let mut consumed = request("BYE", "sip:bob@192.0.2.20", "");
    consumed.route_consumed = true;
    consumed.consumed_routes = vec!["sip:orig@core.example;lr".into()];
    check("request.loose_route() is True", &consumed);
    check(
        "request.consumed_routes == ['sip:orig@core.example;lr'] and request.consumed_route_user == 'orig' \
         and request.consumed_route.host == 'core.example'",
        &consumed,
    );
}

#[test]
fn header_operations() {
    let req = request(
        "OPTIONS",
        "sip:bob@domain.local",
        "X-Custom: one\nSubject: hi\n",
    );
    for cond in [
        "request.get('x-custom') == 'one' and request.has('X-CUSTOM')",
        "request.get('s') == 'hi' and request.get('Subject') == 'hi'",
        "request.get('i') == 'a84b4c76e66710@pc33' and request.get('f').startswith('\"Alice\"')",
        "request.get('X-None') is None and not request.has('X-None')",
        "(request.set('X-Custom', 'two'), request.get('x-custom'))[1] == 'two'",
        "(request.remove('subject'), request.has('s'))[1] is False",
        "(request.set('From', '<sip:carol@example.com>;tag=9'), str(request.from_uri))[1] == 'sip:carol@example.com'",
        "(request.set_ruri('sip:carol@example.com'), request.ruri.user)[1] == 'carol'",
        "(request.append('X-New', 7), request.get('X-New'))[1] == '7'",
    ] {
        check(cond, &req);
    }
    // Protected and malformed edits raise ValueError.
    for bad in [
        "request.set('Via', 'x')",
        "request.remove('Content-Length')",
        "request.set('X-A', 'a\\r\\nB: c')",
        "request.set_ruri('not a uri')",
        "request.reply(42)",
    ] {
        let (e, _) = engine(&format!(
            "from anysip import proxy\n\
             @proxy.on_request\n\
             def r(request):\n\
             \x20   try:\n\
             \x20       {bad}\n\
             \x20   except ValueError:\n\
             \x20       request.reply(200)\n"
        ));
        assert!(
            matches!(e.on_request(&req), Decision::Reply(r) if r.status == 200),
            "{bad}"
        );
    }
}

#[test]
fn decisions_carry_edits() {
    let req = request("INVITE", "sip:bob@domain.local", "");
    let (e, _) = engine(
        "from anysip import proxy\n\
         @proxy.on_request\n\
         def r(request):\n\
         \x20   request.set('X-Tag', 'a')\n\
         \x20   request.remove('X-Gone')\n\
         \x20   request.set_ruri('sip:bob@192.0.2.20:5080')\n\
         \x20   request.relay('sip:10.0.0.1:5060')\n\
         \x20   request.record_route()\n",
    );
    match e.on_request(&req) {
        Decision::Relay {
            edits, next_hop, ..
        } => {
            assert_eq!(next_hop.as_deref(), Some("sip:10.0.0.1:5060"));
            assert_eq!(edits.ruri.as_deref(), Some("sip:bob@192.0.2.20:5080"));
            assert!(edits.record_route);
            assert_eq!(
                edits.headers,
                vec![
                    HeaderEdit::Set("X-Tag".into(), "a".into()),
                    HeaderEdit::Remove("X-Gone".into())
                ]
            );
        }
        other => panic!("{other:?}"),
    }

    let (e, _) = engine(
        "from anysip import proxy\n\
         @proxy.on_request\n\
         def r(request):\n\
         \x20   request.reply(486, 'Busy Here', headers={'Retry-After': 30})\n",
    );
    match e.on_request(&req) {
        Decision::Reply(r) => {
            assert_eq!((r.status, r.reason.as_deref()), (486, Some("Busy Here")));
            assert_eq!(r.headers, vec![("Retry-After".into(), "30".into())]);
        }
        other => panic!("{other:?}"),
    }

    let (e, _) = engine(
        "from anysip import proxy\n\
         @proxy.on_request\n\
         def r(request):\n\
         \x20   request.relay()\n",
    );
    assert!(matches!(
        e.on_request(&req),
        Decision::Relay { next_hop: None, .. }
    ));

    let (e, host) = engine(
        "from anysip import proxy, registrar\n\
         @proxy.on_request\n\
         def r(request):\n\
         \x20   targets = registrar.lookup('sip:bob@domain.local') + ['sip:bob@198.51.100.9']\n\
         \x20   request.fork(targets, strategy='sequential')\n",
    );
    host.add_binding(
        "sip:bob@domain.local",
        "sip:bob@192.0.2.20:5060",
        &["<sip:edge1;lr>"],
    );
    host.add_binding("sip:bob@domain.local", "sip:bob@192.0.2.21:5060", &[]);
    match e.on_request(&req) {
        Decision::Fork {
            targets, strategy, ..
        } => {
            assert_eq!(strategy, ForkStrategy::Sequential);
            assert_eq!(
                targets,
                vec![
                    Target {
                        uri: "sip:bob@192.0.2.20:5060".into(),
                        route: vec!["<sip:edge1;lr>".into()],
                        next_hop: None,
                        flow: None
                    },
                    Target {
                        uri: "sip:bob@192.0.2.21:5060".into(),
                        route: vec![],
                        next_hop: Some("sip:192.0.2.10:5060;transport=udp".into()),
                        flow: None
                    },
                    Target {
                        uri: "sip:bob@198.51.100.9".into(),
                        route: vec![],
                        next_hop: None,
                        flow: None
                    },
                ]
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(host.called("registrar_lookup sip:bob@domain.local"));

    // No decision → Drop; no on_reply handler → no reply calls wanted.
    let (e, _) = engine("from anysip import proxy\n@proxy.on_request\ndef r(request):\n    pass\n");
    assert_eq!(e.on_request(&req), Decision::Drop);
    assert!(!e.wants_replies());
}

#[test]
fn decorators_filters_and_order() {
    // SIPhon's dispatcher: every handler whose filter matches runs, in
    // registration order, and the last decision wins.
    let (e, _) = engine(
        "from siphon import proxy\n\
         seen = []\n\
         @proxy.on_request('INVITE|SUBSCRIBE')\n\
         def invites(request):\n\
         \x20   request.reply(480)\n\
         @proxy.on_request\n\
         def first(request):\n\
         \x20   request.set('X-First', '1')\n\
         @proxy.on_request()\n\
         def second(request):\n\
         \x20   if request.method != 'SUBSCRIBE':\n\
         \x20       request.reply(200, request.get('X-First'))\n\
         @proxy.on_request('MESSAGE')\n\
         def last(request):\n\
         \x20   if request.get('X-Boom'):\n\
         \x20       raise RuntimeError('boom')\n",
    );
    let decision = |m: &str, extra: &str| e.on_request(&request(m, "sip:bob@domain.local", extra));
    // The catch-all after the INVITE handler decides last.
    assert!(
        matches!(decision("INVITE", ""), Decision::Reply(r) if r.status == 200 && r.reason.as_deref() == Some("1"))
    );
    // The catch-all leaves SUBSCRIBE alone: the filtered handler's 480.
    assert!(matches!(decision("SUBSCRIBE", ""), Decision::Reply(r) if r.status == 480));
    assert!(
        matches!(decision("MESSAGE", ""), Decision::Reply(r) if r.status == 200 && r.reason.as_deref() == Some("1"))
    );
    // A later handler that raises fails the request even after a decision.
    assert!(matches!(
        decision("MESSAGE", "X-Boom: 1\n"),
        Decision::Failed(_)
    ));
}

#[test]
fn async_handler_runs() {
    let (e, _) = engine(
        "import asyncio\n\
         from anysip import proxy\n\
         loops = set()\n\
         @proxy.on_request\n\
         async def r(request):\n\
         \x20   await asyncio.sleep(0)\n\
         \x20   loops.add(id(asyncio.get_running_loop()))\n\
         \x20   request.reply(200, str(len(loops)))\n",
    );
    let req = request("OPTIONS", "sip:bob@domain.local", "");
    for _ in 0..3 {
        // The same loop serves every call on this thread.
        assert!(
            matches!(e.on_request(&req), Decision::Reply(r) if r.status == 200 && r.reason.as_deref() == Some("1"))
        );
    }
}

#[test]
fn reply_and_failure_handlers() {
    let (e, _) = engine(
        "from anysip import proxy\n\
         @proxy.on_reply\n\
         def one(reply):\n\
         \x20   if reply.status == 183:\n\
         \x20       reply.drop()\n\
         @proxy.on_reply\n\
         def two(request, reply):\n\
         \x20   if reply.status == 180 and reply.get('x-backend') == 'b1' and request.method == 'INVITE':\n\
         \x20       reply.set('X-Seen', reply.reason)\n\
         \x20       reply.remove('X-Backend')\n\
         @proxy.on_failure\n\
         def failover(request, reply):\n\
         \x20   if reply.status == 503:\n\
         \x20       request.relay('sip:backup.example')\n\
         \x20   elif reply.status == 486:\n\
         \x20       request.reply(600, 'Busy Everywhere')\n",
    );
    let req = request("INVITE", "sip:bob@domain.local", "");
    assert!(e.wants_replies());
    assert_eq!(
        e.on_reply(&req, &response(183, "Progress")),
        ReplyDecision::Drop
    );
    assert_eq!(
        e.on_reply(&req, &response(180, "Ringing")),
        ReplyDecision::ForwardEdited(vec![
            HeaderEdit::Set("X-Seen".into(), "Ringing".into()),
            HeaderEdit::Remove("X-Backend".into()),
        ])
    );
    assert_eq!(
        e.on_reply(&req, &response(200, "OK")),
        ReplyDecision::Forward
    );
    assert!(matches!(
        e.on_failure(&req, &response(503, "Unavailable")),
        Decision::Relay { next_hop: Some(h), .. } if h == "sip:backup.example"
    ));
    assert!(
        matches!(e.on_failure(&req, &response(486, "Busy")), Decision::Reply(r) if r.status == 600)
    );
    assert_eq!(
        e.on_failure(&req, &response(404, "Not Found")),
        Decision::Drop
    );
}

#[test]
fn registrar_and_gateway_reach_the_host() {
    let (e, host) = engine(
        "from anysip import proxy, registrar, gateway, log\n\
         gateway.add_group('pstn', 'round_robin', ['sip:gw1.example', {'uri': 'sip:gw2.example', 'weight': 2, 'attrs': {'region': 'eu'}}])\n\
         @proxy.on_request('OPTIONS')\n\
         def o(request):\n\
         \x20   assert registrar.is_registered('sip:bob@domain.local')\n\
         \x20   assert registrar.remove('sip:bob@domain.local') == 1\n\
         \x20   assert not registrar.is_registered('sip:bob@domain.local')\n\
         \x20   d = gateway.select('backends', key='k', attrs={'region': 'eu'})\n\
         \x20   assert d and d.healthy and d.attrs == {'region': 'eu'} and str(d) == d.uri\n\
         \x20   assert len(gateway.list('backends')) == 2\n\
         \x20   gateway.mark_down('backends', 'sip:b1.example')\n\
         \x20   gateway.mark_down('backends', 'sip:b2.example')\n\
         \x20   assert gateway.select('backends') is None\n\
         \x20   gateway.mark_up('backends', 'sip:b1.example')\n\
         \x20   assert gateway.select('backends').uri == 'sip:b1.example'\n\
         \x20   assert set(gateway.status()) == {'backends', 'pstn'}\n\
         \x20   gateway.remove_group('pstn')\n\
         \x20   try:\n\
         \x20       gateway.select('nope')\n\
         \x20   except ValueError:\n\
         \x20       pass\n\
         \x20   log.info('all', 'good', 1)\n\
         \x20   request.reply(200)\n\
         @proxy.on_request('REGISTER')\n\
         def reg(request):\n\
         \x20   if not registrar.save(request):\n\
         \x20       log.warn('not saved')\n",
    );
    host.add_binding("sip:bob@domain.local", "sip:bob@192.0.2.20", &[]);
    host.add_group(
        "backends",
        &[("sip:b1.example", true), ("sip:b2.example", true)],
    );
    let d = e.on_request(&request("OPTIONS", "sip:bob@domain.local", ""));
    assert!(
        matches!(d, Decision::Reply(ref r) if r.status == 200),
        "{d:?}"
    );
    for call in [
        "gateway_add_group pstn round_robin 2",
        "registrar_remove sip:bob@domain.local",
        "gateway_select backends Some(\"k\")",
        "gateway_mark backends sip:b1.example true",
        "gateway_list backends",
        "gateway_status",
        "gateway_remove_group pstn",
    ] {
        assert!(host.called(call), "{call}");
    }

    // registrar.save: the host's reply becomes the decision; a store that
    // is down gives 503 and False.
    let reg = request(
        "REGISTER",
        "sip:domain.local",
        "Contact: <sip:bob@192.0.2.20:5060>\n",
    );
    match e.on_request(&reg) {
        Decision::Reply(r) => {
            assert_eq!(r.status, 200);
            assert!(r.headers.iter().any(|(n, _)| n == "Contact"));
        }
        other => panic!("{other:?}"),
    }
    host.unavailable
        .store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(matches!(e.on_request(&reg), Decision::Reply(r) if r.status == 503));
}

/// RFC 5626 flows: a binding with `+sip.instance` and `reg-id` becomes a
/// target that names its flow (the core tries one flow per instance at a
/// time); a flow found dead ends its binding, and `@registrar.on_change`
/// hears `deregistered` with the contacts left.
#[test]
fn flows_are_targets_and_a_dead_one_ends_its_binding() {
    let (e, host) = engine(
        "from anysip import proxy, registrar\n\
         seen = []\n\
         @registrar.on_change\n\
         def changed(aor, event, contacts):\n\
         \x20   seen.append((aor, event, [c.reg_id for c in contacts]))\n\
         @proxy.on_request('INVITE')\n\
         def r(request):\n\
         \x20   request.fork(registrar.lookup('sip:dave@domain.local'), strategy='parallel')\n\
         @proxy.on_request('OPTIONS')\n\
         def info(request):\n\
         \x20   request.reply(200, repr(seen))\n",
    );
    let aor = "sip:dave@domain.local";
    let inst = "<urn:uuid:00000000-0000-1000-8000-000a95a0e128>";
    for (reg_id, edge) in [(1, "<sip:edge1;lr;ob>"), (2, "<sip:edge2;lr;ob>")] {
        let mut b = binding(aor, "sip:dave@192.0.2.40;ob", &[edge]);
        b.instance = Some(inst.into());
        b.reg_id = Some(reg_id);
        host.bindings
            .lock()
            .unwrap()
            .entry(aor.into())
            .or_default()
            .push(b);
    }
    let flow = |reg_id| anysip_core::RegisteredFlow {
        aor: aor.into(),
        instance: inst.into(),
        reg_id,
    };
    let req = request("INVITE", "sip:dave@domain.local", "");
    match e.on_request(&req) {
        Decision::Fork { targets, .. } => {
            let flows: Vec<_> = targets.iter().map(|t| t.flow.clone()).collect();
            assert_eq!(flows, [Some(flow(1)), Some(flow(2))]);
            assert_eq!(targets[0].route, ["<sip:edge1;lr;ob>"]);
        }
        other => panic!("{other:?}"),
    }
    let failed = anysip_core::FailedFlow {
        flow: flow(1),
        uri: "sip:dave@192.0.2.40;ob".into(),
        route: vec!["<sip:edge1;lr;ob>".into()],
        failure: anysip_core::FlowFailure::FlowFailed,
    };
    e.on_flow_failed(&failed);
    assert!(host.called(&format!("registrar_remove_flow {aor} {inst} 1")));
    let left = host.bindings.lock().unwrap()[aor].clone();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].reg_id, Some(2));
    // Reported again (the binding is gone): nothing changes, no event.
    e.on_flow_failed(&failed);
    let info = request("OPTIONS", "sip:domain.local", "");
    match e.on_request(&info) {
        Decision::Reply(r) => assert_eq!(
            r.reason.as_deref(),
            Some("[('sip:dave@domain.local', 'deregistered', [2])]")
        ),
        other => panic!("{other:?}"),
    }
}
