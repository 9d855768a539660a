//! The address-of-record: the canonical form of a To URI (RFC 3261 §10.3
//! step 5), the key of every binding.

use sip::host::Host;
use sip::Uri;

use crate::RegistrarError;

/// The canonical AoR of a SIP or SIPS URI: scheme (`sip`/`sips`), user part,
/// host lower-cased (IP literals in their canonical text), port only when
/// written; no password, parameters or headers.
///
/// Escapes in the user part are normalised the way §19.1.4 compares them:
/// an escaped unreserved character is decoded, other escapes get upper-case
/// hex digits. So `sip:%61lice@Example.COM;transport=tcp` and
/// `sip:alice@example.com` are the same AoR. The text may also be a
/// name-addr in `<>` (`"Alice" <sip:alice@example.com>;tag=1`).
pub fn aor_of(uri_text: &str) -> Result<String, RegistrarError> {
    let text = uri_text.trim();
    let text = match (text.find('<'), text.rfind('>')) {
        (Some(open), Some(close)) if open < close => &text[open + 1..close],
        _ => text,
    };
    let bad = |what: &str| RegistrarError::InvalidAor(format!("{what}: {text:?}"));
    let uri = Uri::parse(text).map_err(|e| bad(&e.to_string()))?;
    let Uri::Sip(sip) = uri else {
        return Err(bad("not a sip or sips URI"));
    };
    let mut out = String::with_capacity(text.len());
    out.push_str(if sip.secure { "sips:" } else { "sip:" });
    if let Some(user) = sip.user {
        if user.is_empty() {
            return Err(bad("empty user part"));
        }
        normalise_escapes(user, &mut out);
        out.push('@');
    }
    match sip.host {
        Host::Domain(d) => out.push_str(&d.to_ascii_lowercase()),
        other => out.push_str(&other.to_string()),
    }
    if let Some(port) = sip.port {
        out.push(':');
        out.push_str(&port.to_string());
    }
    Ok(out)
}

/// The canonical form of a URI that may name an alias of an AoR: a SIP
/// URI's AoR ([`aor_of`]), or a `tel:` URI's number without its visual
/// separators and parameters (RFC 3966 §3), e.g. `tel:+15551234`.
pub fn alias_key_of(uri_text: &str) -> Result<String, RegistrarError> {
    let text = uri_text.trim();
    let text = text
        .strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(text);
    let Some(number) = text
        .get(..4)
        .filter(|s| s.eq_ignore_ascii_case("tel:"))
        .map(|_| &text[4..])
    else {
        return aor_of(text);
    };
    let number = number.split(';').next().unwrap_or("");
    let digits: String = number.chars().filter(|c| !"-.()".contains(*c)).collect();
    let valid = digits.len() > 1
        && digits.starts_with(|c: char| c == '+' || c.is_ascii_alphanumeric())
        && digits[1..]
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == '*' || c == '#');
    if !valid {
        return Err(RegistrarError::InvalidAor(format!(
            "not a tel number: {text:?}"
        )));
    }
    Ok(format!("tel:{}", digits.to_ascii_uppercase()))
}

/// Copies `s`, decoding `%XX` of unreserved characters and upper-casing the
/// hex digits of the other escapes.
fn normalise_escapes(s: &str, out: &mut String) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                let c = h * 16 + l;
                if c.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&c) {
                    out.push(char::from(c));
                } else {
                    out.push('%');
                    out.push(char::from(b[i + 1].to_ascii_uppercase()));
                    out.push(char::from(b[i + 2].to_ascii_uppercase()));
                }
                i += 3;
                continue;
            }
        }
        out.push(char::from(b[i]));
        i += 1;
    }
}

fn hex(c: u8) -> Option<u8> {
    char::from(c)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical() {
        let a = |s| aor_of(s).unwrap();
        assert_eq!(a("sip:alice@Example.COM"), "sip:alice@example.com");
        assert_eq!(
            a("SIP:alice:secret@example.com:5060;transport=tcp?x=y"),
            "sip:alice@example.com:5060"
        );
        assert_eq!(a("sips:bob@EXAMPLE.com"), "sips:bob@example.com");
        assert_eq!(a("sip:%61lice@example.com"), "sip:alice@example.com");
        assert_eq!(a("sip:a%2cb@example.com"), "sip:a%2Cb@example.com");
        assert_eq!(a("sip:example.com"), "sip:example.com");
        assert_eq!(a("sip:u@[2001:DB8:0::1]:5060"), "sip:u@[2001:db8::1]:5060");
        assert_eq!(a("sip:u@192.0.2.1"), "sip:u@192.0.2.1");
        assert_eq!(
            a("\"Alice\" <sip:Alice@Example.com>;tag=1"),
            "sip:Alice@example.com"
        );
        assert!(aor_of("tel:+15551234").is_err());
        assert!(aor_of("mailto:a@b.c").is_err());
        assert!(aor_of("garbage").is_err());
        assert!(aor_of("").is_err());
    }
}
