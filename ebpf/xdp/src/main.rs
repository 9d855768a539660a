//! The anysip XDP program: runs [`anysip_ebpf_common::classify_packet`] on
//! every frame, counts the verdict in a per-CPU array and drops what the
//! classifier says to drop (DESIGN.md §9).
//!
//! Maps (names are the loader's contract, see `ebpf/loader/src/maps.rs`):
//! - `ANYSIP_CONFIG`: `Array<Config>`, one element, written by user space.
//! - `ANYSIP_BLOCK_V4` / `ANYSIP_BLOCK_V6`: LPM tries of blocked prefixes.
//! - `ANYSIP_BUCKETS`: LRU hash of per-source token buckets.
//! - `ANYSIP_COUNTERS`: per-CPU `u64` counters indexed by
//!   `Verdict::counter_index()`.
#![no_std]
#![no_main]
// Inline asm on BPF (see `Frame::byte`); the build sets RUSTC_BOOTSTRAP=1.
#![feature(asm_experimental_arch)]

use anysip_ebpf_common::bytes::MAX_OFFSET;
use anysip_ebpf_common::{
    classify_packet, Config, Context, PacketBytes, SourceKey, TokenBucket, Verdict,
};
use aya_ebpf::bindings::xdp_action;
use aya_ebpf::helpers::bpf_ktime_get_ns;
use aya_ebpf::macros::{map, xdp};
use aya_ebpf::maps::lpm_trie::Key;
use aya_ebpf::maps::{Array, LpmTrie, LruHashMap, PerCpuArray};
use aya_ebpf::programs::XdpContext;

/// Blocked prefixes per family, at most.
const MAX_BLOCKED: u32 = 65_536;
/// Sources with a token bucket, at most (least recently used evicted).
const MAX_SOURCES: u32 = 262_144;

#[map(name = "ANYSIP_CONFIG")]
static CONFIG: Array<Config> = Array::with_max_entries(1, 0);

#[map(name = "ANYSIP_BLOCK_V4")]
static BLOCK_V4: LpmTrie<[u8; 4], u8> = LpmTrie::with_max_entries(MAX_BLOCKED, 0);

#[map(name = "ANYSIP_BLOCK_V6")]
static BLOCK_V6: LpmTrie<[u8; 16], u8> = LpmTrie::with_max_entries(MAX_BLOCKED, 0);

#[map(name = "ANYSIP_BUCKETS")]
static BUCKETS: LruHashMap<SourceKey, TokenBucket> = LruHashMap::with_max_entries(MAX_SOURCES, 0);

#[map(name = "ANYSIP_COUNTERS")]
static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(Verdict::COUNT, 0);

/// The packet between `data` and `data_end`; every load is preceded by a
/// pointer comparison against `data_end`, which is what the verifier checks.
struct Frame {
    data: usize,
    data_end: usize,
}

impl PacketBytes for Frame {
    #[inline(always)]
    fn len(&self) -> usize {
        self.data_end - self.data
    }

    /// `off + t - t` with `t` the packet length, in asm so that LLVM keeps
    /// it: the verifier cannot know the result, so every path that gets
    /// here continues in the same state, `0..=MAX_OFFSET`.
    #[inline(always)]
    fn opaque(&self, off: usize) -> usize {
        let t = self.data_end - self.data;
        let mut y = off;
        // SAFETY: arithmetic on two registers, nothing else.
        unsafe {
            core::arch::asm!(
                "{0} += {1}",
                "{0} -= {1}",
                inout(reg) y,
                in(reg) t,
                options(pure, nomem, nostack)
            )
        };
        y & MAX_OFFSET
    }

    #[inline(always)]
    fn byte(&self, off: usize) -> Option<u8> {
        if off >= MAX_OFFSET {
            return None;
        }
        let p = self.data + off;
        // `p + 1 <= data_end`, written so that the verifier sees it: LLVM
        // turns `p + 1 > end` into `p >= end`, and the verifier learns no
        // range from a strict `<` on a pointer with a variable offset. The
        // empty asm hides the `+ 1` from LLVM.
        let mut q = p;
        // SAFETY: adds 1 to a register, nothing else.
        unsafe { core::arch::asm!("{0} += 1", inout(reg) q, options(pure, nomem, nostack)) };
        if q > self.data_end {
            return None;
        }
        // SAFETY: `p` is inside the packet: `data <= p < data_end`.
        Some(unsafe { *(p as *const u8) })
    }
}

/// Map lookups and the clock for the classifier.
struct Maps;

impl Context for Maps {
    #[inline(always)]
    fn blocked_v4(&self, addr: [u8; 4]) -> bool {
        BLOCK_V4.get(Key::new(32, addr)).is_some()
    }

    #[inline(always)]
    fn blocked_v6(&self, addr: [u8; 16]) -> bool {
        BLOCK_V6.get(Key::new(128, addr)).is_some()
    }

    #[inline(always)]
    fn now_ns(&self) -> u64 {
        // SAFETY: a helper without arguments.
        unsafe { bpf_ktime_get_ns() }
    }

    /// The bucket is updated in place without a lock: two CPUs taking from
    /// one source's bucket at the same instant may both succeed, so the
    /// limit is approximate by a token per racing CPU, which a flood
    /// limiter can live with.
    #[inline(always)]
    fn bucket(&mut self, key: &SourceKey, fresh: TokenBucket) -> Option<&mut TokenBucket> {
        if let Some(p) = BUCKETS.get_ptr_mut(key) {
            // SAFETY: a map value pointer, valid for this program run.
            return unsafe { p.as_mut() };
        }
        // BPF_NOEXIST: a racing CPU may have inserted it; then use theirs.
        let _ = BUCKETS.insert(key, fresh, 1);
        // SAFETY: as above.
        BUCKETS.get_ptr_mut(key).and_then(|p| unsafe { p.as_mut() })
    }
}

/// The program. Without a configuration entry (never written) every packet
/// passes. User space replaces the configuration with one map update; a
/// packet classified during that update may see a mix of old and new
/// fields.
#[xdp]
pub fn anysip_xdp(ctx: XdpContext) -> u32 {
    let Some(cfg) = CONFIG.get(0) else {
        return xdp_action::XDP_PASS;
    };
    let frame = Frame {
        data: ctx.data(),
        data_end: ctx.data_end(),
    };
    let verdict = classify_packet(&frame, cfg, &mut Maps);
    if let Some(c) = COUNTERS.get_ptr_mut(verdict.counter_index()) {
        // SAFETY: a per-CPU map value pointer, only this CPU writes it.
        unsafe { *c += 1 };
    }
    if verdict.is_drop() {
        xdp_action::XDP_DROP
    } else {
        xdp_action::XDP_PASS
    }
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}
