//! Requests: DESIGN §6, the request rows.

use sip::edit::Editor;
use sip::header::Via;
use sip::response::response;
use sip::validate::proxy_checks;
use sip::{HeaderName, Message, Method, Uri};
use tokencodec::{Backend, Flow, Route, Token, Transport};

use crate::action::{reply, reply_with, Action, DropReason, Target};
use crate::inbound::flow_token;
use crate::settings::Backends;
use crate::tokens::{branch_inputs, own_route, route_uri, route_user, via};
use crate::Edge;

/// Where a request goes and what the edge adds for it.
#[derive(Clone)]
enum Plan {
    /// Towards a backend: our Via names the UE flow the response returns to.
    ToBackend {
        backend: Backend,
        record_route: Option<Route>,
        path: Option<Flow>,
    },
    /// Towards a UE flow: our Via names the backend the response returns to.
    ToFlow {
        flow: Flow,
        from: Backend,
        record_route: Option<Route>,
    },
}

pub(crate) fn handle(
    edge: &Edge,
    msg: Message,
    inbound: &sip::Flow,
    backends: &mut dyn Backends,
    now: u64,
    notes: &mut crate::Notes,
) -> Action {
    // Closed after a 400 where the bytes' framing may be lost (TCP, TLS;
    // not WebSocket, which frames each message).
    let stream = inbound.framing() == sip::Framing::Stream;
    let mut sender_backend = backends.backend_of(inbound.remote, inbound.transport);
    let mut from_backend = sender_backend.is_some();
    // Split, not parsed: the validation has parsed every Route.
    let routed = msg.values(HeaderName::Route).next().is_some();
    if !routed && is_to_self(edge, &msg) && msg.method() == Some(&Method::Options) {
        return options_reply(&msg);
    }
    if let Err(r) = proxy_checks(&msg, &[]) {
        let unsupported = r.unsupported.join(", ");
        let headers: Vec<(&str, &str)> = if unsupported.is_empty() {
            vec![]
        } else {
            vec![("Unsupported", unsupported.as_str())]
        };
        return reply_with(&msg, r.status, &r.reason, false, &headers);
    }
    // The top Via and the To tag, parsed once for the branch, the loop
    // check and the forwarded copy.
    let Ok(top) = msg.top_via() else {
        return reply(&msg, 400, "Bad Request", stream);
    };
    let to_tag = msg.to_tag();
    let Some(inputs) = branch_inputs(&msg, &top, to_tag) else {
        return reply(&msg, 400, "Bad Request", stream);
    };
    let branch = edge.codec().branch(&inputs);
    // Loop: one of the Vias is the one the edge would add now (RFC 3261
    // §16.3 step 4). A Via is parsed only when its text holds the branch.
    if msg.values(HeaderName::Via).any(|v| {
        v.contains(branch.as_str())
            && Via::parse(v).is_ok_and(|v| v.branch() == Some(branch.as_str()))
    }) {
        return reply(&msg, 482, "Loop Detected", false);
    }
    // The top Routes that are the edge's (§16.4): plain ones naming its
    // address (a UE's outbound proxy setting) are removed and the next is
    // looked at; then one with a token, maybe doubled (RFC 5658).
    let mut own_routes = 0;
    let mut token_routes = 0;
    let mut token = None;
    let mut pre_opened = None;
    for r in msg.routes() {
        let Ok(r) = r else { break };
        if token_routes == 0 {
            let Some(own) = own_route(&r, edge.settings(), edge.codec(), now) else {
                break;
            };
            own_routes += 1;
            if own.token.is_some() {
                (token, pre_opened, token_routes) = (own.token, own.opened, 1);
            }
        } else if route_user(&r) == token {
            // The second of a double Record-Route (RFC 5658): same token.
            own_routes += 1;
            token_routes += 1;
        } else {
            break;
        }
    }
    let plan = if token_routes > 0 {
        // Opened once: when recognising the Route, or here.
        let opened = pre_opened.or_else(|| token.and_then(|t| edge.codec().open_any(t, now).ok()));
        notes.token = Some(if opened.is_some() {
            crate::TokenResult::Opened
        } else {
            crate::TokenResult::Rejected
        });
        // A stream from the IP of a UDP backend is that backend (sending
        // a request too large for UDP over TCP, §18.1.1) unless it is the
        // UE end of the token: a flow token is a backend's alone.
        if !from_backend {
            if let Some(maybe) = backends.maybe_backend(inbound.remote, inbound.transport) {
                let ue_end = match opened.as_ref().map(|o| &o.token) {
                    Some(Token::Route(r)) => {
                        r.flow.ue == inbound.remote && r.flow.transport == inbound.transport
                    }
                    Some(Token::Flow(_)) => false,
                    None => true,
                };
                if !ue_end {
                    (sender_backend, from_backend) = (Some(maybe), true);
                }
            }
        }
        match (opened.map(|o| o.token), from_backend) {
            (None, _) => return reply(&msg, 403, "Invalid Routing Token", false),
            // From a backend: to the UE's flow (Path or Record-Route token).
            // An initial request (no To tag) record-routes, so that the UE's
            // in-dialog requests come back through an edge to this backend.
            (Some(t), true) => {
                let flow = *t.flow();
                let from = sender_backend.unwrap_or(Backend {
                    transport: inbound.transport,
                    addr: inbound.remote,
                });
                let initial = to_tag.is_none();
                Plan::ToFlow {
                    flow,
                    from,
                    record_route: initial.then_some(Route {
                        flow,
                        backend: from,
                    }),
                }
            }
            // From a UE, a route token: to its backend.
            (Some(Token::Route(r)), false) => Plan::ToBackend {
                backend: r.backend,
                record_route: None,
                path: None,
            },
            // A UE may not use a flow token to reach another UE.
            (Some(Token::Flow(_)), false) => return reply(&msg, 403, "Forbidden", false),
        }
    } else if from_backend {
        // Not an open relay: a backend's request must carry the edge's token.
        return reply(&msg, 403, "No Routing Token", false);
    } else {
        let key = selection_key(&msg, edge.settings().selection_key);
        // An INVITE's CANCEL and non-2xx ACK carry no token and may reach
        // another instance: all three take the key's rendezvous choice.
        let sticky = matches!(
            msg.method(),
            Some(Method::Invite | Method::Ack | Method::Cancel)
        );
        let Some(backend) = backends.select(&key, sticky) else {
            let retry = edge.settings().retry_after_secs.to_string();
            return reply_with(
                &msg,
                503,
                "Service Unavailable",
                false,
                &[("Retry-After", &retry)],
            );
        };
        let flow = flow_token(inbound, edge.settings().instance_id);
        if msg.method() == Some(&Method::Register) {
            Plan::ToBackend {
                backend,
                record_route: None,
                path: Some(flow),
            }
        } else {
            Plan::ToBackend {
                backend,
                record_route: Some(Route { flow, backend }),
                path: None,
            }
        }
    };
    let action = forward(
        edge,
        &msg,
        &top,
        inbound,
        own_routes,
        &branch,
        plan.clone(),
        now,
        false,
    );
    // RFC 3261 §18.1.1: too large for UDP, so over TCP to the same backend
    // (its Via naming TCP), or 513 if it cannot be reached so.
    match &action {
        Action::Forward {
            target: Target::Backend(b),
            bytes,
            ..
        } if b.transport == Transport::Udp && bytes.len() > edge.settings().udp_max_request => {
            forward(
                edge, &msg, &top, inbound, own_routes, &branch, plan, now, true,
            )
        }
        _ => action,
    }
}

