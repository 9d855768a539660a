//! What the registrar accepts ([`Policy`]) and where a REGISTER came from
//! ([`Source`]).

use std::net::SocketAddr;

use crate::config::RegistrarConfig;

/// The registrar's limits (from `registrar:` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Shorter non-zero expiries get 423 Interval Too Brief.
    pub min_expires: u32,
    /// Longer expiries are cut to this.
    pub max_expires: u32,
    /// The expiry when the REGISTER asks for none.
    pub default_expires: u32,
    /// Most bindings per AoR; a REGISTER that would go past it (and add
    /// bindings) gets 403 Too Many Contacts.
    pub max_contacts: u32,
    /// Reject a REGISTER that carries Path without `Supported: path` (420,
    /// `Unsupported: path`). Off by default: the edge adds Path for every
    /// UA, and RFC 3327 §5.1 leaves that check to the proxy adding Path.
    pub require_path_support: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy::from(&RegistrarConfig::default())
    }
}

impl From<&RegistrarConfig> for Policy {
    fn from(c: &RegistrarConfig) -> Self {
        Policy {
            min_expires: c.min_expires,
            max_expires: c.max_expires.max(c.min_expires),
            default_expires: c
                .default_expires
                .clamp(c.min_expires, c.max_expires.max(c.min_expires)),
            max_contacts: c.max_contacts.max(1),
            require_path_support: false,
        }
    }
}

/// Where a REGISTER was received from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The transport, lower case: `udp`, `tcp`, `tls`, `ws`, `wss`.
    pub transport: String,
    /// The source address and port.
    pub addr: SocketAddr,
    /// The local address and stream connection (0: none) it arrived on,
    /// when known: stored as the binding's flow.
    pub local: Option<(SocketAddr, u32)>,
    /// The core that accepts it (`server.instance_id`) and its process's
    /// epoch.
    pub by: Option<(String, String)>,
    /// A token the script tags every saved contact with.
    pub flow_token: Option<String>,
}

impl Source {
    /// A source; the transport name is lower-cased.
    pub fn new(transport: &str, addr: SocketAddr) -> Source {
        Source {
            transport: transport.to_ascii_lowercase(),
            addr,
            local: None,
            by: None,
            flow_token: None,
        }
    }

    /// The same source, with the local address and connection it arrived
    /// on.
    pub fn arrived_on(mut self, local: SocketAddr, connection: u32) -> Source {
        self.local = Some((local, connection));
        self
    }

    /// The same source, accepted by the core `by` (its
    /// `server.instance_id` and process epoch), its contacts tagged with
    /// `flow_token`.
    pub fn accepted_by(
        mut self,
        by: Option<(String, String)>,
        flow_token: Option<String>,
    ) -> Source {
        self.by = by;
        self.flow_token = flow_token;
        self
    }

    /// What a binding stores of this source ([`crate::Binding::accepted`]).
    pub fn accepted(&self) -> crate::Accepted {
        crate::Accepted {
            flow: self.local.map(|(local, connection)| crate::StoredFlow {
                transport: self.transport.clone(),
                remote: self.addr,
                local,
                connection,
            }),
            by: self.by.as_ref().map(|b| b.0.clone()),
            epoch: self.by.as_ref().map(|b| b.1.clone()),
            flow_token: self.flow_token.clone(),
        }
    }

    /// `transport:address:port`, as stored in [`crate::Binding::received`]:
    /// `udp:192.0.2.1:5060`, `tcp:[2001:db8::1]:5060`.
    pub fn received(&self) -> String {
        format!("{}:{}", self.transport, self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_config_and_received() {
        let p = Policy::default();
        assert_eq!(
            (
                p.min_expires,
                p.max_expires,
                p.default_expires,
                p.max_contacts
            ),
            (60, 7200, 3600, 10)
        );
        assert!(!p.require_path_support);
        let s = Source::new(
            "TCP",
            "[2001:db8::1]:5060"
                .parse()
                .unwrap_or_else(|_| unreachable!()),
        );
        assert_eq!(s.received(), "tcp:[2001:db8::1]:5060");
    }
}
