//! The 4-bit transport codes of the token layout. The transport type itself
//! is the workspace's one [`sip::Transport`], re-exported as
//! [`crate::Transport`].

use sip::Transport;

/// The 4-bit code of a transport in the token layout.
pub(crate) fn code(t: Transport) -> u8 {
    match t {
        Transport::Udp => 0,
        Transport::Tcp => 1,
        Transport::Tls => 2,
        Transport::Ws => 3,
        Transport::Wss => 4,
    }
}

/// Inverse of [`code`].
pub(crate) fn from_code(code: u8) -> Option<Transport> {
    Transport::ALL.get(usize::from(code)).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for t in Transport::ALL {
            assert_eq!(from_code(code(t)), Some(t));
        }
        assert_eq!(from_code(5), None);
        assert_eq!(from_code(15), None);
    }
}
