//! [`Transaction`]: any of the four machines, for a table that holds them
//! all and drives their common half (timers, output, transport errors).

use std::time::Instant;

use bytes::Bytes;

use super::client_invite::ClientInvite;
use super::client_non_invite::ClientNonInvite;
use super::common::Event;
use super::server_invite::ServerInvite;
use super::server_non_invite::ServerNonInvite;
use super::timers::Reliability;

/// One of the four transaction machines.
///
/// The inputs that differ (responses, requests, ACKs, the TU's responses)
/// are reached by matching on the variant; the rest is forwarded here.
#[derive(Debug, Clone)]
pub enum Transaction {
    /// An INVITE client transaction.
    ClientInvite(ClientInvite),
    /// A non-INVITE client transaction.
    ClientNonInvite(ClientNonInvite),
    /// An INVITE server transaction.
    ServerInvite(ServerInvite),
    /// A non-INVITE server transaction.
    ServerNonInvite(ServerNonInvite),
}

macro_rules! each {
    ($self:expr, $tx:ident => $body:expr) => {
        match $self {
            Transaction::ClientInvite($tx) => $body,
            Transaction::ClientNonInvite($tx) => $body,
            Transaction::ServerInvite($tx) => $body,
            Transaction::ServerNonInvite($tx) => $body,
        }
    };
}

impl Transaction {
    /// Whether this is a client transaction.
    pub fn is_client(&self) -> bool {
        matches!(
            self,
            Transaction::ClientInvite(_) | Transaction::ClientNonInvite(_)
        )
    }

    /// Whether this is an INVITE transaction.
    pub fn is_invite(&self) -> bool {
        matches!(
            self,
            Transaction::ClientInvite(_) | Transaction::ServerInvite(_)
        )
    }

    /// The name of the current state, for tracing.
    pub fn state_name(&self) -> &'static str {
        each!(self, tx => tx.state().name())
    }

    /// Whether the machine reached Terminated.
    pub fn is_terminated(&self) -> bool {
        each!(self, tx => tx.is_terminated())
    }

    /// The transport reliability the machine was created with.
    pub fn reliability(&self) -> Reliability {
        each!(self, tx => tx.reliability())
    }

    /// See the machines' `handle_transport_error`.
    pub fn handle_transport_error(&mut self) {
        each!(self, tx => tx.handle_transport_error())
    }

    /// Fires every timer due at `now`, earliest first.
    pub fn handle_timeout(&mut self, now: Instant) {
        each!(self, tx => tx.handle_timeout(now))
    }

    /// The earliest armed timer's deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        each!(self, tx => tx.poll_timeout())
    }

    /// The next message for the transport.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        each!(self, tx => tx.poll_transmit())
    }

    /// The next thing the TU must learn.
    pub fn poll_event(&mut self) -> Option<Event> {
        each!(self, tx => tx.poll_event())
    }
}

impl From<ClientInvite> for Transaction {
    fn from(tx: ClientInvite) -> Self {
        Transaction::ClientInvite(tx)
    }
}

impl From<ClientNonInvite> for Transaction {
    fn from(tx: ClientNonInvite) -> Self {
        Transaction::ClientNonInvite(tx)
    }
}

impl From<ServerInvite> for Transaction {
    fn from(tx: ServerInvite) -> Self {
        Transaction::ServerInvite(tx)
    }
}

impl From<ServerNonInvite> for Transaction {
    fn from(tx: ServerNonInvite) -> Self {
        Transaction::ServerNonInvite(tx)
    }
}
