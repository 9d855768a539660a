//! A branch's plan: the router's target strings, parsed and checked once
//! when the decision arrives, into where the branch goes (for RFC 3263)
//! and how its request's Request-URI and Route set change (§16.6 steps
//! 2, 6, 7). Only what depends on the destination (Via, Record-Route,
//! the listener) is left for when each request is built.

use std::sync::Arc;

use sip::{Message, Uri};

use super::route;
use crate::decision::Edits;
use crate::error::CoreError;

/// Where one branch goes and how its request is changed.
#[derive(Debug)]
pub(super) struct Plan {
    /// What RFC 3263 resolves: the next hop, else the top Route (the
    /// branch's own, then the request's), else the Request-URI.
    pub(super) target: resolve::Target,
    /// The new Request-URI, checked; `None` leaves it as received.
    pub(super) ruri: Option<String>,
    /// The branch's Request-URI as sent.
    pub(super) uri: String,
    /// Route header value to put in front (name-addrs, top first).
    pub(super) route: Option<String>,
    /// The request's own top Route names a strict router, which becomes
    /// the Request-URI: remove that Route.
    pub(super) drop_top_route: bool,
    /// §16.6 step 6: the Request-URI a strict router next displaced, as
    /// the last Route (`<uri>`).
    pub(super) strict_tail: Option<String>,
    pub(super) edits: Arc<Edits>,
}

impl Plan {
    /// The plan for `msg` (the request as routed) with an optional new
    /// Request-URI (a fork target's), a route set and a next hop.
    pub(super) fn new(
        msg: &Message,
        ruri: Option<String>,
        route: &[String],
        next_hop: Option<&str>,
        edits: Arc<Edits>,
    ) -> Result<Plan, CoreError> {
        let mut ruri = ruri.or_else(|| edits.ruri.clone());
        let mut target = target(msg, ruri.as_deref(), route, next_hop)?;
        // `force_send_via`: the script's transport wins.
        if let Some(v) = &edits.via {
            target.transport = Some(v.transport);
        }
        let mut routes: Vec<String> = route.iter().map(|r| name_addr(r)).collect();
        let current = match &ruri {
            Some(u) => u.clone(),
            None => msg.request_uri_str().unwrap_or_default().to_owned(),
        };
        let mut strict_tail = None;
        let mut drop_top_route = false;
        if let Some(first) = routes.first() {
            let uri = route::uri_text(first);
            if is_strict(uri) {
                ruri = Some(uri.to_owned());
                routes.remove(0);
                strict_tail = Some(format!("<{current}>"));
            }
        } else if let Some(Ok(top)) = msg.routes().next() {
            if is_strict(top.uri_raw) {
                ruri = Some(top.uri_raw.to_owned());
                drop_top_route = true;
                strict_tail = Some(format!("<{current}>"));
            }
        }
        if let Some(u) = &ruri {
            if Uri::parse(u).is_err() || u.contains(' ') {
                return Err(CoreError::BadTarget(u.clone()));
            }
        }
        let uri = match &ruri {
            Some(u) => u.clone(),
            None => current,
        };
        Ok(Plan {
            target,
            ruri,
            uri,
            route: (!routes.is_empty()).then(|| routes.join(", ")),
            drop_top_route,
            strict_tail,
            edits,
        })
    }
}

/// Where a branch goes (§16.6 step 7).
fn target(
    msg: &Message,
    ruri: Option<&str>,
    route: &[String],
    next_hop: Option<&str>,
) -> Result<resolve::Target, CoreError> {
    let text: &str = if let Some(h) = next_hop {
        h
    } else if let Some(r) = route.first() {
        route::uri_text(r)
    } else if let Some(r) = msg.routes().next() {
        r?.uri_raw
    } else if let Some(u) = ruri {
        u
    } else {
        msg.request_uri_str().unwrap_or_default()
    };
    resolve::Target::from_uri(text).map_err(|_| CoreError::BadTarget(text.to_owned()))
}

/// A Route value as a name-addr.
fn name_addr(r: &str) -> String {
    if r.contains('<') {
        r.trim().to_owned()
    } else {
        format!("<{}>", r.trim())
    }
}

/// A SIP URI without `;lr`: a strict router (RFC 2543).
fn is_strict(uri: &str) -> bool {
    matches!(Uri::parse(uri), Ok(Uri::Sip(u)) if !u.is_loose_route())
}

/// A target URI as a Request-URI: without its `?headers` component, which
/// RFC 3261 §19.1.1 (Table 1) does not allow there (a registered Contact
/// may carry one, RFC 4475 TC_REGESCRT_V). A `?` in the user part (before
/// the `@`) is not a header delimiter.
pub(super) fn without_headers(uri: String) -> String {
    let host_from = uri.rfind('@').map_or(0, |at| at + 1);
    match uri[host_from..].find('?') {
        Some(q) => uri[..host_from + q].to_owned(),
        None => uri,
    }
}

/// The name a TLS target's certificate must carry (RFC 5922): the host of
/// its URI when that is a name, not an IP literal.
pub(super) fn tls_name(target: &resolve::Target) -> Option<std::sync::Arc<str>> {
    if target.host.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    Some(std::sync::Arc::from(target.host.as_str()))
}

#[cfg(test)]
mod tests {
    use super::without_headers;

    #[test]
    fn headers_leave_the_request_uri() {
        assert_eq!(
            without_headers("sip:user@192.0.2.1:5060?Route=%3Csip:x%3E".into()),
            "sip:user@192.0.2.1:5060"
        );
        assert_eq!(
            without_headers("sip:a?b@example.com;lr".into()),
            "sip:a?b@example.com;lr"
        );
        assert_eq!(
            without_headers("sip:example.com?x=1".into()),
            "sip:example.com"
        );
        assert_eq!(without_headers("tel:+1555".into()), "tel:+1555");
    }
}
