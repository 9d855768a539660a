//! `anysip token keygen | seal | open`.

use std::time::SystemTime;

use tokencodec::{unix_seconds, KeyFileFormat, KeyId, KeyRing, Limits, Token, TokenCodec};

use crate::cli::{KeyFormat, TokenCommand};
use crate::error::Error;

pub(crate) fn token(cmd: TokenCommand) -> Result<(), Error> {
    let now = unix_seconds(SystemTime::now());
    match cmd {
        TokenCommand::Keygen { id, format } => {
            let ring = KeyRing::generate(KeyId(id)).map_err(|e| Error::Token(e.to_string()))?;
            let f = match format {
                KeyFormat::Yaml => KeyFileFormat::Yaml,
                KeyFormat::Json => KeyFileFormat::Json,
            };
            print!("{}", ring.to_key_file(f));
        }
        TokenCommand::Seal { keys, json } => {
            let codec = codec(&keys, None)?;
            let token: Token = serde_json::from_str(&json)
                .map_err(|e| Error::Token(format!("token contents: {e}")))?;
            println!(
                "{}",
                codec
                    .seal(&token, now)
                    .map_err(|e| Error::Token(e.to_string()))?
            );
        }
        TokenCommand::Open {
            keys,
            token,
            max_age_secs,
        } => {
            let codec = codec(&keys, max_age_secs)?;
            let text = strip_uri(&token);
            let opened = codec
                .open_any(text, now)
                .map_err(|e| Error::Token(e.to_string()))?;
            let out = serde_json::json!({
                "token": opened.token,
                "issued_at": opened.issued_at,
                "key_id": opened.key_id.0,
            });
            println!("{out:#}");
        }
    }
    Ok(())
}

fn codec(keys: &std::path::Path, max_age: Option<u64>) -> Result<TokenCodec, Error> {
    let ring = KeyRing::load_file(keys).map_err(|e| Error::Token(e.to_string()))?;
    let mut limits = Limits::default();
    if let Some(a) = max_age {
        limits.max_age_secs = a;
    }
    Ok(TokenCodec::new(ring, limits))
}

/// Accepts `TOKEN`, `sip:TOKEN@host...` or `<sip:TOKEN@host;lr>`.
fn strip_uri(s: &str) -> &str {
    let s = s.trim().trim_start_matches('<');
    let s = s
        .strip_prefix("sip:")
        .or_else(|| s.strip_prefix("sips:"))
        .unwrap_or(s);
    s.split('@').next().unwrap_or(s)
}
