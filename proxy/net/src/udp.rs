//! UDP listeners: one `SO_REUSEPORT` socket per worker on the same address.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use sip::{Flow, Transport};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

use crate::dispatch::{Dispatch, Outbox};
use crate::error::NetError;

/// Largest datagram read (UDP's own limit).
const MAX_DATAGRAM: usize = 65_535;

/// Binds `count` sockets to `addr` with `SO_REUSEPORT` (at least one).
pub fn bind_udp(addr: SocketAddr, count: usize) -> Result<Vec<Arc<UdpSocket>>, NetError> {
    let err = |source| NetError::Bind { addr, source };
    (0..count.max(1))
        .map(|_| {
            let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
                .map_err(err)?;
            s.set_reuse_address(true).map_err(err)?;
            s.set_reuse_port(true).map_err(err)?;
            if addr.is_ipv6() {
                s.set_only_v6(true).map_err(err)?;
            }
            // Large buffers absorb bursts (best effort: the kernel caps them).
            let _ = s.set_recv_buffer_size(4 << 20);
            let _ = s.set_send_buffer_size(4 << 20);
            s.set_nonblocking(true).map_err(err)?;
            s.bind(&addr.into()).map_err(err)?;
            UdpSocket::from_std(s.into()).map(Arc::new).map_err(err)
        })
        .collect()
}

/// Serves one UDP socket until the task is dropped: each datagram goes to
/// `dispatch`; CRLF keepalives are ignored; sends are performed in order.
pub async fn serve_udp(socket: Arc<UdpSocket>, dispatch: Arc<dyn Dispatch>, outbox: Outbox) {
    let local = match socket.local_addr() {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "UDP socket has no local address");
            return;
        }
    };
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let (n, source) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => {
                // ICMP errors surface here on some systems: keep serving.
                tracing::debug!(error = %e, "UDP receive error");
                continue;
            }
        };
        let data = &buf[..n];
        if data.iter().all(|&c| c == b'\r' || c == b'\n') {
            continue; // RFC 5626 keepalives on UDP are STUN or CRLF: nothing to do for CRLF
        }
        let origin = Flow {
            transport: Transport::Udp,
            remote: source,
            local,
            connection: 0,
        };
        let bytes = Bytes::copy_from_slice(data);
        outbox.tap(crate::tap::Direction::In, &origin, &bytes);
        let sends = dispatch.on_message(bytes, origin);
        outbox.deliver(&*dispatch, sends).await;
    }
}
