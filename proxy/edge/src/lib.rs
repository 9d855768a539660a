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

pub use inbound::flow_token;
pub use settings::{Backends, EdgeSettings, SelectionKey, StreamPorts};
pub use sip::Flow;
pub use stun::{stun_binding_response, StunError};
pub use tokens::{ROUTE_TOKEN_PARAM, VIA_TOKEN_PARAM};

use bytes::Bytes;
use sip::validate::{screen, Screened};
use sip::Limits;
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
        inbound: &Flow,
        backends: &mut dyn Backends,
        now: u64,
    ) -> Action {
        self.handle_noted(bytes, inbound, backends, now).0
    }

    /// The 430 (Flow Failed, RFC 5626 §5.3) for a request relayed to this
    /// instance, the owner of its flow, when that flow's connection is
    /// gone: a response to the request with every Via, the instance that
    /// relayed it on top, so that handled as any response arriving here
    /// ([`Edge::handle`]) it returns to the backend statelessly. Its To tag
    /// is the one the relaying instance would have given it (the request
    /// below that instance's Via): the 430 is the one that instance would
    /// have sent. `msg` is parsed already (with the limits of any input).
    /// `None` for an ACK (never answered) or what is not a request.
    pub fn flow_failed(&self, msg: &sip::Message) -> Option<Bytes> {
        if !msg.is_request() || msg.method() == Some(&sip::Method::Ack) {
            return None;
        }
        let tag = tokens::local_tag_at(msg, 1);
        Some(sip::response::response(msg, 430).ok()?.to_tag(&tag).build())
    }

    /// [`Edge::handle`], also saying what happened on the way ([`Notes`]),
    /// for metrics and logs.
    pub fn handle_noted(
        &self,
        bytes: Bytes,
        inbound: &Flow,
        backends: &mut dyn Backends,
        now: u64,
    ) -> (Action, Notes) {
        let framing = inbound.framing();
        let mut notes = Notes::default();
        let action = match screen(bytes, framing, &self.limits) {
            Screened::Drop(reason) => Action::Drop(DropReason::Unparseable(format!("{reason:?}"))),
            Screened::Reject { request, rejection } => {
                notes.kind = MessageKind::of(&request);
                // A byte stream whose framing may be lost is closed after
                // the answer; a WebSocket connection frames each message
                // itself and stays (RFC 7118 §5.2).
                action::reply(
                    &request,
                    rejection.status,
                    &rejection.reason,
                    framing == sip::Framing::Stream,
                )
            }
            Screened::Request(msg) => {
                notes.kind = MessageKind::of(&msg);
                request::handle(self, msg, inbound, backends, now, &mut notes)
            }
            Screened::Response(msg) => {
                notes.kind = MessageKind::of(&msg);
                response::handle(self, msg, now, &mut notes)
            }
        };
        (action, notes)
    }
}

/// What [`Edge::handle_noted`] saw, besides its decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Notes {
    /// The message's method or status (None when it did not parse).
    pub kind: MessageKind,
    /// Whether a routing token was opened, and how that went.
    pub token: Option<TokenResult>,
}

/// The method of a request or the status of a response, with bounded
/// cardinality for metric labels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MessageKind {
    /// Not parsed.
    #[default]
    Unknown,
    /// A request with this (well-known) method.
    Request(&'static str),
    /// A request with an extension method.
    OtherRequest,
    /// A response with this status code.
    Response(u16),
}

impl MessageKind {
    fn of(msg: &sip::Message) -> Self {
        match (msg.method(), msg.status()) {
            (Some(sip::Method::Extension(_)), _) => MessageKind::OtherRequest,
            (Some(m), _) => MessageKind::Request(static_method(m)),
            (None, Some(s)) => MessageKind::Response(s),
            _ => MessageKind::Unknown,
        }
    }
}

fn static_method(m: &sip::Method) -> &'static str {
    use sip::Method::*;
    match m {
        Invite => "INVITE",
        Ack => "ACK",
        Bye => "BYE",
        Cancel => "CANCEL",
        Options => "OPTIONS",
        Register => "REGISTER",
        Prack => "PRACK",
        Subscribe => "SUBSCRIBE",
        Notify => "NOTIFY",
        Publish => "PUBLISH",
        Info => "INFO",
        Refer => "REFER",
        Message => "MESSAGE",
        Update => "UPDATE",
        Extension(_) => "other",
    }
}

/// The result of opening a routing token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenResult {
    /// It opened.
    Opened,
    /// It did not open (forged, tampered, expired, unknown key).
    Rejected,
}

impl TokenResult {
    /// A label for metrics.
    pub fn label(self) -> &'static str {
        match self {
            TokenResult::Opened => "opened",
            TokenResult::Rejected => "rejected",
        }
    }
}
