//! Attaching the XDP program (crate `anysip-xdp`) and driving it through
//! [`KernelPath`].

use std::net::IpAddr;

use anysip_config::{XdpConfig, XdpMode};
use anysip_ebpf_common::{Config, Verdict};
use anysip_xdp::{AttachMode, Xdp};

use super::{Filter, KernelPath};

impl KernelPath for Xdp {
    fn mode(&self) -> &'static str {
        match Xdp::mode(self) {
            AttachMode::Driver => "driver",
            AttachMode::Skb => "skb",
            AttachMode::Auto => "auto",
        }
    }

    fn set_config(&mut self, cfg: &Config) -> Result<(), String> {
        Xdp::set_config(self, cfg).map_err(|e| e.to_string())
    }

    fn block(&mut self, net: IpAddr, len: u8) -> Result<(), String> {
        Xdp::block(self, net, len).map_err(|e| e.to_string())
    }

    fn unblock(&mut self, net: IpAddr, len: u8) -> Result<(), String> {
        Xdp::unblock(self, net, len).map_err(|e| e.to_string())
    }

    fn counters(&self) -> Result<[u64; Verdict::COUNT as usize], String> {
        Xdp::counters(self).map_err(|e| e.to_string())
    }
}

/// Attaches the program as `xdp:` says, or records why the classifier
/// stays in user space. Never fails the start: XDP is an accelerator.
pub(crate) fn attach(filter: &Filter, x: Option<&XdpConfig>) {
    let Some(x) = x else {
        filter.set_user_space("no xdp section".into());
        return;
    };
    let Some(interface) = x.interface.as_deref() else {
        filter.set_user_space("no xdp.interface configured".into());
        return;
    };
    let mode = match x.mode {
        XdpMode::Off => {
            filter.set_user_space("xdp.mode is off".into());
            return;
        }
        XdpMode::Auto => AttachMode::Auto,
        XdpMode::Driver => AttachMode::Driver,
        XdpMode::Skb => AttachMode::Skb,
    };
    if !Xdp::available() {
        filter.set_user_space(format!(
            "this build has no XDP program: {}",
            Xdp::build_status()
        ));
        return;
    }
    let attached = Xdp::attach(interface, mode, &filter.config())
        .map_err(|e| e.to_string())
        .and_then(|k| filter.set_kernel(interface, Box::new(k)));
    if let Err(e) = attached {
        filter.set_user_space(format!("XDP attach to {interface} failed: {e}"));
    }
}
