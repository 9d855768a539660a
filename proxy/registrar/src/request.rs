//! The plain data of a REGISTER that §10.3 needs, read from a parsed
//! [`sip::Message`]. A REGISTER that cannot be read gets an [`Outcome`]
//! (400, 416) instead.

use sip::header::Contact;
use sip::{HeaderName, Message, Method, Uri};

use crate::{aor_of, Outcome};

/// A REGISTER, as the registrar sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Register {
    /// The canonical AoR of the To URI.
    pub aor: String,
    /// Call-ID.
    pub call_id: String,
    /// CSeq number.
    pub cseq: u32,
    /// The Expires header, if any.
    pub expires: Option<u32>,
    /// The Contact header fields.
    pub contacts: Contacts,
    /// Path values, top first, as written.
    pub path: Vec<String>,
    /// `Supported: path`.
    pub supports_path: bool,
    /// User-Agent.
    pub user_agent: Option<String>,
    /// The REGISTER came straight from the UA (one Via): its source
    /// address is the UA's flow. Through proxies it is the last proxy's,
    /// which must not become the contact's next hop.
    pub direct: bool,
}

/// The Contact header fields of a REGISTER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contacts {
    /// No Contact: a query for the current bindings.
    Query,
    /// `Contact: *` alone: remove every binding (with `Expires: 0`).
    Star,
    /// One or more contacts.
    List(Vec<ContactSpec>),
}

/// One contact of a REGISTER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactSpec {
    /// The URI as written.
    pub uri: String,
    /// `expires` parameter.
    pub expires: Option<u32>,
    /// `q` in thousandths.
    pub q: Option<u16>,
    /// `+sip.instance` without quotes.
    pub instance: Option<String>,
    /// `reg-id`.
    pub reg_id: Option<u32>,
    /// True when the URI has the `ob` parameter (RFC 5626).
    pub ob: bool,
    /// The other contact-params (not `q`, `expires`, `+sip.instance`,
    /// `reg-id`), names lower-cased: `None` for a flag.
    pub params: Vec<(String, Option<String>)>,
}

impl Register {
    /// Reads a REGISTER. Fails with the response to send: 400 for a
    /// malformed field, 416 for a To URI that is not SIP or SIPS.
    pub fn from_message(req: &Message) -> Result<Register, Outcome> {
        let bad = |what: String| Outcome::reject(400, &what);
        if req.method() != Some(&Method::Register) {
            return Err(bad("Not a REGISTER".into()));
        }
        let to = req.to().map_err(|e| bad(format!("Bad To: {e}")))?;
        let to_uri = to.uri().map_err(|e| bad(format!("Bad To: {e}")))?;
        if !matches!(to_uri, Uri::Sip(_)) {
            return Err(Outcome::reject(416, "Unsupported URI Scheme"));
        }
        let aor = aor_of(to.uri_raw).map_err(|e| bad(format!("Bad To: {e}")))?;
        let call_id = req
            .call_id()
            .map_err(|e| bad(format!("Bad Call-ID: {e}")))?;
        let cseq = req.cseq().map_err(|e| bad(format!("Bad CSeq: {e}")))?;
        let expires = req
            .expires()
            .map_err(|e| bad(format!("Bad Expires: {e}")))?;
        let mut star = false;
        let mut list = Vec::new();
        for c in req.contacts() {
            let c = c.map_err(|e| bad(format!("Bad Contact: {e}")))?;
            match c {
                Contact::Star => star = true,
                Contact::Addr(na) => {
                    let p = c.params().map_err(|e| bad(format!("Bad Contact: {e}")))?;
                    let uri = na.uri().map_err(|e| bad(format!("Bad Contact: {e}")))?;
                    // A binding is a place to send requests to: only SIP,
                    // SIPS and tel URIs can be (RFC 4475 TC_UNKSM2_V).
                    if let sip::Uri::Other { scheme, .. } = uri {
                        return Err(bad(format!("Unsupported Contact URI Scheme {scheme}")));
                    }
                    list.push(ContactSpec {
                        uri: na.uri_raw.to_string(),
                        expires: p.expires,
                        q: p.q,
                        instance: p.instance.map(str::to_string),
                        reg_id: p.reg_id,
                        ob: uri.as_sip().is_some_and(|u| u.params.has("ob")),
                        params: other_params(&na.params),
                    });
                }
            }
        }
        let contacts = match (star, list.is_empty()) {
            (true, true) => Contacts::Star,
            (true, false) => return Err(bad("Wildcard Contact with other Contacts".into())),
            (false, true) => Contacts::Query,
            (false, false) => Contacts::List(list),
        };
        let mut path = Vec::new();
        for p in req.paths() {
            let p = p.map_err(|e| bad(format!("Bad Path: {e}")))?;
            path.push(p.as_str().to_string());
        }
        let supports_path = req
            .supported()
            .any(|t| t.is_ok_and(|t| t.eq_ignore_ascii_case("path")));
        Ok(Register {
            aor,
            call_id: call_id.to_string(),
            cseq: cseq.seq,
            expires,
            contacts,
            path,
            supports_path,
            user_agent: req.header(HeaderName::UserAgent).map(str::to_string),
            direct: req.vias().take(2).count() == 1,
        })
    }

    /// True when the first hop (the bottom Path value, added by the proxy
    /// nearest the UA) supports outbound (`ob`), or when there is no Path
    /// (the UA is directly connected), RFC 5626 §6.
    pub fn first_hop_outbound(&self) -> bool {
        let Some(first_hop) = self.path.last() else {
            return true;
        };
        sip::header::NameAddr::parse_route("Path", first_hop)
            .ok()
            .and_then(|na| na.uri().ok())
            .is_some_and(|u| u.as_sip().is_some_and(|s| s.params.has("ob")))
    }
}

/// The contact-params the registrar does not interpret, in order.
fn other_params(params: &sip::params::Params<'_>) -> Vec<(String, Option<String>)> {
    const OWN: [&str; 5] = ["q", "expires", "+sip.instance", "reg-id", "tag"];
    params
        .iter()
        .filter(|p| !OWN.iter().any(|o| p.name.eq_ignore_ascii_case(o)))
        .map(|p| (p.name.to_ascii_lowercase(), p.value.map(str::to_owned)))
        .collect()
}
