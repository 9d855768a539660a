//! One stream connection (TCP, or TLS once the handshake is done) on one
//! task: framing, dispatch, the send queue, keepalive pongs, the idle
//! timeout.
//!
//! An edge holds one connection per UE, and almost all of them are idle
//! (RFC 5626 keepalives every few minutes), so what an idle connection
//! costs is what one instance can hold. Here it costs no read buffer (bytes
//! are read into a buffer on the poller's stack, only when the socket is
//! readable, and handed to the framer, which keeps nothing once they are
//! framed), no second task (reads and writes are polled by the same task),
//! and one idle timer reset in place rather than one made per read.

use std::future::poll_fn;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use sip::framer::{Frame, StreamFramer};
use sip::{Flow, Transport};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{Accepted, StreamLimits};
use crate::conns::ToWriter;
use crate::dispatch::{Dispatch, Outbox};

/// Most octets taken from the socket per read: a TLS record's plaintext,
/// and a whole ordinary SIP message.
const READ_CHUNK: usize = 16 * 1024;

/// How long a closing connection may take to write out what was queued
/// for it: a peer that reads nothing must not hold the connection (and its
/// slot under the connection limit) for ever.
const LINGER: Duration = Duration::from_secs(5);

/// The write side of a connection.
#[derive(Debug, PartialEq, Eq)]
enum Writing {
    /// Taking bytes from the queue.
    Open,
    /// Asked to close (after a final reply): flushing, then shutting down.
    Closing,
    /// Shut down: queued bytes are dropped, sends fail as for a gone
    /// connection; reading goes on until the peer closes.
    Shut,
}

/// What one poll of the connection did.
#[derive(Debug, Default)]
struct Progress {
    /// Bytes moved in either direction (the connection is not idle).
    active: bool,
    /// Bytes were pushed to the framer.
    read: bool,
    /// The connection is finished (end of stream, an I/O error).
    done: bool,
}

/// The connection's state between polls.
struct Conn<S> {
    stream: S,
    framer: StreamFramer,
    queue: mpsc::Receiver<ToWriter>,
    /// What is being written (the rest of one queued message).
    out: Bytes,
    /// Written bytes may sit in a buffer of the stream (TLS records).
    unflushed: bool,
    writing: Writing,
    /// Where a copy of each message written goes (captures), with the
    /// connection's flow.
    tap: Option<(Arc<dyn crate::Tap>, Flow)>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    /// Moves bytes both ways as far as the socket allows; ready once
    /// something happened.
    fn poll_io(&mut self, cx: &mut Context<'_>) -> Poll<Progress> {
        let mut p = Progress::default();
        if self.writing != Writing::Shut {
            match self.poll_write(cx) {
                Poll::Ready(Ok(())) => p.active = true,
                Poll::Ready(Err(_)) => p.done = true,
                Poll::Pending => {}
            }
        }
        if !p.done {
            // On the poller's stack, not in the task: an idle connection
            // holds no read buffer. Left uninitialised: the read fills it.
            let mut chunk = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
            let mut buf = ReadBuf::uninit(&mut chunk);
            match Pin::new(&mut self.stream).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => p.done = true,
                Poll::Ready(Ok(())) => {
                    self.framer.push(buf.filled());
                    p.active = true;
                    p.read = true;
                }
                Poll::Ready(Err(_)) => p.done = true,
                Poll::Pending => {}
            }
        }
        if p.active || p.done {
            Poll::Ready(p)
        } else {
            Poll::Pending
        }
    }

    /// Writes queued bytes until the socket or the queue has no more room
    /// or bytes: `Ready(Ok)` when some were written (or the connection shut
    /// down), `Pending` when nothing moved.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let mut moved = false;
        loop {
            if !self.out.is_empty() {
                match Pin::new(&mut self.stream).poll_write(cx, &self.out) {
                    Poll::Ready(Ok(0)) => {
                        return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()))
                    }
                    Poll::Ready(Ok(n)) => {
                        self.out.advance(n);
                        self.unflushed = true;
                        moved = true;
                        continue;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => break,
                }
            }
            if self.unflushed {
                match Pin::new(&mut self.stream).poll_flush(cx) {
                    Poll::Ready(Ok(())) => self.unflushed = false,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => break,
                }
            }
            if self.writing == Writing::Closing {
                match Pin::new(&mut self.stream).poll_shutdown(cx) {
                    Poll::Ready(_) => {
                        // Later sends fail as for a gone connection (their
                        // fallback is taken); what is queued is dropped.
                        self.queue.close();
                        self.writing = Writing::Shut;
                        return Poll::Ready(Ok(()));
                    }
                    Poll::Pending => break,
                }
            }
            match self.queue.poll_recv(cx) {
                Poll::Ready(Some(ToWriter::Bytes(b))) => {
                    if let Some((tap, flow)) = &self.tap {
                        if !crate::tap::is_keepalive(&b) {
                            tap.capture(crate::tap::Direction::Out, flow, &b);
                        }
                    }
                    self.out = b;
                }
                Poll::Ready(Some(ToWriter::Close)) => self.writing = Writing::Closing,
                // Closed and drained (the connection is finishing): nothing
                // more can come, shut down.
                Poll::Ready(None) => self.writing = Writing::Closing,
                Poll::Pending => break,
            }
        }
        if moved {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    }

    /// Writes out what is queued (the queue takes no more), then shuts the
    /// stream down.
    async fn finish(&mut self) {
        self.queue.close();
        while self.writing != Writing::Shut {
            let r = poll_fn(|cx| self.poll_write(cx)).await;
            if r.is_err() {
                return;
            }
        }
    }
}

