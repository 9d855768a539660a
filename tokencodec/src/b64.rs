//! Strict base64url without padding.
//!
//! Decoding is canonical: only `[A-Za-z0-9_-]`, no `=`, no length of the
//! form `4n + 1`, and the unused low bits of the last character must be
//! zero, so that every encoded token has exactly one textual form and every
//! change of its text is seen.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::error::Error;

/// Appends the base64url encoding of `bytes` to `out`.
pub(crate) fn encode_into(bytes: &[u8], out: &mut String) {
    URL_SAFE_NO_PAD.encode_string(bytes, out);
}

/// Writes the base64url encoding of `bytes` into `out`, which must be
/// exactly [`encoded_len`]`(bytes.len())` long; otherwise `out` is left
/// unchanged and `false` returned.
pub(crate) fn encode_slice(bytes: &[u8], out: &mut [u8]) -> bool {
    out.len() == encoded_len(bytes.len()) && URL_SAFE_NO_PAD.encode_slice(bytes, out).is_ok()
}

/// Decodes `text` into `buf`, returning the number of bytes written.
///
/// `buf` must be large enough for the longest text the caller accepts; the
/// caller bounds the text length first.
pub(crate) fn decode_into(text: &[u8], buf: &mut [u8]) -> Result<usize, Error> {
    URL_SAFE_NO_PAD
        .decode_slice(text, buf)
        .map_err(|_| Error::Malformed)
}

/// Length of the encoding of `n` bytes.
pub(crate) const fn encoded_len(n: usize) -> usize {
    (n * 4).div_ceil(3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict() {
        let mut buf = [0u8; 16];
        assert_eq!(decode_into(b"AAAA", &mut buf).ok(), Some(3));
        assert_eq!(decode_into(b"AA", &mut buf).ok(), Some(1));
        // non-zero trailing bits
        assert!(decode_into(b"AB", &mut buf).is_err());
        // padding
        assert!(decode_into(b"AA==", &mut buf).is_err());
        // impossible length
        assert!(decode_into(b"AAAAA", &mut buf).is_err());
        // standard alphabet
        assert!(decode_into(b"AA+/", &mut buf).is_err());
        assert!(decode_into(b"AA-_", &mut buf).is_ok());
        assert!(decode_into(b"A A=", &mut buf).is_err());
        let mut s = String::new();
        encode_into(&[0xff, 0xfe], &mut s);
        assert_eq!(s, "__4");
        let mut out = [0u8; 3];
        assert!(encode_slice(&[0xff, 0xfe], &mut out));
        assert_eq!(&out, b"__4");
        assert!(!encode_slice(&[0xff, 0xfe], &mut [0u8; 4]));
        assert_eq!(encoded_len(2), 3);
        assert_eq!(encoded_len(80), 107);
    }
}
