//! NAPTR selection (RFC 3263 §4.1, RFC 3403): which SRV names to query, in
//! which order, with which transport.

use hickory_resolver::proto::rr::{rdata::NAPTR, Name};

use crate::Transport;

/// The NAPTR services this crate can use, with their transports. `secure`
/// marks the ones allowed for a `sips:` URI.
const SERVICES: [(&[u8], Transport, bool); 3] = [
    (b"SIPS+D2T", Transport::Tls, true),
    (b"SIP+D2T", Transport::Tcp, false),
    (b"SIP+D2U", Transport::Udp, false),
];

/// The transport a NAPTR `services` field names, if this crate supports it
/// (for a `sips:` URI, only `SIPS+D2T`).
pub(crate) fn service_transport(services: &[u8], secure: bool) -> Option<Transport> {
    SERVICES
        .iter()
        .find(|(name, _, is_secure)| services.eq_ignore_ascii_case(name) && (*is_secure || !secure))
        .map(|&(_, transport, _)| transport)
}

/// The usable rules of a NAPTR answer, by ascending order then preference:
/// flag `s` (terminal, next lookup is SRV), a supported service, and a
/// replacement (SIP uses no regexp rewriting). Duplicates are dropped.
pub(crate) fn select(records: &[NAPTR], secure: bool) -> Vec<(Transport, Name)> {
    let mut usable: Vec<(u16, u16, Transport, &Name)> = records
        .iter()
        .filter(|r| r.flags.eq_ignore_ascii_case(b"s") && !r.replacement.is_root())
        .filter_map(|r| {
            service_transport(&r.services, secure)
                .map(|t| (r.order, r.preference, t, &r.replacement))
        })
        .collect();
    usable.sort_by_key(|&(order, preference, ..)| (order, preference));
    let mut out: Vec<(Transport, Name)> = Vec::with_capacity(usable.len());
    for (_, _, transport, name) in usable {
        if !out.iter().any(|(t, n)| *t == transport && n == name) {
            out.push((transport, name.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(order: u16, pref: u16, flags: &str, services: &str, to: &str) -> NAPTR {
        NAPTR::new(
            order,
            pref,
            flags.as_bytes().into(),
            services.as_bytes().into(),
            Box::default(),
            Name::from_ascii(to).unwrap_or_else(|_| Name::root()),
        )
    }

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap_or_else(|_| Name::root())
    }

    #[test]
    fn order_then_preference_and_unsupported_skipped() {
        let records = [
            rule(20, 0, "s", "SIP+D2U", "_sip._udp.x."),
            rule(10, 50, "s", "SIP+D2T", "_sip._tcp.x."),
            rule(10, 10, "S", "sips+d2t", "_sips._tcp.x."),
            rule(5, 0, "s", "SIP+D2S", "_sip._sctp.x."),
            rule(5, 0, "u", "SIP+D2U", "!.*!sip:x!"),
            rule(5, 0, "s", "SIP+D2W", "_sip._ws.x."),
            rule(15, 0, "s", "SIP+D2U", "."),
        ];
        assert_eq!(
            select(&records, false),
            vec![
                (Transport::Tls, name("_sips._tcp.x.")),
                (Transport::Tcp, name("_sip._tcp.x.")),
                (Transport::Udp, name("_sip._udp.x.")),
            ]
        );
        assert_eq!(
            select(&records, true),
            vec![(Transport::Tls, name("_sips._tcp.x."))]
        );
    }

    #[test]
    fn duplicates_dropped() {
        let records = [
            rule(10, 10, "s", "SIP+D2U", "_sip._udp.x."),
            rule(10, 20, "s", "SIP+D2U", "_sip._udp.x."),
        ];
        assert_eq!(select(&records, false).len(), 1);
    }

    #[test]
    fn services() {
        assert_eq!(service_transport(b"SIP+D2U", false), Some(Transport::Udp));
        assert_eq!(service_transport(b"SIP+D2U", true), None);
        assert_eq!(service_transport(b"SIPS+D2T", true), Some(Transport::Tls));
        assert_eq!(service_transport(b"E2U+sip", false), None);
        assert_eq!(service_transport(b"", false), None);
    }
}