/// Applies the edits and builds the action; `oversize` sends a request
/// meant for a UDP backend over TCP.
#[allow(clippy::too_many_arguments)]
fn forward(
    edge: &Edge,
    msg: &Message,
    top: &Via<'_>,
    inbound: &sip::Flow,
    own_routes: usize,
    branch: &tokencodec::Branch,
    plan: Plan,
    now: u64,
    oversize: bool,
) -> Action {
    let s = edge.settings();
    let codec = edge.codec();
    let internal = |e: &dyn std::fmt::Display| Action::Drop(DropReason::Internal(e.to_string()));
    let mut ed = Editor::new(msg);
    // Indices count in the received message, so these are the top values.
    for i in 0..own_routes {
        if let Err(e) = ed.remove_value(HeaderName::Route, i) {
            return internal(&e);
        }
    }
    // received / rport on the sender's Via (RFC 3261 §18.2.1, RFC 3581).
    let src = inbound.remote;
    if top.rport().is_some() {
        let _ = ed.set_via_param(top, "rport", Some(&src.port().to_string()));
        let _ = ed.set_via_param(top, "received", Some(&src.ip().to_string()));
    } else if top.host.ip() != Some(src.ip()) {
        let _ = ed.set_via_param(top, "received", Some(&src.ip().to_string()));
    }
    if ed.decrement_max_forwards().is_err() {
        return reply(msg, 483, "Too Many Hops", false);
    }
    let (target, via_token, sent_by, next_transport, rr, path, failed) = match plan {
        Plan::ToBackend {
            backend,
            record_route,
            path,
        } => {
            let flow = flow_token(inbound, s.instance_id);
            let t = codec.seal_flow(&flow, now);
            let sent = Backend {
                transport: if oversize {
                    Transport::Tcp
                } else {
                    backend.transport
                },
                addr: backend.addr,
            };
            // An ACK is never answered (§17.1.1.3).
            let failed = (sent.transport.is_stream() && msg.method() != Some(&Method::Ack))
                .then(|| {
                    let (status, reason) = if oversize {
                        (513, "Message Too Large")
                    } else {
                        (503, "Service Unavailable")
                    };
                    response(msg, status)
                        .map(|b| {
                            b.reason(reason)
                                .to_tag(&crate::tokens::local_tag(msg))
                                .build()
                        })
                        .ok()
                })
                .flatten();
            (
                Target::Backend(sent),
                t,
                s.address_for(s.backend_facing, sent.transport),
                sent.transport,
                record_route,
                path,
                failed,
            )
        }
        Plan::ToFlow {
            flow,
            from,
            record_route,
        } => {
            let t = codec.seal_route(
                &Route {
                    flow,
                    backend: from,
                },
                now,
            );
            let failed = flow.transport.is_stream().then(|| {
                response(msg, 430)
                    .map(|b| b.to_tag(&crate::tokens::local_tag(msg)).build())
                    .ok()
            });
            (
                Target::Flow(flow),
                t,
                s.address_for(s.ue_facing, flow.transport),
                flow.transport,
                record_route,
                None,
                failed.flatten(),
            )
        }
    };
    let via_token = match via_token {
        Ok(t) => t,
        Err(e) => return internal(&e),
    };
    ed.prepend("Via", &via(sent_by, next_transport, branch, &via_token));
    if let Some(route) = rr {
        let token = match codec.seal_route(&route, now) {
            Ok(t) => t,
            Err(e) => return internal(&e),
        };
        let ue_side = route_uri(
            &token,
            s.address_for(s.ue_facing, route.flow.transport),
            route.flow.transport,
            false,
        );
        let backend_side = route_uri(
            &token,
            s.address_for(s.backend_facing, route.backend.transport),
            route.backend.transport,
            false,
        );
        // The first value faces the next hop, the second the previous one
        // (RFC 5658); doubled when the sides differ in address or transport,
        // so each side reads the URI it must use. Prepends stack: the value
        // that must end on top goes last.
        let double = s.double_record_route() || route.flow.transport != route.backend.transport;
        let (top, below) = match target {
            Target::Backend(_) => (backend_side, ue_side),
            Target::Flow(_) => (ue_side, backend_side),
        };
        if double {
            ed.prepend("Record-Route", &below);
        }
        ed.prepend("Record-Route", &top);
    }
    if let (Some(flow), Target::Backend(b)) = (path, target) {
        let token = match codec.seal_flow(&flow, now) {
            Ok(t) => t,
            Err(e) => return internal(&e),
        };
        // The backend reaches the UE through the edge over the transport
        // the edge reaches it by.
        ed.prepend(
            "Path",
            &route_uri(
                &token,
                s.address_for(s.backend_facing, b.transport),
                b.transport,
                true,
            ),
        );
    }
    match ed.finish() {
        Ok(bytes) => Action::Forward {
            target,
            bytes,
            failed,
        },
        Err(e) => internal(&e),
    }
}

