//! What this proxy writes about itself, formatted once per listener
//! instead of once per forwarded request: the Via sent-by and the
//! Record-Route URI (§16.6 steps 4 and 8).

use std::borrow::Cow;
use std::net::SocketAddr;

use tokencodec::Transport;

use super::route;
use crate::settings::Settings;

/// The texts of each listener.
#[derive(Debug, Default)]
pub(super) struct LocalTexts {
    listeners: Vec<Texts>,
}

#[derive(Debug)]
struct Texts {
    transport: Transport,
    addr: SocketAddr,
    /// `SIP/2.0/UDP host:port;branch=`
    via: String,
    /// `<sip:host:port;lr>` (with `;transport=` when not UDP)
    record_route: String,
}

impl LocalTexts {
    pub(super) fn new(settings: &Settings) -> Self {
        let listeners = settings
            .listeners
            .iter()
            .map(|l| Texts {
                transport: l.transport,
                addr: l.addr,
                via: via_prefix(settings, l.transport, l.addr),
                record_route: rr_uri(settings, l.transport, l.addr),
            })
            .collect();
        LocalTexts { listeners }
    }

    fn find(&self, transport: Transport, local: SocketAddr) -> Option<&Texts> {
        self.listeners
            .iter()
            .find(|t| t.transport == transport && t.addr == local)
    }

    /// This proxy's Record-Route URI for `transport` on `local`.
    pub(super) fn record_route<'a>(
        &'a self,
        settings: &Settings,
        transport: Transport,
        local: SocketAddr,
    ) -> Cow<'a, str> {
        match self.find(transport, local) {
            Some(t) => Cow::Borrowed(&t.record_route),
            None => Cow::Owned(rr_uri(settings, transport, local)),
        }
    }

    /// This proxy's Via for `transport` from `local` with `branch`.
    pub(super) fn via(
        &self,
        settings: &Settings,
        transport: Transport,
        local: SocketAddr,
        branch: &str,
    ) -> String {
        let mut via = match self.find(transport, local) {
            Some(t) => t.via.clone(),
            None => via_prefix(settings, transport, local),
        };
        via.push_str(branch);
        via
    }
}

fn via_prefix(settings: &Settings, t: Transport, local: SocketAddr) -> String {
    format!(
        "SIP/2.0/{} {};branch=",
        t.via_name(),
        route::hostport(settings, local)
    )
}

/// This proxy's Record-Route for a listener (`;transport=` when not UDP).
fn rr_uri(settings: &Settings, t: Transport, local: SocketAddr) -> String {
    format!("<{};lr>", uri(settings, t, local))
}

/// This proxy's Contact as a UAS on a listener (a reliable provisional
/// response's early dialog, RFC 3262): where its PRACK comes.
pub(super) fn contact_uri(settings: &Settings, t: Transport, local: SocketAddr) -> String {
    format!("<{}>", uri(settings, t, local))
}

/// `sip:host:port`, with `;transport=` when not UDP.
fn uri(settings: &Settings, t: Transport, local: SocketAddr) -> String {
    let hp = route::hostport(settings, local);
    match t {
        Transport::Udp => format!("sip:{hp}"),
        other => format!("sip:{hp};transport={}", other.as_str()),
    }
}
