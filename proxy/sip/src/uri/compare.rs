//! SIP URI comparison, RFC 3261 §19.1.4.

use super::escape::eq_unescaped;
use super::SipUri;
use crate::params::Params;

/// Parameters that, present in one URI, must be present and equal in the other.
const STRICT: [&str; 5] = ["user", "ttl", "method", "maddr", "transport"];

impl SipUri<'_> {
    /// True when the two URIs are equivalent under RFC 3261 §19.1.4.
    pub fn equivalent(&self, other: &SipUri<'_>) -> bool {
        self.secure == other.secure
            && opt_eq(self.user, other.user, false)
            && opt_eq(self.password, other.password, false)
            && self.host.matches(&other.host)
            && self.port == other.port
            && params_match(&self.params, &other.params)
            && headers_match(self.headers, other.headers)
    }
}

fn opt_eq(a: Option<&str>, b: Option<&str>, ignore_case: bool) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => eq_unescaped(x, y, ignore_case),
        _ => false,
    }
}

fn params_match(a: &Params<'_>, b: &Params<'_>) -> bool {
    for name in STRICT {
        let (x, y) = (a.get(name), b.get(name));
        match (x, y) {
            (None, None) => {}
            (Some(x), Some(y)) if opt_eq(x, y, true) => {}
            _ => return false,
        }
    }
    // Other parameters are compared only when both URIs carry them.
    a.iter().all(|p| match b.find(p.name) {
        Some(q) => opt_eq(p.value, q.value, true),
        None => true,
    })
}

fn headers_match(a: Option<&str>, b: Option<&str>) -> bool {
    let list = |h: Option<&str>| -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut v: Vec<_> = h
            .unwrap_or("")
            .split('&')
            .filter(|s| !s.is_empty())
            .map(|item| {
                let (n, val) = item.split_once('=').unwrap_or((item, ""));
                let n: Vec<u8> = super::Unescape::new(n)
                    .map(|c| c.to_ascii_lowercase())
                    .collect();
                (n, super::Unescape::new(val).collect())
            })
            .collect();
        v.sort();
        v
    };
    list(a) == list(b)
}

#[cfg(test)]
mod tests {
    use crate::uri::Uri;

    fn eq(a: &str, b: &str) -> bool {
        Uri::parse(a).unwrap().equivalent(&Uri::parse(b).unwrap())
    }

    #[test]
    fn rfc3261_equivalent() {
        // The pairs of RFC 3261 §19.1.4.
        assert!(eq(
            "sip:%61lice@atlanta.com;transport=TCP",
            "sip:alice@AtLanTa.CoM;Transport=tcp"
        ));
        assert!(eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com;newparam=5"
        ));
        assert!(eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com;security=on"
        ));
        assert!(eq(
            "sip:carol@chicago.com;newparam=5",
            "sip:carol@chicago.com;security=on"
        ));
        assert!(eq(
            "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
            "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"
        ));
        assert!(eq(
            "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
            "sip:alice@atlanta.com?priority=urgent&subject=project%20x"
        ));
    }

    #[test]
    fn rfc3261_not_equivalent() {
        assert!(!eq(
            "SIP:ALICE@AtLanTa.CoM;Transport=udp",
            "sip:alice@AtLanTa.CoM;Transport=UDP"
        ));
        assert!(!eq("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"));
        assert!(!eq(
            "sip:bob@biloxi.com",
            "sip:bob@biloxi.com;transport=udp"
        ));
        assert!(!eq(
            "sip:bob@biloxi.com",
            "sip:bob@biloxi.com:6000;transport=tcp"
        ));
        assert!(!eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com?Subject=next%20meeting"
        ));
        assert!(!eq("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"));
        assert!(!eq(
            "sip:carol@chicago.com;security=on",
            "sip:carol@chicago.com;security=off"
        ));
        assert!(!eq("sip:alice@atlanta.com", "sips:alice@atlanta.com"));
        assert!(!eq("sip:[2001:db8::10]", "sip:[2001:db8::10]:5060"));
        assert!(eq("sip:[2001:db8::10]", "sip:[2001:0db8:0::10]"));
    }

    #[test]
    fn tel() {
        assert!(eq("tel:+1-201-555-0123", "tel:+12015550123"));
        assert!(!eq("tel:+12015550123", "tel:+12015550124"));
        assert!(eq(
            "tel:7042;phone-context=example.com",
            "tel:7042;PHONE-CONTEXT=Example.com"
        ));
    }
}
