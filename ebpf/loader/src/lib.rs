//! User space of the anysip XDP fast path (DESIGN.md §9): loads the XDP
//! program built from `ebpf/xdp`, attaches it to an interface, writes its
//! configuration and blocklists, and reads its per-verdict counters.
//!
//! The program runs the same classifier as user space
//! (`anysip_ebpf_common::classify_packet`); its maps are described in
//! [`mod@maps`]. The object is compiled by this crate's build script when the
//! eBPF toolchain (bpf-linker, rust-src) is present; otherwise
//! [`Xdp::available`] is false and loading returns [`XdpError::NotBuilt`],
//! so the proxy still builds and runs, with XDP off.
//!
//! Module map:
//! - [`mod@object`]: the embedded object and loading it (memlock, verifier log).
//! - [`mod@maps`]: typed handles on the program's maps.
//! - [`mod@attach`]: [`Xdp`], the attached program (detached on drop).
//! - [`mod@test_run`]: [`TestProgram`], loaded but not attached, run on
//!   frames with `BPF_PROG_TEST_RUN`.
//!
//! Everything here needs root (or CAP_BPF and CAP_NET_ADMIN) at run time.

pub mod attach;
pub mod error;
pub mod maps;
pub mod object;
pub mod test_run;

pub use anysip_ebpf_common::{Config, Verdict};
pub use attach::{AttachMode, Xdp};
pub use error::XdpError;
pub use test_run::{ProgramStats, TestProgram};

/// Per-verdict packet counts, indexed by [`Verdict::counter_index`].
pub type Counters = [u64; Verdict::COUNT as usize];

#[cfg(test)]
mod tests {
    use super::*;

    fn send_and_sync<T: Send + Sync>() {}

    #[test]
    fn handles_move_between_threads() {
        send_and_sync::<Xdp>();
        send_and_sync::<TestProgram>();
        send_and_sync::<XdpError>();
    }

    #[test]
    fn without_the_program_loading_says_why() {
        if Xdp::available() {
            assert_eq!(Xdp::build_status(), "built");
            return;
        }
        let err = TestProgram::load(&Config::EMPTY).err();
        assert!(matches!(err, Some(XdpError::NotBuilt(_))), "{err:?}");
        let err = Xdp::attach("lo", AttachMode::Auto, &Config::EMPTY).err();
        assert!(matches!(err, Some(XdpError::NotBuilt(_))), "{err:?}");
    }
}
