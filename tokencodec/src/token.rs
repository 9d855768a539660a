//! Token kinds and what opening one yields.

use std::fmt;

use crate::flow::Flow;
use crate::key::KeyId;
use crate::route::Route;

/// The format version of the tokens this build seals (byte 0 of a token).
pub const VERSION: u8 = 1;

/// The longest encoded token this build produces or accepts, in characters
/// (a route token whose three addresses are IPv6). Longer input is rejected
/// before it is decoded.
pub const MAX_TOKEN_LEN: usize = 107;

/// The kind of a sealed token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A [`Flow`] token.
    Flow,
    /// A [`Route`] token.
    Route,
}

impl Kind {
    /// The kind's name (`flow`, `route`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Flow => "flow",
            Kind::Route => "route",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The contents of a token of either kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Token {
    /// A flow token's contents.
    Flow(Flow),
    /// A route token's contents.
    Route(Route),
}

impl Token {
    /// The token's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Token::Flow(_) => Kind::Flow,
            Token::Route(_) => Kind::Route,
        }
    }

    /// The flow named by the token (for a route token, its flow).
    pub fn flow(&self) -> &Flow {
        match self {
            Token::Flow(flow) => flow,
            Token::Route(route) => &route.flow,
        }
    }
}

impl From<Flow> for Token {
    fn from(flow: Flow) -> Self {
        Token::Flow(flow)
    }
}

impl From<Route> for Token {
    fn from(route: Route) -> Self {
        Token::Route(route)
    }
}

/// A token that opened: its contents and what was learnt on the way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened<T> {
    /// The contents.
    pub token: T,
    /// When the token was sealed (Unix seconds).
    pub issued_at: u64,
    /// The key that sealed it. When this is not the ring's current key, the
    /// caller may want to re-seal (e.g. the Path of a refreshed
    /// registration).
    pub key_id: KeyId,
}

impl<T> Opened<T> {
    /// Applies `f` to the contents, keeping the metadata.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Opened<U> {
        Opened {
            token: f(self.token),
            issued_at: self.issued_at,
            key_id: self.key_id,
        }
    }
}
