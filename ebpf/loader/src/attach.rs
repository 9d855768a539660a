//! [`Xdp`]: the program attached to an interface, detached on drop.

use std::net::IpAddr;

use aya::programs::xdp::XdpLink;
use aya::programs::XdpMode;

use crate::object::{self, Loaded};
use crate::{Config, Counters, XdpError};

/// How to attach.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AttachMode {
    /// Driver (native) mode, falling back to generic (skb) mode when the
    /// driver refuses.
    Auto,
    /// Native XDP in the driver only.
    Driver,
    /// Generic XDP in the kernel's network stack.
    Skb,
}

/// The XDP program attached to one interface. Dropping it detaches the
/// program and frees its maps.
#[derive(Debug)]
pub struct Xdp {
    // Field order: the link is dropped (detached) before the object.
    link: Option<XdpLink>,
    loaded: Loaded,
    interface: String,
    mode: AttachMode,
}

impl Xdp {
    /// True when this binary carries the XDP program (the eBPF toolchain was
    /// present at build time).
    pub fn available() -> bool {
        object::bytes().is_some()
    }

    /// Why the program is or is not built in: `"built"` or the build
    /// script's reason (say it at start when XDP is off).
    pub fn build_status() -> &'static str {
        object::BUILD_STATUS
    }

    /// Loads the program with `config` and attaches it to `interface`.
    ///
    /// Needs root or CAP_BPF + CAP_NET_ADMIN. A verifier rejection comes
    /// back as [`XdpError::Verifier`] with the log.
    pub fn attach(interface: &str, mode: AttachMode, config: &Config) -> Result<Xdp, XdpError> {
        let mut loaded = Loaded::load(config)?;
        let tries: &[(AttachMode, XdpMode)] = match mode {
            AttachMode::Auto => &[
                (AttachMode::Driver, XdpMode::Driver),
                (AttachMode::Skb, XdpMode::Skb),
            ],
            AttachMode::Driver => &[(AttachMode::Driver, XdpMode::Driver)],
            AttachMode::Skb => &[(AttachMode::Skb, XdpMode::Skb)],
        };
        let mut last = None;
        for &(got, flags) in tries {
            let program = loaded.program()?;
            match program.attach(interface, flags) {
                Ok(id) => {
                    let link = program.take_link(id).map_err(XdpError::program)?;
                    return Ok(Xdp {
                        link: Some(link),
                        loaded,
                        interface: interface.to_string(),
                        mode: got,
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(match last {
            Some(e) => XdpError::Attach {
                interface: interface.to_string(),
                source: Box::new(e),
            },
            None => XdpError::Missing("attach mode"),
        })
    }

    /// The mode the program is attached in: [`AttachMode::Driver`] or
    /// [`AttachMode::Skb`].
    pub fn mode(&self) -> AttachMode {
        self.mode
    }

    /// The interface the program is attached to.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// Replaces the configuration (rate, burst, shed level, ports,
    /// addresses); the next packet sees it.
    pub fn set_config(&mut self, config: &Config) -> Result<(), XdpError> {
        self.loaded.maps.set_config(config)
    }

    /// Drops every packet from `addr/prefix_len` (to a SIP port and address).
    pub fn block(&mut self, addr: IpAddr, prefix_len: u8) -> Result<(), XdpError> {
        self.loaded.maps.block(addr, prefix_len)
    }

    /// Removes `addr/prefix_len` from the blocklist (absent is fine).
    pub fn unblock(&mut self, addr: IpAddr, prefix_len: u8) -> Result<(), XdpError> {
        self.loaded.maps.unblock(addr, prefix_len)
    }

    /// Packets per verdict since attach, summed over CPUs, indexed by
    /// `Verdict::counter_index()`.
    pub fn counters(&self) -> Result<Counters, XdpError> {
        self.loaded.maps.counters()
    }

    /// Detaches now, reporting a failure that dropping would hide.
    pub fn detach(mut self) -> Result<(), XdpError> {
        match self.link.take() {
            Some(link) => {
                use aya::programs::Link as _;
                link.detach().map_err(XdpError::program)
            }
            None => Ok(()),
        }
    }
}
