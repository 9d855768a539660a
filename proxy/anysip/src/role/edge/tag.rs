//! What the edge notes on each send ([`net::SendTag`]), so that the message
//! is counted by what really became of it once the transports report.

use net::SendTag;

use crate::telemetry::metrics::{Dense, MessageLabels, Peer, Status};

/// What a send of the edge is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sent {
    /// A response the edge generated.
    Reply(Status),
    /// A message passed on, with the labels of its `direction="out"` count
    /// and the status of the answer the edge sends instead if it cannot be
    /// delivered (0: none).
    Forward(Peer, u32, u16),
}

const REPLY: u64 = 1 << 48;
const FORWARD: u64 = 2 << 48;
const TO_UE: u64 = 1 << 44;
const STATUS_SHIFT: u32 = 32;
const STATUS_MASK: u64 = 0x3ff;

impl Sent {
    /// A message passed on to `peer`, counted under `labels`, answered with
    /// `failed` (a status) when it cannot be delivered.
    pub(crate) fn forward(peer: Peer, labels: &MessageLabels, failed: Option<Status>) -> Sent {
        Sent::Forward(
            peer,
            u32::try_from(labels.index()).unwrap_or(u32::MAX),
            failed.map_or(0, |s| s.0),
        )
    }

    pub(crate) fn tag(self) -> SendTag {
        SendTag(match self {
            Sent::Reply(s) => REPLY | u64::from(s.0),
            Sent::Forward(peer, labels, failed) => {
                FORWARD
                    | u64::from(labels)
                    | ((u64::from(failed) & STATUS_MASK) << STATUS_SHIFT)
                    | if peer == Peer::Ue { TO_UE } else { 0 }
            }
        })
    }

    pub(crate) fn from_tag(tag: SendTag) -> Option<Sent> {
        let low = tag.0 & 0xffff_ffff;
        match tag.0 & (0xff << 48) {
            REPLY => Some(Sent::Reply(Status(u16::try_from(low).ok()?))),
            FORWARD => {
                let peer = if tag.0 & TO_UE != 0 {
                    Peer::Ue
                } else {
                    Peer::Backend
                };
                let failed = u16::try_from((tag.0 >> STATUS_SHIFT) & STATUS_MASK).ok()?;
                Some(Sent::Forward(peer, u32::try_from(low).ok()?, failed))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::metrics::{Direction, Kind, TransportLabel};

    #[test]
    fn tags_round_trip() {
        let labels = MessageLabels {
            direction: Direction::Out,
            transport: TransportLabel(sip::Transport::Wss),
            kind: Kind::response(699),
        };
        for s in [
            Sent::Reply(Status(430)),
            Sent::forward(Peer::Ue, &labels, Some(Status(430))),
            Sent::forward(Peer::Backend, &labels, None),
            Sent::forward(Peer::Backend, &labels, Some(Status(513))),
        ] {
            assert_ne!(s.tag(), SendTag::NONE);
            assert_eq!(Sent::from_tag(s.tag()), Some(s));
        }
        assert_eq!(Sent::from_tag(SendTag::NONE), None);
    }
}
