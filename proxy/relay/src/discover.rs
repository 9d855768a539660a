//! Peers found by DNS (`relay.dns`): an address not known yet is dialled
//! and its certificate says which instance it is.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use rustls::pki_types::CertificateDer;

use crate::link::Peer;
use crate::Inner;

/// What discovery knows: each address's instance, and the addresses being
/// dialled.
#[derive(Debug, Default)]
pub(crate) struct State {
    known: Mutex<HashMap<SocketAddr, u16>>,
    dialling: Mutex<HashSet<SocketAddr>>,
}

/// The name discovery dials with (the verifier ignores it).
const ANY: &str = "fleet.anysip.invalid";

pub(crate) fn update(inner: &Arc<Inner>, addrs: Vec<SocketAddr>) {
    let own = inner.settings.listen;
    let addrs: Vec<SocketAddr> = addrs.into_iter().filter(|a| *a != own).collect();
    // Forget the instances found at addresses no longer listed.
    let gone: Vec<(SocketAddr, u16)> = match inner.discovery.known.lock() {
        Ok(mut k) => {
            let gone: Vec<(SocketAddr, u16)> = k
                .iter()
                .filter(|(a, _)| !addrs.contains(a))
                .map(|(a, i)| (*a, *i))
                .collect();
            for (a, _) in &gone {
                k.remove(a);
            }
            gone
        }
        Err(_) => vec![],
    };
    if let Ok(mut peers) = inner.peers.write() {
        for (a, id) in gone {
            let configured = inner.settings.peers.iter().any(|(i, _)| *i == id);
            if !configured && peers.get(&id).is_some_and(|p| p.address() == a) {
                tracing::info!(peer = id, address = %a, "relay: peer no longer listed in DNS");
                peers.remove(&id);
            }
        }
    }
    for a in addrs {
        let known = inner
            .discovery
            .known
            .lock()
            .is_ok_and(|k| k.contains_key(&a));
        let fresh = inner
            .discovery
            .dialling
            .lock()
            .is_ok_and(|mut d| d.insert(a));
        if known || !fresh {
            if !known && fresh {
                forget_dial(inner, a);
            }
            continue;
        }
        let inner = inner.clone();
        tokio::spawn(async move {
            identify(&inner, a).await;
            forget_dial(&inner, a);
        });
    }
}

fn forget_dial(inner: &Inner, a: SocketAddr) {
    if let Ok(mut d) = inner.discovery.dialling.lock() {
        d.remove(&a);
    }
}

/// Dials `a`, learns its instance from its certificate, and makes it a
/// peer (with this connection) unless that instance is known.
async fn identify(inner: &Arc<Inner>, a: SocketAddr) {
    let connecting = match inner
        .endpoint
        .connect_with(inner.discovery_client.clone(), a, ANY)
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(address = %a, error = %e, "relay: cannot dial a discovered address");
            return;
        }
    };
    let conn = match tokio::time::timeout(inner.settings.connect_timeout, connecting).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            inner.observer.failure(crate::Failure::Handshake);
            tracing::warn!(address = %a, error = %e, "relay: discovered address refused");
            return;
        }
        Err(_) => {
            tracing::debug!(address = %a, "relay: discovered address does not answer (yet)");
            return;
        }
    };
    let id = conn
        .peer_identity()
        .and_then(|any| any.downcast::<Vec<CertificateDer<'static>>>().ok())
        .and_then(|certs| certs.first().and_then(crate::tls::instance_of));
    let Some(id) = id else {
        conn.close(0u32.into(), b"no instance");
        return;
    };
    if let Ok(mut k) = inner.discovery.known.lock() {
        k.insert(a, id);
    }
    if id == inner.settings.instance {
        conn.close(0u32.into(), b"self");
        return;
    }
    let peer = {
        let Ok(mut peers) = inner.peers.write() else {
            return;
        };
        if let Some(p) = peers.get(&id) {
            p.clone()
        } else if peers.len() >= inner.settings.max_peers as usize {
            tracing::warn!(peer = id, address = %a, "relay: max_peers reached, discovered peer ignored");
            conn.close(0u32.into(), b"max peers");
            return;
        } else {
            tracing::info!(peer = id, address = %a, "relay: peer discovered");
            let p = Arc::new(Peer::new(id, a, inner.settings.max_in_flight));
            peers.insert(id, p.clone());
            p
        }
    };
    if peer.address() == a {
        peer.adopt(inner, conn).await;
    } else {
        conn.close(0u32.into(), b"known elsewhere");
    }
}