/// True when the Request-URI names the edge itself (no user part, one of
/// its addresses).
fn is_to_self(edge: &Edge, msg: &Message) -> bool {
    let Ok(Uri::Sip(u)) = msg.request_uri() else {
        return false;
    };
    let default = if u.secure { 5061 } else { 5060 };
    u.user.is_none()
        && u.host
            .ip()
            .is_some_and(|ip| edge.settings().is_own(ip, u.port.unwrap_or(default)))
}

fn options_reply(msg: &Message) -> Action {
    match response(msg, 200) {
        Ok(b) => Action::Reply {
            bytes: b
                .to_tag(&crate::tokens::local_tag(msg))
                .header("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, PRACK, UPDATE, INFO, REFER, NOTIFY, SUBSCRIBE, MESSAGE")
                .header("Accept", "application/sdp")
                .build(),
            close: false,
        },
        Err(e) => Action::Drop(DropReason::Unparseable(e.to_string())),
    }
}

/// The selection key of a request: an address-of-record (`user@host`, the
/// user unescaped, the host lower-cased), the Call-ID or the Request-URI.
pub(crate) fn selection_key(msg: &Message, key: crate::SelectionKey) -> Vec<u8> {
    use crate::SelectionKey::*;
    let addr = match key {
        CallId => return msg.call_id().unwrap_or("").as_bytes().to_vec(),
        RequestUri => return msg.request_uri_str().unwrap_or("").as_bytes().to_vec(),
        ToAor => msg.to(),
        FromAor => msg.from(),
    };
    let Ok(na) = addr else { return Vec::new() };
    match na.uri() {
        Ok(Uri::Sip(u)) => {
            let mut k = Vec::with_capacity(64);
            if let Some(user) = u.user {
                k.extend(sip::uri::Unescape::new(user));
                k.push(b'@');
            }
            k.extend(u.host_raw.bytes().map(|c| c.to_ascii_lowercase()));
            k
        }
        Ok(other) => other.as_str().as_bytes().to_vec(),
        Err(_) => na.uri_raw.as_bytes().to_vec(),
    }
}
