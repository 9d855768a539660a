//! The embedded XDP object and loading it into the kernel.

use aya::programs::Xdp as XdpProgram;
use aya::{Ebpf, EbpfLoader};

use crate::maps::Maps;
use crate::{Config, XdpError};

/// The program's name in the object (the `#[xdp]` function).
pub const PROGRAM_NAME: &str = "anysip_xdp";

/// Why the object is or is not built in, as the build script said.
pub const BUILD_STATUS: &str = env!("ANYSIP_XDP_STATUS");

#[cfg(anysip_xdp_built)]
static OBJECT: Option<&[u8]> = Some(aya::include_bytes_aligned!(concat!(
    env!("OUT_DIR"),
    "/anysip-xdp.o"
)));

#[cfg(not(anysip_xdp_built))]
static OBJECT: Option<&[u8]> = None;

/// The compiled XDP object (an eBPF ELF), when this build has it.
pub fn bytes() -> Option<&'static [u8]> {
    OBJECT
}

/// The object loaded into the kernel: the program verified, the maps
/// created, the configuration written; not attached.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) ebpf: Ebpf,
    pub(crate) maps: Maps,
}

impl Loaded {
    /// Loads the object and writes `config`.
    pub(crate) fn load(config: &Config) -> Result<Loaded, XdpError> {
        let bytes = bytes().ok_or(XdpError::NotBuilt(BUILD_STATUS))?;
        raise_memlock();
        let mut ebpf = EbpfLoader::new()
            .load(bytes)
            .map_err(|e| XdpError::Object(Box::new(e)))?;
        let mut maps = Maps::take(&mut ebpf)?;
        maps.set_config(config)?;
        let mut loaded = Loaded { ebpf, maps };
        loaded.program()?.load().map_err(XdpError::program)?;
        Ok(loaded)
    }

    /// The XDP program.
    pub(crate) fn program(&mut self) -> Result<&mut XdpProgram, XdpError> {
        self.ebpf
            .program_mut(PROGRAM_NAME)
            .ok_or(XdpError::Missing("program anysip_xdp"))?
            .try_into()
            .map_err(|e| XdpError::Program(Box::new(e)))
    }
}

/// Lifts RLIMIT_MEMLOCK, which kernels before 5.11 charge BPF maps against
/// (newer kernels use memory cgroups and ignore it). Best effort: without
/// the privilege to raise it, loading says what failed.
fn raise_memlock() {
    use nix::sys::resource::{setrlimit, Resource, RLIM_INFINITY};
    if setrlimit(Resource::RLIMIT_MEMLOCK, RLIM_INFINITY, RLIM_INFINITY).is_err() {
        if let Ok((_, hard)) = nix::sys::resource::getrlimit(Resource::RLIMIT_MEMLOCK) {
            let _ = setrlimit(Resource::RLIMIT_MEMLOCK, hard, hard);
        }
    }
}
