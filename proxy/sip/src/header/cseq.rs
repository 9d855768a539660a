//! `CSeq = 1*DIGIT LWS Method` (RFC 3261 §20.16).

use crate::chars::all_token;
use crate::error::HeaderError;
use crate::method::Method;
use crate::scan::Scanner;

/// A CSeq value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'a> {
    /// The sequence number (must fit 32 bits, RFC 3261 §8.1.1.5).
    pub seq: u32,
    /// The method as written.
    pub method: &'a str,
}

impl<'a> CSeq<'a> {
    /// Parses a CSeq value.
    pub fn parse(s: &'a str) -> Result<CSeq<'a>, HeaderError> {
        let err = |what| HeaderError::new("CSeq", what);
        let mut sc = Scanner::new(s);
        sc.skip_lws();
        let digits = sc.take_while(|c| c.is_ascii_digit());
        if digits.is_empty() {
            return Err(err("no sequence number"));
        }
        let seq = digits
            .parse::<u32>()
            .map_err(|_| err("sequence number above 2**32-1"))?;
        if !sc.skip_lws() {
            return Err(err("no white space before method"));
        }
        let method = sc.token().ok_or(err("method is not a token"))?;
        sc.skip_lws();
        if !sc.at_end() || !all_token(method) {
            return Err(err("junk after method"));
        }
        Ok(CSeq { seq, method })
    }

    /// True when the CSeq method is `m` (case-sensitive, as methods are).
    pub fn is(&self, m: &Method) -> bool {
        self.method == m.as_str()
    }

    /// The method, classified.
    pub fn method(&self) -> Method {
        Method::from_token(self.method)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse() {
        let c = CSeq::parse("0009\r\n  INVITE").unwrap();
        assert_eq!((c.seq, c.method), (9, "INVITE"));
        assert!(CSeq::parse("36893488147419103232 REGISTER").is_err());
        assert!(CSeq::parse("INVITE").is_err());
        assert!(CSeq::parse("1 INVITE x").is_err());
        assert!(CSeq::parse("-1 INVITE").is_err());
    }
}
