//! Issue times and the validity window.
//!
//! A token carries its issue time as a `u32` count of seconds since
//! [`TOKEN_EPOCH`], which reaches into the year 2160. Nothing here reads the
//! clock: `now` is always an argument.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The token epoch, 2024-01-01T00:00:00Z, in Unix seconds.
pub const TOKEN_EPOCH: u64 = 1_704_067_200;

/// How long tokens stay valid, and how far in the future an issue time may
/// lie (clock skew between edge instances).
///
/// Deserialises from configuration (`max_age_secs`, `max_skew_secs`, both
/// optional with the defaults below; unknown fields are rejected).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Maximum age of a token, in seconds: a token issued at `t` opens until
    /// `now == t + max_age_secs` inclusive.
    ///
    /// Route tokens sit in a dialog's route set for the whole dialog, so
    /// this must exceed the longest call (and long-lived subscription
    /// dialogs); flow tokens in Path are refreshed at each registration.
    pub max_age_secs: u64,
    /// Clock-skew allowance, in seconds: a token issued up to this much
    /// after `now` still opens.
    pub max_skew_secs: u64,
}

impl Limits {
    /// Default maximum age: 7 days.
    pub const DEFAULT_MAX_AGE_SECS: u64 = 7 * 24 * 3600;
    /// Default clock-skew allowance: 2 minutes.
    pub const DEFAULT_MAX_SKEW_SECS: u64 = 120;

    /// Checks an issue time (Unix seconds) against `now`.
    pub fn check(&self, issued_at: u64, now: u64) -> Result<(), Error> {
        if issued_at > now.saturating_add(self.max_skew_secs) {
            return Err(Error::NotYetValid { issued_at, now });
        }
        if now > issued_at.saturating_add(self.max_age_secs) {
            return Err(Error::Expired { issued_at, now });
        }
        Ok(())
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_age_secs: Self::DEFAULT_MAX_AGE_SECS,
            max_skew_secs: Self::DEFAULT_MAX_SKEW_SECS,
        }
    }
}

/// Converts a [`SystemTime`] to Unix seconds (0 before 1970). A pure
/// conversion, for callers that hold a `SystemTime`; it reads no clock.
pub fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Unix seconds to the token's `u32` offset from [`TOKEN_EPOCH`].
pub(crate) fn to_token_time(now: u64) -> Result<u32, Error> {
    now.checked_sub(TOKEN_EPOCH)
        .and_then(|offset| u32::try_from(offset).ok())
        .ok_or(Error::TimeOutOfRange(now))
}

/// The token's `u32` offset back to Unix seconds.
pub(crate) fn from_token_time(offset: u32) -> u64 {
    TOKEN_EPOCH + u64::from(offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn token_time_range() {
        assert_eq!(to_token_time(TOKEN_EPOCH).ok(), Some(0));
        assert!(matches!(
            to_token_time(TOKEN_EPOCH - 1),
            Err(Error::TimeOutOfRange(_))
        ));
        let last = TOKEN_EPOCH + u64::from(u32::MAX);
        assert_eq!(to_token_time(last).ok(), Some(u32::MAX));
        assert!(to_token_time(last + 1).is_err());
        assert!(to_token_time(u64::MAX).is_err());
        assert_eq!(from_token_time(u32::MAX), last);
    }

    #[test]
    fn window_edges() {
        let l = Limits {
            max_age_secs: 100,
            max_skew_secs: 10,
        };
        assert!(l.check(1000, 1000).is_ok());
        assert!(l.check(1000, 1100).is_ok());
        assert!(matches!(l.check(1000, 1101), Err(Error::Expired { .. })));
        assert!(l.check(1010, 1000).is_ok());
        assert!(matches!(
            l.check(1011, 1000),
            Err(Error::NotYetValid { .. })
        ));
        assert!(l.check(u64::MAX, u64::MAX).is_ok());
        assert!(l.check(0, u64::MAX).is_err());
    }

    #[test]
    fn system_time_conversion() {
        assert_eq!(unix_seconds(UNIX_EPOCH + Duration::from_secs(42)), 42);
        assert_eq!(unix_seconds(UNIX_EPOCH - Duration::from_secs(42)), 0);
    }
}

#[cfg(test)]
mod serde_tests {
    use super::*;

    #[test]
    fn limits_from_config() {
        let limits: Limits = serde_yaml::from_str("max_age_secs: 3600\n").expect("parses");
        assert_eq!(limits.max_age_secs, 3600);
        assert_eq!(limits.max_skew_secs, Limits::DEFAULT_MAX_SKEW_SECS);
        assert!(serde_yaml::from_str::<Limits>("max_age: 1\n").is_err());
    }
}
