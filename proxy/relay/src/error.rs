//! The relay's errors and the reasons it counts.

/// Starting the relay.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// A certificate or key could not be read, made or used.
    #[error("certificate: {0}")]
    Certificate(String),
    /// The QUIC endpoint could not be set up.
    #[error("QUIC: {0}")]
    Quic(String),
    /// The listen socket could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Why a message was not relayed, or a relay input was refused: the
/// `reason` label of `anysip_relay_failures_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Failure {
    /// The token names an instance the fleet list does not have.
    UnknownPeer,
    /// The peer's in-flight limit was reached.
    Full,
    /// The SIP message is larger than a relayed message may be.
    TooLarge,
    /// No connection to the peer within the connect timeout (or the peer
    /// is backing off after failing).
    Unreachable,
    /// The TLS handshake failed: a certificate not from the fleet CA, or
    /// not naming the instance dialled.
    Handshake,
    /// The connection died with the message in flight.
    ConnectionLost,
    /// No answer from the owner within the answer timeout.
    Timeout,
    /// The owner refused the message (it says why in its own counters).
    Refused,
    /// In: a header that does not decode, or a body of another length.
    BadHeader,
    /// In: a message for another instance.
    WrongInstance,
    /// In: a header whose source is not the instance the peer's
    /// certificate names.
    NotFleet,
    /// In: a connection over `max_peers`.
    PeersLimit,
    /// In: a datagram on the relay port that cannot be a QUIC version 1
    /// packet (garbage; quinn drops it).
    NotQuic,
}

impl Failure {
    /// Every reason, for rendering.
    pub const ALL: [Failure; 13] = [
        Failure::UnknownPeer,
        Failure::Full,
        Failure::TooLarge,
        Failure::Unreachable,
        Failure::Handshake,
        Failure::ConnectionLost,
        Failure::Timeout,
        Failure::Refused,
        Failure::BadHeader,
        Failure::WrongInstance,
        Failure::NotFleet,
        Failure::PeersLimit,
        Failure::NotQuic,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Failure::UnknownPeer => "unknown_peer",
            Failure::Full => "full",
            Failure::TooLarge => "too_large",
            Failure::Unreachable => "unreachable",
            Failure::Handshake => "handshake",
            Failure::ConnectionLost => "connection_lost",
            Failure::Timeout => "timeout",
            Failure::Refused => "refused",
            Failure::BadHeader => "bad_header",
            Failure::WrongInstance => "wrong_instance",
            Failure::NotFleet => "not_fleet",
            Failure::PeersLimit => "peers_limit",
            Failure::NotQuic => "not_quic",
        }
    }
}
