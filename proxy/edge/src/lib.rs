//! The stateless edge's routing decisions, without I/O.
//!
//! [`Edge::handle`] takes one received message and says what to do with it
//! ([`Action`]), following the edge's behaviour table (DESIGN §6): answer,
//! drop, or forward with edits, where the destination comes from a sealed
//! token or, for a request that carries none, from the backend group. The
//! transports (tokio), the connection table and the gateway prober sit
//! around it; everything here is a pure function of the message, the key
//! ring, the settings and the time passed in.
#![forbid(unsafe_code)]

mod action;
mod inbound;
mod request;
mod response;
mod settings;
mod stun;
mod tokens;

pub use action::{Action, DropReason, Target};
pub use inbound::Inbound;
pub use settings::{Backends, EdgeSettings};
pub use stun::{stun_binding_response, StunError};
pub use tokens::{ROUTE_TOKEN_PARAM, VIA_TOKEN_PARAM};

use bytes::Bytes;
use sip::validate::{screen, Screened};
use sip::{Framing, Limits};
use tokencodec::TokenCodec;

/// One edge instance's decision logic.
#[derive(Debug)]
pub struct Edge {
    codec: TokenCodec,
    settings: EdgeSettings,
    limits: Limits,
}

impl Edge {
    /// An edge with its key ring (inside `codec`), settings and limits.
    pub fn new(codec: TokenCodec, settings: EdgeSettings, limits: Limits) -> Self {
        Self {
            codec,
            settings,
            limits,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &EdgeSettings {
        &self.settings
    }

    /// The token codec (key ring and limits).
    pub fn codec(&self) -> &TokenCodec {
        &self.codec
    }

    /// Decides what to do with one received SIP message (a datagram, or one
    /// message framed from a stream). `now` is Unix time in seconds.
    pub fn handle(
        &self,
        bytes: Bytes,
        inbound: &Inbound,
        backends: &mut dyn Backends,
        now: u64,
    ) -> Action {
        let framing = if inbound.transport.is_stream() {
            Framing::Stream
        } else {
            Framing::Datagram
        };
        match screen(bytes, framing, &self.limits) {
            Screened::Drop(reason) => Action::Drop(DropReason::Unparseable(format!("{reason:?}"))),
            Screened::Reject { request, rejection } => action::reply(
                &request,
                rejection.status,
                &rejection.reason,
                inbound.transport.is_stream(),
            ),
            Screened::Request(msg) => request::handle(self, msg, inbound, backends, now),
            Screened::Response(msg) => response::handle(self, msg, now),
        }
    }
}
