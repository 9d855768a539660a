//! A binding: one contact registered for an address-of-record.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// One contact bound to an AoR, as stored (JSON in Redis).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// The canonical AoR ([`crate::aor_of`]).
    pub aor: String,
    /// The contact URI, as the UA wrote it.
    pub uri: String,
    /// The `q` parameter in thousandths (0–1000), when given.
    #[serde(default)]
    pub q: Option<u16>,
    /// When the binding expires, in seconds since the epoch.
    pub expires_at: u64,
    /// The Call-ID of the REGISTER that made it.
    pub call_id: String,
    /// The CSeq number of that REGISTER.
    pub cseq: u32,
    /// The Path of that REGISTER (RFC 3327), top first, each value as
    /// written (`<sip:edge.example.com;lr;ob>`): the route set towards the
    /// contact.
    #[serde(default)]
    pub path: Vec<String>,
    /// `+sip.instance` without its quotes (`<urn:uuid:...>`), RFC 5626.
    #[serde(default)]
    pub instance: Option<String>,
    /// `reg-id` (RFC 5626), kept only when outbound applied.
    #[serde(default)]
    pub reg_id: Option<u32>,
    /// Where the REGISTER came from: `transport:address:port`
    /// (`udp:192.0.2.1:5060`).
    #[serde(default)]
    pub received: Option<String>,
    /// The REGISTER's User-Agent.
    #[serde(default)]
    pub user_agent: Option<String>,
    /// When the binding was last written, in seconds since the epoch.
    pub updated_at: u64,
    /// The Contact's other parameters (not `q`, `expires`,
    /// `+sip.instance`, `reg-id`), names lower-cased, in order: `None` for
    /// a flag (`+g.3gpp.smsip`), else the value as written.
    #[serde(default)]
    pub params: Vec<(String, Option<String>)>,
    /// Who accepted the REGISTER and over which flow.
    #[serde(default)]
    pub accepted: Accepted,
}

/// Who accepted a REGISTER, and over what: SIPhon's `Contact.flow`,
/// `instance_id` and `flow_token`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    /// The flow the REGISTER arrived on.
    #[serde(default)]
    pub flow: Option<StoredFlow>,
    /// `server.instance_id` of the core that accepted it.
    #[serde(default)]
    pub by: Option<String>,
    /// The start of that core's process that accepted it (a random id
    /// drawn at start): with `by`, which process holds the flow.
    #[serde(default)]
    pub epoch: Option<String>,
    /// The opaque token the script gave (`registrar.save(flow_token=)`).
    #[serde(default)]
    pub flow_token: Option<String>,
}

/// A flow as stored with a binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFlow {
    /// The transport, lower case (`udp`, `tcp`, `tls`, `ws`, `wss`).
    pub transport: String,
    /// The peer's address.
    pub remote: SocketAddr,
    /// The local address (the listener).
    pub local: SocketAddr,
    /// The stream connection id (0 for UDP).
    pub connection: u32,
}

impl Binding {
    /// Seconds left at `now` (0 once expired).
    pub fn expires_in(&self, now: u64) -> u64 {
        self.expires_at.saturating_sub(now)
    }

    /// True while the binding has not expired at `now`.
    pub fn is_live(&self, now: u64) -> bool {
        self.expires_at > now
    }

    /// `q` as a number between 0 and 1 (1 when not given, RFC 3261 §16.6).
    pub fn q_value(&self) -> f32 {
        f32::from(self.q.unwrap_or(1000)) / 1000.0
    }

    /// The storage key of the binding within its AoR: its identity. A flow
    /// (RFC 5626: instance and reg-id), an instance (RFC 5627), or the
    /// contact URI.
    pub fn key(&self) -> String {
        match (&self.instance, self.reg_id) {
            (Some(i), Some(r)) => format!("flow:{r}:{i}"),
            (Some(i), None) => format!("inst:{i}"),
            (None, _) => format!("uri:{}", self.uri),
        }
    }