/// A connection's place in the [`Connections`](crate::Connections) table:
/// its id and send queue, made before the stream exists for a connection
/// this process opens (sends queue while it connects).
pub(crate) struct Registered {
    pub(crate) id: u32,
    pub(crate) tx: mpsc::Sender<ToWriter>,
    pub(crate) queue: mpsc::Receiver<ToWriter>,
}

impl Registered {
    /// Puts a connection with `peer` over `transport` in the table
    /// (`inbound`: the peer opened it).
    pub(crate) fn new(
        outbox: &Outbox,
        peer: SocketAddr,
        transport: Transport,
        inbound: bool,
        limits: &StreamLimits,
    ) -> Self {
        let (tx, queue) = mpsc::channel::<ToWriter>(limits.send_queue.max(1));
        let id = outbox
            .connections()
            .insert(peer, transport, inbound, tx.clone());
        Registered { id, tx, queue }
    }
}

/// Serves one accepted stream connection until it ends; the connection is
/// in the table (reachable by sends) meanwhile. Not an `async fn`: the
/// future returned is [`serve_registered`]'s own, not one wrapping it
/// (which would hold its arguments twice).
pub(crate) fn serve_connection<S>(
    stream: S,
    accepted: Accepted,
    transport: Transport,
    dispatch: Arc<dyn Dispatch>,
    outbox: Outbox,
    limits: StreamLimits,
) -> impl std::future::Future<Output = ()> + std::marker::Send
where
    S: AsyncRead + AsyncWrite + Unpin + std::marker::Send + 'static,
{
    let registered = Registered::new(&outbox, accepted.peer, transport, true, &limits);
    serve_registered(
        stream, registered, accepted, transport, dispatch, outbox, limits,
    )
}

/// Serves one stream connection already in the table until it ends, then
/// takes it out.
///
/// The task's future is what an idle connection costs most: everything in
/// it that is large and only briefly alive (the delivery of sends, a TLS
/// handshake) is boxed for its time, and a large stream (a TLS session)
/// comes boxed, since a future stores its arguments apart from its locals.
pub(crate) async fn serve_registered<S>(
    stream: S,
    registered: Registered,
    accepted: Accepted,
    transport: Transport,
    dispatch: Arc<dyn Dispatch>,
    outbox: Outbox,
    limits: StreamLimits,
) where
    S: AsyncRead + AsyncWrite + Unpin + std::marker::Send + 'static,
{
    let Accepted {
        peer,
        local,
        permit,
    } = accepted;
    let Registered { id, tx, queue } = registered;
    let origin = Flow {
        transport,
        remote: peer,
        local,
        connection: id,
    };
    let mut conn = Conn {
        stream,
        framer: StreamFramer::new(limits.sip),
        queue,
        out: Bytes::new(),
        unflushed: false,
        writing: Writing::Open,
        tap: outbox.tap_handle().map(|t| (t, origin)),
    };
    let idle = tokio::time::sleep(limits.idle);
    tokio::pin!(idle);
    'conn: loop {
        let progress = tokio::select! {
            p = poll_fn(|cx| conn.poll_io(cx)) => p,
            () = &mut idle => break,
        };
        if progress.done {
            break;
        }
        if progress.active {
            idle.as_mut().reset(Instant::now() + limits.idle);
        }
        if !progress.read {
            continue;
        }
        loop {
            match conn.framer.next_frame() {
                Ok(None) => break,
                Ok(Some(Frame::Ping)) => {
                    // The pong goes through the queue, after what is
                    // already queued (a full queue drops it, as any send).
                    let _ = tx.try_send(ToWriter::Bytes(Bytes::from_static(b"\r\n")));
                }
                Ok(Some(Frame::Pong)) => {}
                Ok(Some(Frame::Message(m))) => {
                    outbox.tap(crate::tap::Direction::In, &origin, &m);
                    let sends = dispatch.on_message(m, origin);
                    Box::pin(outbox.deliver(&*dispatch, sends)).await;
                }
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "framing error: closing");
                    break 'conn;
                }
            }
        }
    }
    outbox.connections().remove(id);
    drop(tx);
    // The idle timer, reused, bounds the last writes.
    idle.as_mut().reset(Instant::now() + LINGER);
    tokio::select! {
        () = conn.finish() => {}
        () = &mut idle => {}
    }
    drop(permit);
}
