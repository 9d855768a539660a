//! Typed handles on the XDP program's maps. The names are the program's
//! (`ebpf/xdp/src/main.rs`):
//!
//! | map | type | key → value |
//! | --- | --- | --- |
//! | `ANYSIP_CONFIG` | array, 1 entry | 0 → [`Config`] |
//! | `ANYSIP_BLOCK_V4` | LPM trie | IPv4 prefix → 1 |
//! | `ANYSIP_BLOCK_V6` | LPM trie | IPv6 prefix → 1 |
//! | `ANYSIP_BUCKETS` | LRU hash | `SourceKey` → `TokenBucket` |
//! | `ANYSIP_COUNTERS` | per-CPU array | verdict index → packets |

use std::net::IpAddr;

use aya::maps::lpm_trie::{Key, LpmTrie};
use aya::maps::{Array, MapData, MapError, PerCpuArray};
use aya::Ebpf;

use crate::{Config, Counters, Verdict, XdpError};

/// The configuration map.
pub const CONFIG: &str = "ANYSIP_CONFIG";
/// The IPv4 blocklist.
pub const BLOCK_V4: &str = "ANYSIP_BLOCK_V4";
/// The IPv6 blocklist.
pub const BLOCK_V6: &str = "ANYSIP_BLOCK_V6";
/// The per-source token buckets.
pub const BUCKETS: &str = "ANYSIP_BUCKETS";
/// The per-CPU verdict counters.
pub const COUNTERS: &str = "ANYSIP_COUNTERS";

/// [`Config`] as a map value.
#[derive(Clone, Copy, Debug)]
#[repr(transparent)]
struct ConfigValue(Config);

// SAFETY: `Config` is `#[repr(C)]`, made of `u16`/`u32`/byte arrays with no
// implicit padding (its explicit `_pad` field rounds the size to 224, which
// the common crate asserts at compile time), so every byte is initialised
// and any bit pattern is a valid value. `ConfigValue` is transparent.
#[allow(unsafe_code)]
unsafe impl aya::Pod for ConfigValue {}

/// The maps user space writes and reads.
pub(crate) struct Maps {
    config: Array<MapData, ConfigValue>,
    block_v4: LpmTrie<MapData, [u8; 4], u8>,
    block_v6: LpmTrie<MapData, [u8; 16], u8>,
    counters: PerCpuArray<MapData, u64>,
}

impl std::fmt::Debug for Maps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Maps").finish_non_exhaustive()
    }
}

fn take<T>(ebpf: &mut Ebpf, name: &'static str) -> Result<T, XdpError>
where
    T: TryFrom<aya::maps::Map, Error = MapError>,
{
    let map = ebpf.take_map(name).ok_or(XdpError::Missing(name))?;
    T::try_from(map).map_err(|e| XdpError::map(name, e))
}

impl Maps {
    /// Takes the maps out of a loaded object.
    pub(crate) fn take(ebpf: &mut Ebpf) -> Result<Maps, XdpError> {
        Ok(Maps {
            config: take(ebpf, CONFIG)?,
            block_v4: take(ebpf, BLOCK_V4)?,
            block_v6: take(ebpf, BLOCK_V6)?,
            counters: take(ebpf, COUNTERS)?,
        })
    }

    /// Replaces the configuration (one atomic map update).
    pub(crate) fn set_config(&mut self, config: &Config) -> Result<(), XdpError> {
        self.config
            .set(0, ConfigValue(*config), 0)
            .map_err(|e| XdpError::map(CONFIG, e))
    }

    /// Adds `addr/prefix_len` to its family's blocklist.
    pub(crate) fn block(&mut self, addr: IpAddr, prefix_len: u8) -> Result<(), XdpError> {
        check_prefix(addr, prefix_len)?;
        let bits = u32::from(prefix_len);
        match addr {
            IpAddr::V4(a) => self
                .block_v4
                .insert(&Key::new(bits, masked(a.octets(), prefix_len)), 1, 0)
                .map_err(|e| XdpError::map(BLOCK_V4, e)),
            IpAddr::V6(a) => self
                .block_v6
                .insert(&Key::new(bits, masked(a.octets(), prefix_len)), 1, 0)
                .map_err(|e| XdpError::map(BLOCK_V6, e)),
        }
    }

    /// Removes `addr/prefix_len` from its family's blocklist; removing a
    /// prefix that is not there is not an error.
    pub(crate) fn unblock(&mut self, addr: IpAddr, prefix_len: u8) -> Result<(), XdpError> {
        check_prefix(addr, prefix_len)?;
        let bits = u32::from(prefix_len);
        let (name, r) = match addr {
            IpAddr::V4(a) => (
                BLOCK_V4,
                self.block_v4
                    .remove(&Key::new(bits, masked(a.octets(), prefix_len))),
            ),
            IpAddr::V6(a) => (
                BLOCK_V6,
                self.block_v6
                    .remove(&Key::new(bits, masked(a.octets(), prefix_len))),
            ),
        };
        match r {
            Ok(()) | Err(MapError::KeyNotFound) => Ok(()),
            Err(MapError::SyscallError(e)) if e.io_error.kind() == std::io::ErrorKind::NotFound => {
                Ok(())
            }
            Err(e) => Err(XdpError::map(name, e)),
        }
    }

    /// The counters, summed over CPUs.
    pub(crate) fn counters(&self) -> Result<Counters, XdpError> {
        let mut out = [0u64; Verdict::COUNT as usize];
        for v in Verdict::ALL {
            let per_cpu = self
                .counters
                .get(&v.counter_index(), 0)
                .map_err(|e| XdpError::map(COUNTERS, e))?;
            if let Some(slot) = out.get_mut(v.counter_index() as usize) {
                *slot = per_cpu.iter().fold(0u64, |a, &b| a.wrapping_add(b));
            }
        }
        Ok(out)
    }
}

/// `bytes` with the bits past `prefix_len` cleared, so that `10.0.0.7/24`
/// and `10.0.0.0/24` are one entry.
fn masked<const N: usize>(mut bytes: [u8; N], prefix_len: u8) -> [u8; N] {
    let mut left = u32::from(prefix_len);
    for b in bytes.iter_mut() {
        let keep = left.min(8);
        *b &= if keep == 0 { 0 } else { 0xFFu8 << (8 - keep) };
        left -= keep;
    }
    bytes
}

fn check_prefix(addr: IpAddr, prefix_len: u8) -> Result<(), XdpError> {
    let max = match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    };
    if prefix_len > max {
        return Err(XdpError::PrefixLength { addr, prefix_len });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_prefix_lengths() {
        assert_eq!(masked([10, 0, 255, 7], 20), [10, 0, 240, 0]);
        assert_eq!(masked([10, 0, 255, 7], 32), [10, 0, 255, 7]);
        assert_eq!(masked([10, 0, 255, 7], 0), [0; 4]);
        assert_eq!(masked([0xFF; 16], 65)[7..10], [0xFF, 0x80, 0]);
        let v4: IpAddr = [10, 0, 0, 1].into();
        assert!(check_prefix(v4, 32).is_ok());
        assert!(check_prefix(v4, 33).is_err());
        let v6: IpAddr = [0u16; 8].into();
        assert!(check_prefix(v6, 128).is_ok());
        assert!(check_prefix(v6, 129).is_err());
    }
}