    /// The value listing this binding in a 200 OK:
    /// `<uri>;expires=N[;q=…][;+sip.instance="…"][;reg-id=N]`.
    pub fn contact_value(&self, now: u64) -> String {
        let mut v = format!("<{}>;expires={}", self.uri, self.expires_in(now));
        if let Some(q) = self.q {
            v.push_str(";q=");
            v.push_str(&qvalue(q));
        }
        if let Some(i) = &self.instance {
            v.push_str(";+sip.instance=\"");
            v.push_str(i);
            v.push('"');
        }
        if let Some(r) = self.reg_id {
            v.push_str(";reg-id=");
            v.push_str(&r.to_string());
        }
        v
    }
}

/// An RFC 5626 flow binding as a proxy sent a request over it: the
/// instance and reg-id, and the Contact URI and Path the binding had
/// then. A flow found dead ends only while its binding is still that one
/// (the UA may have registered the same reg-id again over a new flow,
/// with another Path, meanwhile).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TriedFlow<'a> {
    /// `+sip.instance`, without quotes.
    pub instance: &'a str,
    /// `reg-id`.
    pub reg_id: u32,
    /// The Contact URI tried.
    pub uri: &'a str,
    /// The Path (route set) tried, top first.
    pub path: &'a [String],
}

impl TriedFlow<'_> {
    /// Whether `b` is the binding that was tried.
    pub fn is(&self, b: &Binding) -> bool {
        b.instance.as_deref() == Some(self.instance)
            && b.reg_id == Some(self.reg_id)
            && b.uri == self.uri
            && b.path == self.path
    }
}

/// Thousandths as a qvalue: 1000 → `1`, 500 → `0.5`, 125 → `0.125`.
fn qvalue(q: u16) -> String {
    let s = format!("{}.{:03}", q / 1000, q % 1000);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Sorts bindings best first: highest q, then most recently updated, then
/// by URI (so the order is stable).
pub(crate) fn sort(bindings: &mut [Binding]) {
    bindings.sort_by(|a, b| {
        b.q.unwrap_or(1000)
            .cmp(&a.q.unwrap_or(1000))
            .then(b.updated_at.cmp(&a.updated_at))
            .then_with(|| a.uri.cmp(&b.uri))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b() -> Binding {
        Binding {
            aor: "sip:a@b.c".into(),
            uri: "sip:a@192.0.2.1".into(),
            q: Some(500),
            expires_at: 160,
            call_id: "c".into(),
            cseq: 1,
            path: vec![],
            instance: Some("<urn:uuid:1>".into()),
            reg_id: Some(1),
            received: None,
            user_agent: None,
            updated_at: 100,
            params: Vec::new(),
            accepted: Accepted::default(),
        }
    }

    #[test]
    fn values() {
        let b = b();
        assert_eq!(b.expires_in(100), 60);
        assert_eq!(b.expires_in(200), 0);
        assert!(b.is_live(159) && !b.is_live(160));
        assert_eq!(
            b.contact_value(100),
            "<sip:a@192.0.2.1>;expires=60;q=0.5;+sip.instance=\"<urn:uuid:1>\";reg-id=1"
        );
        assert_eq!(b.key(), "flow:1:<urn:uuid:1>");
        assert_eq!(qvalue(1000), "1");
        assert_eq!(qvalue(0), "0");
        assert_eq!(qvalue(125), "0.125");
        assert_eq!(qvalue(70), "0.07");
        let json = serde_json::to_string(&b).unwrap();
        assert_eq!(serde_json::from_str::<Binding>(&json).unwrap(), b);
    }

    #[test]
    fn tried_flows() {
        let mut b = b();
        b.path = vec!["<sip:edge;lr;ob>".into()];
        let path = b.path.clone();
        let tried = TriedFlow {
            instance: "<urn:uuid:1>",
            reg_id: 1,
            uri: "sip:a@192.0.2.1",
            path: &path,
        };
        assert!(tried.is(&b));
        for other in [
            TriedFlow { reg_id: 2, ..tried },
            TriedFlow {
                instance: "<urn:uuid:2>",
                ..tried
            },
            TriedFlow {
                uri: "sip:a@192.0.2.2",
                ..tried
            },
            TriedFlow { path: &[], ..tried },
        ] {
            assert!(!other.is(&b), "{other:?}");
        }
        // Registered again over another flow (a new Path): not the one tried.
        b.path = vec!["<sip:other-edge;lr;ob>".into()];
        assert!(!tried.is(&b));
        b.reg_id = None;
        assert!(!TriedFlow {
            path: &b.path.clone(),
            ..tried
        }
        .is(&b));
    }
}
