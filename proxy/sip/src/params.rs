//! `;name=value` parameter lists of header fields and of URIs.
//!
//! A [`Params`] is checked against its grammar when it is made, then read
//! lazily: looking a parameter up walks the raw text, which is faster than
//! building a list for the few parameters a message carries.

use crate::chars::{self, is_token};
use crate::scan::Scanner;

/// Which grammar the parameters follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Header parameters: `SEMI token [EQUAL (token / host / quoted-string)]`,
    /// with LWS around the separators.
    Header,
    /// URI parameters: `";" pname ["=" pvalue]`, no white space, escapes allowed.
    Uri,
}

/// One parameter. `value` is raw: quotes and escapes are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    /// The name as written.
    pub name: &'a str,
    /// The value as written, if there is one.
    pub value: Option<&'a str>,
}

/// A validated parameter list (the text from the first `;`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params<'a> {
    raw: &'a str,
    kind: Kind,
}

impl<'a> Params<'a> {
    /// The empty list.
    pub fn empty() -> Self {
        Params {
            raw: "",
            kind: Kind::Header,
        }
    }

    /// The raw text, from the first `;`.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// True when there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The parameters in order.
    pub fn iter(&self) -> ParamIter<'a> {
        ParamIter {
            s: Scanner::new(self.raw),
            kind: self.kind,
        }
    }

    /// The parameter with this name (case-insensitive): `Some(None)` when it
    /// has no value.
    pub fn get(&self, name: &str) -> Option<Option<&'a str>> {
        self.find(name).map(|p| p.value)
    }

    /// The parameter with this name, with its name and value positions.
    pub fn find(&self, name: &str) -> Option<Param<'a>> {
        self.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// The value of a parameter, when present with a value.
    pub fn value(&self, name: &str) -> Option<&'a str> {
        self.get(name).flatten()
    }

    /// True when the parameter is present (with or without a value).
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Reads header parameters from the scanner's position: as many
    /// `;param` as follow. Leaves the scanner after the last one.
    #[cfg(test)]
    pub(crate) fn header(s: &mut Scanner<'a>) -> Result<Params<'a>, &'static str> {
        Self::header_with(s, |_| Ok(()))
    }

    /// Like [`Params::header`], handing each parameter to `each` as it is
    /// read, so callers check and pick out parameters in the same pass.
    pub(crate) fn header_with(
        s: &mut Scanner<'a>,
        mut each: impl FnMut(&Param<'a>) -> Result<(), &'static str>,
    ) -> Result<Params<'a>, &'static str> {
        let start = s.pos();
        let mut end = start;
        while s.sep(b';') {
            let p = header_param(s)?;
            each(&p)?;
            end = s.pos();
        }
        s.skip_lws();
        let raw = s.slice(start, end);
        Ok(Params {
            raw: crate::message::trim_lws(raw),
            kind: Kind::Header,
        })
    }

    /// Validates URI parameters: `raw` is empty or starts with `;`.
    pub(crate) fn uri(raw: &'a str) -> Result<Params<'a>, &'static str> {
        let mut it = ParamIter {
            s: Scanner::new(raw),
            kind: Kind::Uri,
        };
        while !it.s.at_end() {
            let p = it.next_checked()?;
            if !chars::all_in(p.name, &chars::PARAMCHAR) {
                return Err("bad URI parameter name");
            }
            if let Some(v) = p.value {
                if !chars::all_in(v, &chars::PARAMCHAR) {
                    return Err("bad URI parameter value");
                }
            }
        }
        Ok(Params {
            raw,
            kind: Kind::Uri,
        })
    }
}

fn header_param<'a>(s: &mut Scanner<'a>) -> Result<Param<'a>, &'static str> {
    let name = s.token().ok_or("parameter name is not a token")?;
    let value = if s.sep(b'=') {
        Some(if s.peek() == Some(b'"') {
            s.quoted_string()
                .ok_or("unterminated quoted parameter value")?
        } else {
            let v = s.take_while(|c| is_token(c) || matches!(c, b':' | b'[' | b']'));
            if v.is_empty() {
                return Err("empty parameter value");
            }
            v
        })
    } else {
        None
    };
    Ok(Param { name, value })
}

/// Iterator over a [`Params`].
#[derive(Debug, Clone)]
pub struct ParamIter<'a> {
    s: Scanner<'a>,
    kind: Kind,
}

impl<'a> ParamIter<'a> {
    fn next_checked(&mut self) -> Result<Param<'a>, &'static str> {
        match self.kind {
            Kind::Header => {
                if !self.s.sep(b';') {
                    return Err("expected ';'");
                }
                header_param(&mut self.s)
            }
            Kind::Uri => {
                if !self.s.eat(b';') {
                    return Err("expected ';'");
                }
                let item = self.s.take_while(|c| c != b';');
                let (name, value) = match memchr::memchr(b'=', item.as_bytes()) {
                    Some(e) => (&item[..e], Some(&item[e + 1..])),
                    None => (item, None),
                };
                if name.is_empty() {
                    return Err("empty URI parameter");
                }
                Ok(Param { name, value })
            }
        }
    }
}

impl<'a> Iterator for ParamIter<'a> {
    type Item = Param<'a>;

    fn next(&mut self) -> Option<Param<'a>> {
        if self.s.at_end() {
            return None;
        }
        // The list was validated when made; stop quietly if not.
        self.next_checked().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_params() {
        let mut s = Scanner::new(" ;   tag    = 1918181833n ; x ; q=\"a;b\", next");
        let p = Params::header(&mut s).unwrap();
        assert_eq!(p.value("TAG"), Some("1918181833n"));
        assert_eq!(p.get("x"), Some(None));
        assert_eq!(p.value("q"), Some("\"a;b\""));
        assert_eq!(s.rest(), ", next");
        assert_eq!(p.iter().count(), 3);
        assert!(Params::header(&mut Scanner::new(";;")).is_err());
        assert!(Params::header(&mut Scanner::new(";a=")).is_err());
    }

    #[test]
    fn uri_params() {
        let p = Params::uri(";lr;transport=tcp;%6C%72").unwrap();
        assert!(p.has("lr"));
        assert_eq!(p.value("transport"), Some("tcp"));
        assert!(Params::uri(";;").is_err());
        assert!(Params::uri(";a b").is_err());
    }
}
