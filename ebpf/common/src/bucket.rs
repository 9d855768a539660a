//! Per-source token buckets: the LRU hash key [`SourceKey`] and value
//! [`TokenBucket`], with integer-only refill math.

use crate::packet::IpAddrBytes;

/// Fixed-point scale of [`TokenBucket::tokens`]: one token is 1000 units
/// (milli-tokens), so rates below one token per elapsed interval still add up.
pub const TOKEN_ONE: u64 = 1_000;
/// Rates above this (per second) are clamped, which keeps the refill
/// arithmetic inside `u64` (see [`TokenBucket::refill`]).
pub const MAX_RATE: u32 = 1_000_000;
/// Bursts above this are clamped.
pub const MAX_BURST: u32 = 1_000_000;

const NS_PER_SEC: u64 = 1_000_000_000;

/// [`SourceKey::family`] for IPv4.
pub const FAMILY_V4: u32 = 4;
/// [`SourceKey::family`] for IPv6.
pub const FAMILY_V6: u32 = 6;

/// The rate-limiting identity of a source: an IPv4 /32 or an IPv6 /64.
///
/// `#[repr(C)]`, 20 bytes, no implicit padding; bytes past the prefix are 0
/// so two addresses in one IPv6 /64 give equal keys.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SourceKey {
    /// [`FAMILY_V4`] or [`FAMILY_V6`].
    pub family: u32,
    /// IPv4: the 4 address bytes then zeros. IPv6: the first 8 bytes then
    /// zeros.
    pub addr: [u8; 16],
}

const _: () = assert!(core::mem::size_of::<SourceKey>() == 20);

impl SourceKey {
    /// The key for source address `src`.
    #[inline(always)]
    pub fn new(src: &IpAddrBytes) -> SourceKey {
        let mut addr = [0u8; 16];
        match src {
            IpAddrBytes::V4(a) => {
                for (d, s) in addr.iter_mut().zip(a.iter()) {
                    *d = *s;
                }
                SourceKey {
                    family: FAMILY_V4,
                    addr,
                }
            }
            IpAddrBytes::V6(a) => {
                for (d, s) in addr.iter_mut().zip(a.iter().take(8)) {
                    *d = *s;
                }
                SourceKey {
                    family: FAMILY_V6,
                    addr,
                }
            }
        }
    }
}

/// A token bucket, stored as the LRU hash value.
///
/// `#[repr(C)]`, 16 bytes, no padding.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TokenBucket {
    /// Tokens available, in units of 1/[`TOKEN_ONE`].
    pub tokens: u64,
    /// Clock (`bpf_ktime_get_ns` / monotonic ns) of the last refill.
    pub last_ns: u64,
}

const _: () = assert!(core::mem::size_of::<TokenBucket>() == 16);

impl TokenBucket {
    /// A full bucket for `burst` tokens, refilled at `now_ns`.
    #[inline(always)]
    pub fn full(burst: u32, now_ns: u64) -> TokenBucket {
        TokenBucket {
            tokens: capacity(burst),
            last_ns: now_ns,
        }
    }

    /// Adds the tokens earned since `last_ns` at `rate_per_sec`, capped at
    /// `burst`. `last_ns` moves to `now_ns` when the bucket is full, else by
    /// exactly the time the added units took, so no fraction is lost. A
    /// clock that goes backwards adds nothing.
    ///
    /// `added = elapsed_ns * rate * TOKEN_ONE / 1e9`, computed as whole
    /// seconds plus remainder so that with `rate <= MAX_RATE` the remainder
    /// product is below 1e18 and the seconds part saturates: no `u128`, no
    /// floats, no overflow.
    #[inline(always)]
    pub fn refill(&mut self, rate_per_sec: u32, burst: u32, now_ns: u64) {
        let cap = capacity(burst);
        let elapsed = now_ns.saturating_sub(self.last_ns);
        let per_sec = u64::from(rate_per_sec.min(MAX_RATE)) * TOKEN_ONE;
        let secs = elapsed / NS_PER_SEC;
        let rem = elapsed % NS_PER_SEC;
        let added = sat_mul(secs, per_sec).saturating_add(rem * per_sec / NS_PER_SEC);
        let sum = self.tokens.saturating_add(added);
        if sum >= cap || per_sec == 0 {
            self.tokens = cap.min(sum);
            if now_ns > self.last_ns {
                self.last_ns = now_ns;
            }
        } else {
            // Not full: advance the clock only by the time that earned
            // `added` (rounded up), so fractions of a unit carry over to the
            // next refill instead of being lost. `added < cap <= 1e9`, so
            // the product stays below 1e18.
            self.tokens = sum;
            let used = sat_mul(added, NS_PER_SEC).div_ceil(per_sec);
            self.last_ns = self.last_ns.saturating_add(used);
        }
    }

