//! The owner's side: connections from peers, one stream per message.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::task::Poll;

use bytes::Bytes;
use rustls::pki_types::CertificateDer;

use crate::error::Failure;
use crate::header::{self, Ack, Header};
use crate::{Deliver, Inner};

/// QUIC application error codes this side closes with.
const CLOSE_BAD_INPUT: u32 = 1;
const CLOSE_NOT_FLEET: u32 = 2;

pub(crate) async fn accept_loop(inner: Arc<Inner>, deliver: Arc<dyn Deliver>) {
    while let Some(incoming) = inner.endpoint.accept().await {
        if inner.inbound.load(Ordering::Relaxed) >= inner.settings.max_peers {
            inner.observer.failure(Failure::PeersLimit);
            incoming.refuse();
            continue;
        }
        let (inner, deliver) = (inner.clone(), deliver.clone());
        tokio::spawn(async move {
            let remote = incoming.remote_address();
            let handshake =
                tokio::time::timeout(inner.settings.connect_timeout * 4, incoming).await;
            let conn = match handshake {
                Ok(Ok(c)) => c,
                // The dialler gave up or closed on purpose (its connect
                // timeout while this instance was starting, a discovery
                // dial that found the instance known): not a failure here.
                Ok(Err(e)) if dialler_closed(&e) => {
                    tracing::debug!(%remote, error = %e, "relay: peer closed during the handshake");
                    return;
                }
                Ok(Err(e)) => {
                    inner.observer.failure(Failure::Handshake);
                    tracing::warn!(%remote, error = %e, "relay: peer refused (handshake)");
                    return;
                }
                Err(_) => {
                    inner.observer.failure(Failure::Handshake);
                    tracing::warn!(%remote, "relay: handshake timed out");
                    return;
                }
            };
            inner.inbound.fetch_add(1, Ordering::Relaxed);
            serve_connection(&inner, &deliver, conn).await;
            inner.inbound.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// Whether a handshake ended because the dialler closed the connection
/// itself (an application close, sent during the handshake as the
/// transport error APPLICATION_ERROR), not because a certificate failed.
fn dialler_closed(e: &quinn::ConnectionError) -> bool {
    match e {
        quinn::ConnectionError::ApplicationClosed(_) => true,
        quinn::ConnectionError::ConnectionClosed(c) => {
            c.error_code == quinn::TransportErrorCode::APPLICATION_ERROR
        }
        _ => false,
    }
}

/// The instance a connection's certificate names, learned from its first
/// message and checked against the certificate.
struct Identity {
    cert: Option<CertificateDer<'static>>,
    instance: OnceLock<u16>,
}

impl Identity {
    fn check(&self, source: u16) -> bool {
        if let Some(&known) = self.instance.get() {
            return known == source;
        }
        let ok = self
            .cert
            .as_ref()
            .is_some_and(|c| crate::tls::names_instance(c, source).is_ok());
        if ok {
            let _ = self.instance.set(source);
            return self.instance.get() == Some(&source);
        }
        false
    }
}

async fn serve_connection(inner: &Arc<Inner>, deliver: &Arc<dyn Deliver>, conn: quinn::Connection) {
    let cert = conn
        .peer_identity()
        .and_then(|any| any.downcast::<Vec<CertificateDer<'static>>>().ok())
        .and_then(|certs| certs.first().cloned());
    let identity = Arc::new(Identity {
        cert,
        instance: OnceLock::new(),
    });
    let remote = conn.remote_address();
    loop {
        // A bidirectional stream is a message its sender waits an answer
        // for; a unidirectional one is not answered.
        let (send, recv) = tokio::select! {
            bi = conn.accept_bi() => match bi {
                Ok((send, recv)) => (Some(send), recv),
                Err(_) => break,
            },
            uni = conn.accept_uni() => match uni {
                Ok(recv) => (None, recv),
                Err(_) => break,
            },
        };
        let (inner, deliver, identity, conn) = (
            inner.clone(),
            deliver.clone(),
            identity.clone(),
            conn.clone(),
        );
        let mut served = Box::pin(async move {
            if let Err((f, code)) = serve_stream(&inner, &*deliver, &identity, send, recv).await {
                inner.observer.failure(f);
                tracing::warn!(%remote, reason = f.as_str(), "relay: input refused, connection closed");
                conn.close(code.into(), f.as_str().as_bytes());
            }
        });
        // A message is most often whole when its stream is accepted (one
        // packet, its end included): it is served here at once, without a
        // task of its own; one still arriving (or waiting on its flow's
        // queue) goes on in a task, so no stream holds up the others.
        let done =
            std::future::poll_fn(|cx| Poll::Ready(served.as_mut().poll(cx).is_ready())).await;
        if !done {
            tokio::spawn(served);
        }
    }
    if let Some(&peer) = identity.instance.get() {
        inner.observer.peer_state(peer, false);
    }
}

async fn serve_stream(
    inner: &Inner,
    deliver: &dyn Deliver,
    identity: &Identity,
    mut send: Option<quinn::SendStream>,
    mut recv: quinn::RecvStream,
) -> Result<(), (Failure, u32)> {
    let limit = header::LEN + inner.settings.max_message;
    let read = tokio::time::timeout(inner.settings.answer_timeout, recv.read_to_end(limit)).await;
    let refuse = |send: &mut Option<quinn::SendStream>, f: Failure, code: u32| {
        if let Some(s) = send {
            let _ = s.reset(quinn::VarInt::from_u32(code));
        }
        Err((f, code))
    };
    let bytes = match read {
        Ok(Ok(b)) => b,
        // Over the limit, reset, or too slow: a broken or hostile peer.
        _ => return refuse(&mut send, Failure::BadHeader, CLOSE_BAD_INPUT),
    };
    let h = match Header::decode(&bytes) {
        Ok(h) if h.body_len as usize == bytes.len() - header::LEN => h,
        _ => return refuse(&mut send, Failure::BadHeader, CLOSE_BAD_INPUT),
    };
    if !identity.check(h.source) {
        return refuse(&mut send, Failure::NotFleet, CLOSE_NOT_FLEET);
    }
    if h.target != inner.settings.instance {
        // Not ours: never relayed on (a relayed message crosses one hop).
        inner.observer.failure(Failure::WrongInstance);
        answer(send, Ack::Refused).await;
        return Ok(());
    }
    if let Some(p) = inner.peer(h.source) {
        p.received.fetch_add(1, Ordering::Relaxed);
    }
    inner.observer.relayed_in(h.source);
    let sip = Bytes::from(bytes).slice(header::LEN..);
    let ack = deliver.deliver(h, sip, send.is_some()).await;
    answer(send, ack).await;
    Ok(())
}

/// Answers a message whose sender waits (a bidirectional stream):
/// delivered is the end of the stream alone, one frame; anything else is
/// its octet, then the end.
async fn answer(send: Option<quinn::SendStream>, ack: Ack) {
    if let Some(mut s) = send {
        if ack != Ack::Delivered {
            let _ = s.write_all(&[ack.octet()]).await;
        }
        let _ = s.finish();
    }
}
