//! `Contact` (RFC 3261 §20.10; RFC 5626 `+sip.instance` and `reg-id`).

use super::name_addr::NameAddr;
use super::scalar::delta_seconds;
use crate::error::HeaderError;

/// One Contact value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contact<'a> {
    /// `*` (only with Expires: 0 in a REGISTER).
    Star,
    /// An address with contact-params.
    Addr(NameAddr<'a>),
}

/// The contact-params a registrar reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ContactParams<'a> {
    /// `expires`, when present.
    pub expires: Option<u32>,
    /// `q` in thousandths (0–1000), when present.
    pub q: Option<u16>,
    /// `+sip.instance` without its quotes.
    pub instance: Option<&'a str>,
    /// `reg-id`.
    pub reg_id: Option<u32>,
}

fn err(what: &'static str) -> HeaderError {
    HeaderError::new("Contact", what)
}

impl<'a> Contact<'a> {
    /// Parses one Contact value (already split at commas).
    pub fn parse(s: &'a str) -> Result<Contact<'a>, HeaderError> {
        if crate::message::trim_lws(s) == "*" {
            return Ok(Contact::Star);
        }
        let na = NameAddr::parse("Contact", s)?;
        let c = Contact::Addr(na);
        c.params()?;
        Ok(c)
    }

    /// The address, unless this is `*`.
    pub fn addr(&self) -> Option<&NameAddr<'a>> {
        match self {
            Contact::Star => None,
            Contact::Addr(a) => Some(a),
        }
    }

    /// The typed contact-params.
    pub fn params(&self) -> Result<ContactParams<'a>, HeaderError> {
        let mut out = ContactParams::default();
        let Contact::Addr(na) = self else {
            return Ok(out);
        };
        for p in na.params.iter() {
            let v = p.value;
            if p.name.eq_ignore_ascii_case("expires") {
                let v = v.ok_or(err("expires without value"))?;
                out.expires = Some(delta_seconds(v).map_err(|_| err("expires out of range"))?);
            } else if p.name.eq_ignore_ascii_case("q") {
                out.q = Some(qvalue(v.ok_or(err("q without value"))?)?);
            } else if p.name.eq_ignore_ascii_case("+sip.instance") {
                let v = v.ok_or(err("+sip.instance without value"))?;
                let inner = v.strip_prefix('"').and_then(|x| x.strip_suffix('"'));
                out.instance = Some(inner.ok_or(err("+sip.instance must be quoted"))?);
            } else if p.name.eq_ignore_ascii_case("reg-id") {
                let v = v.ok_or(err("reg-id without value"))?;
                out.reg_id = Some(v.parse().map_err(|_| err("reg-id is not a number"))?);
            }
        }
        Ok(out)
    }
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in thousandths.
fn qvalue(v: &str) -> Result<u16, HeaderError> {
    let bad = err("q is not a qvalue");
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|c| c.is_ascii_digit()) {
        return Err(bad);
    }
    let mut f: u16 = 0;
    for (i, d) in frac.bytes().enumerate() {
        f += u16::from(d - b'0') * [100, 10, 1][i];
    }
    match int {
        "0" => Ok(f),
        "1" if f == 0 => Ok(1000),
        _ => Err(bad),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts() {
        assert_eq!(Contact::parse(" * "), Ok(Contact::Star));
        let c = Contact::parse(
            "<sip:a@b.c;ob>;expires=60;q=0.5;+sip.instance=\"<urn:uuid:1>\";reg-id=1",
        )
        .unwrap();
        let p = c.params().unwrap();
        assert_eq!(p.expires, Some(60));
        assert_eq!(p.q, Some(500));
        assert_eq!(p.instance, Some("<urn:uuid:1>"));
        assert_eq!(p.reg_id, Some(1));
        assert!(Contact::parse("<sip:a@b.c>;expires=280297596632815").is_err());
        assert!(Contact::parse("<sip:a@b.c>;q=2").is_err());
        assert!(Contact::parse("\"Joe\" <sip:joe@example.org>;;;;").is_err());
    }
}
