//! Token kinds and what opening one yields.

use std::fmt;

use serde::{Deserialize, Serialize};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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
///
/// Serialises (serde) with its kind as a tag: `{"kind": "flow", "transport":
/// ..., ...}` or `{"kind": "route", "flow": {...}, "backend": {...}}`, so that
/// `anysip token seal` can read and `anysip token open` print it as JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::Backend;
    use crate::Transport;

    fn route() -> Route {
        Route {
            flow: Flow {
                transport: Transport::Ws,
                ue: "[2001:db8::7]:443".parse().expect("addr"),
                local: "192.0.2.1:443".parse().expect("addr"),
                instance: 2,
                connection: 99,
            },
            backend: Backend {
                transport: Transport::Udp,
                addr: "10.0.0.1:5060".parse().expect("addr"),
            },
        }
    }

    #[test]
    fn json_round_trip() {
        for token in [Token::Route(route()), Token::Flow(route().flow)] {
            let json = serde_json::to_string(&token).expect("serialises");
            assert!(
                json.contains(&format!("\"kind\":\"{}\"", token.kind())),
                "{json}"
            );
            let back: Token = serde_json::from_str(&json).expect("parses");
            assert_eq!(back, token);
        }
        let flow = r#"{"kind":"flow","transport":"tcp","ue":"192.0.2.9:5060",
            "local":"192.0.2.1:5060","instance":1,"connection":2}"#;
        let token: Token = serde_json::from_str(flow).expect("parses");
        assert_eq!(token.flow().transport, Transport::Tcp);
        let unknown = flow.replace("\"instance\"", "\"extra\":1,\"instance\"");
        assert!(serde_json::from_str::<Token>(&unknown).is_err());
        let opened = Opened {
            token: Token::Flow(route().flow),
            issued_at: 1_800_000_000,
            key_id: KeyId(4),
        };
        let json = serde_json::to_string(&opened).expect("serialises");
        assert!(json.contains("\"key_id\":4") && json.contains("\"issued_at\":1800000000"));
    }

    #[test]
    fn kinds() {
        assert_eq!(Token::Route(route()).kind(), Kind::Route);
        assert_eq!(Token::from(route().flow).kind(), Kind::Flow);
        assert_eq!(Token::from(route()).flow(), &route().flow);
        assert_eq!(Kind::Route.to_string(), "route");
    }
}
