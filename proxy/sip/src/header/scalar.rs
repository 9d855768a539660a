//! Single-valued fields: Call-ID, Max-Forwards, Expires / delta-seconds,
//! option tags.

use crate::chars::{all_token, WORD};
use crate::error::HeaderError;

/// `callid = word [ "@" word ]` (RFC 3261 §20.8).
pub fn call_id(s: &str) -> Result<&str, HeaderError> {
    let err = HeaderError::new("Call-ID", "not word[@word]");
    let ok = match memchr::memchr(b'@', s.as_bytes()) {
        Some(at) => all_word(&s[..at]) && all_word(&s[at + 1..]),
        None => all_word(s),
    };
    if ok {
        Ok(s)
    } else {
        Err(err)
    }
}

fn all_word(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| WORD[c as usize])
}

/// `Max-Forwards = 1*DIGIT`, 0–255 (RFC 3261 §20.22).
pub fn max_forwards(s: &str) -> Result<u8, HeaderError> {
    let err = |what| HeaderError::new("Max-Forwards", what);
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return Err(err("not a number"));
    }
    let t = s.trim_start_matches('0');
    if t.is_empty() {
        return Ok(0);
    }
    t.parse::<u8>().map_err(|_| err("above 255"))
}

/// `delta-seconds = 1*DIGIT`, at most 2**32-1 (Expires, the `expires`
/// Contact parameter, Min-Expires).
pub fn delta_seconds(s: &str) -> Result<u32, HeaderError> {
    let err = |what| HeaderError::new("Expires", what);
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return Err(err("not a number"));
    }
    let t = s.trim_start_matches('0');
    if t.is_empty() {
        return Ok(0);
    }
    t.parse::<u32>().map_err(|_| err("above 2**32-1"))
}

/// An option tag of Require / Proxy-Require / Supported / Unsupported.
pub fn option_tag(s: &str) -> Result<&str, HeaderError> {
    if all_token(s) {
        Ok(s)
    } else {
        Err(HeaderError::new("option tag", "not a token"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars() {
        assert_eq!(max_forwards("0068"), Ok(68));
        assert_eq!(max_forwards("0"), Ok(0));
        assert!(max_forwards("300").is_err());
        assert!(max_forwards("-1").is_err());
        assert_eq!(delta_seconds("4294967295"), Ok(u32::MAX));
        assert!(delta_seconds("4294967296").is_err());
        assert!(call_id("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{").is_ok());
        assert!(call_id("a b").is_err());
        assert!(call_id("a@b@c").is_err());
        assert!(call_id("").is_err());
    }
}