    /// Refills, then takes one token if there is one. Returns whether the
    /// packet may pass.
    #[inline(always)]
    pub fn take(&mut self, rate_per_sec: u32, burst: u32, now_ns: u64) -> bool {
        self.refill(rate_per_sec, burst, now_ns);
        if self.tokens >= TOKEN_ONE {
            self.tokens -= TOKEN_ONE;
            true
        } else {
            false
        }
    }
}

/// `a * b`, saturating. Not `u64::saturating_mul`: its overflow check is a
/// 128-bit multiply, which the BPF backend cannot lower (`__multi3`).
#[inline(always)]
fn sat_mul(a: u64, b: u64) -> u64 {
    if a != 0 && b > u64::MAX / a {
        u64::MAX
    } else {
        a * b
    }
}

#[inline(always)]
fn capacity(burst: u32) -> u64 {
    u64::from(burst.clamp(1, MAX_BURST)) * TOKEN_ONE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        let a = SourceKey::new(&IpAddrBytes::V4([192, 0, 2, 1]));
        assert_eq!(a.family, FAMILY_V4);
        assert_eq!(&a.addr[..4], &[192, 0, 2, 1]);
        assert!(a.addr[4..].iter().all(|&b| b == 0));
        let mut x = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        let k1 = SourceKey::new(&IpAddrBytes::V6(x));
        x[15] = 2;
        x[8] = 0xff;
        assert_eq!(SourceKey::new(&IpAddrBytes::V6(x)), k1);
        x[7] = 2;
        assert_ne!(SourceKey::new(&IpAddrBytes::V6(x)), k1);
    }

    #[test]
    fn burst_then_refill() {
        let mut b = TokenBucket::full(3, 0);
        assert!(b.take(2, 3, 0));
        assert!(b.take(2, 3, 0));
        assert!(b.take(2, 3, 0));
        assert!(!b.take(2, 3, 0));
        // 2 tokens/s: one token after 0.5 s.
        assert!(!b.take(2, 3, 499_999_999));
        assert!(b.take(2, 3, 500_000_000));
        assert!(!b.take(2, 3, 500_000_000));
        // A long idle period fills only up to the burst.
        let t = 3_600 * NS_PER_SEC;
        for _ in 0..3 {
            assert!(b.take(2, 3, t));
        }
        assert!(!b.take(2, 3, t));
    }

    #[test]
    fn saturating_multiply() {
        assert_eq!(sat_mul(0, u64::MAX), 0);
        assert_eq!(sat_mul(u64::MAX, 1), u64::MAX);
        assert_eq!(sat_mul(1 << 32, 1 << 32), u64::MAX);
        assert_eq!(sat_mul(1 << 31, 1 << 32), 1 << 63);
    }

    #[test]
    fn extremes_do_not_overflow() {
        let mut b = TokenBucket::full(u32::MAX, 0);
        assert_eq!(b.tokens, u64::from(MAX_BURST) * TOKEN_ONE);
        b.refill(u32::MAX, u32::MAX, u64::MAX);
        assert_eq!(b.tokens, u64::from(MAX_BURST) * TOKEN_ONE);
        // Clock going backwards adds nothing and keeps last_ns.
        let mut b = TokenBucket {
            tokens: 0,
            last_ns: 10,
        };
        assert!(!b.take(1_000, 1, 5));
        assert_eq!(b.last_ns, 10);
        // Burst 0 acts as 1.
        let mut b = TokenBucket::full(0, 0);
        assert!(b.take(1, 0, 0));
        assert!(!b.take(1, 0, 0));
    }
}
