//! The key file: pure parsing and writing, no I/O.
//!
//! ```yaml
//! # anysip token key ring
//! current: 2
//! keys:
//!   - id: 1
//!     secret: "base64 of 32 random bytes"
//!   - id: 2
//!     secret: "..."
//! ```
//!
//! The same document in JSON (`{"current": 2, "keys": [{"id": 1, "secret":
//! "..."}]}`) is accepted too, since JSON is YAML. Unknown fields are
//! rejected. Error messages never quote a string from the file, so a
//! misplaced secret cannot leak into a log.

use std::fmt::Write as _;

use serde::Deserialize;

use super::KeyRing;
use crate::error::Error;
use crate::key::{KeyId, Secret};

/// The format [`KeyRing::to_key_file`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFileFormat {
    /// YAML, with a comment header.
    Yaml,
    /// JSON, e.g. for an environment variable.
    Json,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    current: u8,
    keys: Vec<KeyFileEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFileEntry {
    id: u8,
    secret: String,
}

impl KeyRing {
    /// Parses a key file (YAML or JSON).
    pub fn from_key_file(text: &str) -> Result<Self, Error> {
        let file: KeyFile = serde_yaml::from_str(text)
            .map_err(|e| Error::KeyFile(redact_quoted(&e.to_string())))?;
        let mut keys = Vec::with_capacity(file.keys.len());
        for entry in file.keys {
            let secret = Secret::from_base64(&entry.secret).map_err(|e| match e {
                Error::KeyFile(why) => Error::KeyFile(format!("key {}: {why}", entry.id)),
                other => other,
            })?;
            keys.push((KeyId(entry.id), secret));
        }
        KeyRing::new(KeyId(file.current), keys)
    }

    /// Writes the ring as a key file. **The result holds every secret in the
    /// ring**: write it only to a protected file or to the operator who asked
    /// for it (`anysip token keygen`).
    pub fn to_key_file(&self, format: KeyFileFormat) -> String {
        let mut out = String::new();
        let current = self.current();
        let keys = self.secrets();
        // Writing to a String cannot fail.
        let _ = match format {
            KeyFileFormat::Yaml => write_yaml(&mut out, current, &keys),
            KeyFileFormat::Json => write_json(&mut out, current, &keys),
        };
        out
    }
}

fn write_yaml(out: &mut String, current: KeyId, keys: &[(KeyId, &Secret)]) -> std::fmt::Result {
    writeln!(
        out,
        "# anysip token key ring. SECRET: keep this file private (mode 0600)."
    )?;
    writeln!(out, "current: {current}")?;
    writeln!(out, "keys:")?;
    for (id, secret) in keys {
        writeln!(out, "  - id: {id}")?;
        writeln!(out, "    secret: \"{}\"", secret.to_base64())?;
    }
    Ok(())
}

fn write_json(out: &mut String, current: KeyId, keys: &[(KeyId, &Secret)]) -> std::fmt::Result {
    write!(out, "{{\"current\":{current},\"keys\":[")?;
    for (i, (id, secret)) in keys.iter().enumerate() {
        let sep = if i == 0 { "" } else { "," };
        write!(
            out,
            "{sep}{{\"id\":{id},\"secret\":\"{}\"}}",
            secret.to_base64()
        )?;
    }
    writeln!(out, "]}}")
}

/// Replaces the contents of every `"..."` in a parser message by `...`.
fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut inside = false;
    for c in message.chars() {
        if c == '"' {
            if inside {
                out.push_str("...\"");
            } else {
                out.push('"');
            }
            inside = !inside;
        } else if !inside {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> KeyRing {
        KeyRing::new(
            KeyId(2),
            [
                (KeyId(1), Secret::from_bytes([1; 32])),
                (KeyId(2), Secret::from_bytes([2; 32])),
            ],
        )
        .expect("valid ring")
    }

    fn same(a: &KeyRing, b: &KeyRing) -> bool {
        a.to_key_file(KeyFileFormat::Json) == b.to_key_file(KeyFileFormat::Json)
    }

    #[test]
    fn round_trips_both_formats() {
        let ring = ring();
        for format in [KeyFileFormat::Yaml, KeyFileFormat::Json] {
            let text = ring.to_key_file(format);
            let back = KeyRing::from_key_file(&text).expect("parses its own output");
            assert!(same(&ring, &back), "{format:?}: {text}");
            assert_eq!(back.current(), KeyId(2));
        }
    }

    #[test]
    fn json_output_is_json() {
        let text = ring().to_key_file(KeyFileFormat::Json);
        let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(value["current"], 2);
        assert_eq!(value["keys"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn rejects_bad_files() {
        let secret = Secret::from_bytes([7; 32]).to_base64();
        let cases = [
            String::new(),
            "current: 1\nkeys: []\n".to_string(),
            format!("current: 2\nkeys:\n  - id: 1\n    secret: \"{secret}\"\n"),
            format!("current: 1\nkeys:\n  - id: 1\n    secret: \"{secret}\"\n    extra: 1\n"),
            format!("current: 1\nkeys:\n  - id: 1\n    secret: \"{secret}\"\nother: 1\n"),
            format!(
                "current: 1\nkeys:\n  - id: 1\n    secret: \"{secret}\"\n  - id: 1\n    secret: \"{secret}\"\n"
            ),
            "current: 1\nkeys:\n  - id: 1\n    secret: \"c2hvcnQ=\"\n".to_string(),
            "current: 1\nkeys:\n  - id: 300\n    secret: \"x\"\n".to_string(),
        ];
        for case in cases {
            assert!(KeyRing::from_key_file(&case).is_err(), "accepted: {case}");
        }
    }

    #[test]
    fn errors_do_not_quote_secrets() {
        let secret = Secret::from_bytes([9; 32]).to_base64();
        // A secret misplaced where a number belongs.
        let text = format!("current: \"{secret}\"\nkeys: []\n");
        let err = KeyRing::from_key_file(&text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(!err.is_empty() && !err.contains(&secret), "{err}");
        // A secret of the wrong length.
        let short = Secret::from_bytes([9; 32]).to_base64().replace('=', "");
        let text = format!(
            "current: 1\nkeys:\n  - id: 1\n    secret: \"{}\"\n",
            &short[..20]
        );
        let err = KeyRing::from_key_file(&text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("key 1") && !err.contains(&short[..20]),
            "{err}"
        );
    }

    #[test]
    fn redacts_quotes() {
        assert_eq!(
            redact_quoted(r#"invalid type: string "abc", expected u8"#),
            r#"invalid type: string "...", expected u8"#
        );
        assert_eq!(redact_quoted("no quotes"), "no quotes");
    }
}
