//! Scanner detection by User-Agent (friendly-scanner, sipvicious, ...).

/// The User-Agent value of a request's header section, if any. Responses,
/// and anything without a header line of that name, give `None`.
pub(crate) fn user_agent(msg: &[u8]) -> Option<&[u8]> {
    if msg.starts_with(b"SIP/") {
        return None;
    }
    let mut lines = msg.split(|&b| b == b'\n').skip(1);
    lines.find_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return Some(None); // end of the header section
        }
        let name = b"user-agent";
        let head = line.get(..name.len())?;
        if !head.eq_ignore_ascii_case(name) {
            return None;
        }
        let rest = line[name.len()..].trim_ascii_start();
        let value = rest.strip_prefix(b":")?;
        Some(Some(value.trim_ascii()))
    })?
}

/// Lower-cased patterns, matched as substrings.
#[derive(Debug, Clone, Default)]
pub(crate) struct Patterns(Vec<Vec<u8>>);

impl Patterns {
    pub(crate) fn new(patterns: &[String]) -> Self {
        Patterns(
            patterns
                .iter()
                .map(|p| p.trim().to_ascii_lowercase().into_bytes())
                .filter(|p| !p.is_empty())
                .collect(),
        )
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first pattern found in `ua` (case-insensitive).
    pub(crate) fn matching(&self, ua: &[u8]) -> Option<&[u8]> {
        let lower = ua.to_ascii_lowercase();
        self.0
            .iter()
            .find(|p| memchr::memmem::find(&lower, p).is_some())
            .map(Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_user_agent_of_requests_only() {
        let req = b"OPTIONS sip:100@10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP x\r\nuser-agent :  friendly-scanner \r\n\r\n";
        assert_eq!(user_agent(req), Some(&b"friendly-scanner"[..]));
        let body_only = b"INVITE sip:a@b SIP/2.0\r\nVia: x\r\n\r\nUser-Agent: sipvicious\r\n";
        assert_eq!(user_agent(body_only), None, "the body is not a header");
        let resp = b"SIP/2.0 200 OK\r\nUser-Agent: sipvicious\r\n\r\n";
        assert_eq!(user_agent(resp), None);
        assert_eq!(user_agent(b""), None);
        assert_eq!(user_agent(b"User-Agents: x\r\n"), None);
    }

    #[test]
    fn patterns_match_case_insensitively() {
        let p = Patterns::new(&["friendly-scanner".into(), "VaxSIPUserAgent".into()]);
        assert_eq!(
            p.matching(b"Friendly-Scanner 1.0"),
            Some(&b"friendly-scanner"[..])
        );
        assert!(p.matching(b"vaxsipuseragent/3.1").is_some());
        assert!(p.matching(b"baresip v1.0").is_none());
        assert!(Patterns::new(&[" ".into()]).is_empty());
    }
}
