//! Digest access authentication for SIP (RFC 3261 §22, RFC 2617, RFC 7616,
//! RFC 8760): parsing and writing challenges and credentials, computing and
//! verifying responses with MD5, SHA-256 and SHA-512/256 (plain and
//! `-sess`), `qop=auth` and RFC 2069 mode (no qop), and stateless nonces.
//!
//! Sans-IO: nothing here reads a clock or a random source. Times and random
//! bytes (cnonce, nonce randomness) are parameters.
//!
//! # Example
//!
//! ```
//! use sip::digest::{
//!     nonce_valid, Algorithm, Challenge, ClientRequest, Credentials, Expected, Nonce,
//!     NonceCount, NonceStatus, Secret,
//! };
//!
//! # fn main() -> Result<(), sip::digest::DigestError> {
//! // Server: a 401 with `WWW-Authenticate: {challenge}`.
//! let secret = b"a 32-byte or longer server secret";
//! let nonce = Nonce::issue(secret, 1_700_000_000, &[7; 16]);
//! let challenge = Challenge::new("example.com", nonce, Algorithm::Sha256).to_string();
//!
//! // Client: parse the challenge and answer it.
//! let request = ClientRequest {
//!     method: "REGISTER",
//!     uri: "sip:example.com",
//!     cnonce: "0a4f113b",
//!     nc: NonceCount::FIRST,
//! };
//! let authorization = Challenge::parse(&challenge)?
//!     .respond("alice", Secret::Password("pw"), &request)?
//!     .to_string();
//!
//! // Server: check the nonce and the response.
//! let creds = Credentials::parse(&authorization)?;
//! let status = nonce_valid(secret, &creds.nonce, 1_700_000_010, 300)?;
//! let algorithms = [Algorithm::Sha256];
//! let expected = Expected::new("example.com", &algorithms);
//! creds.verify("REGISTER", &expected, Secret::Password("pw"))?;
//! assert_eq!(status, NonceStatus::Fresh);
//! # Ok(())
//! # }
//! ```

mod algorithm;
mod challenge;
mod client;
mod compute;
mod credentials;
mod error;
mod nonce;
mod params;
mod server;

pub use algorithm::{Algorithm, NonceCount, Qop};
pub use challenge::Challenge;
pub use client::ClientRequest;
pub use compute::{compute_response, DigestInput, Ha1, Secret};
pub use credentials::Credentials;
pub use error::DigestError;
pub use nonce::{nonce_valid, Nonce, NonceStatus};
pub use params::AuthParam;
pub use server::Expected;
