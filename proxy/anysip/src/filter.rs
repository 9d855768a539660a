//! The packet filter in front of the edge (DESIGN §9): the XDP program when
//! it is attached, the same classifier (`anysip-ebpf-common`) in the UDP
//! receive path when it is not; the blocklist (config, admin API, scanners
//! found by User-Agent) and the shed level, pushed to both.

mod blocklist;
mod kernel;
mod limiter;
mod overload;
mod scanner;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use anysip_config::{Config as FileConfig, XdpConfig};
use anysip_ebpf_common::{classify_udp, Config, IpAddrBytes, Verdict};

pub(crate) use blocklist::{Entry, Origin};
pub(crate) use kernel::attach;

use blocklist::Blocklist;
use limiter::{Buckets, UserContext};
use scanner::Patterns;

pub(crate) const VERDICTS: usize = Verdict::COUNT as usize;

/// What the XDP side can do; [`kernel::attach`] gives the real one.
pub(crate) trait KernelPath: Send + std::fmt::Debug {
    /// `driver` or `skb`.
    fn mode(&self) -> &'static str;
    fn set_config(&mut self, cfg: &Config) -> Result<(), String>;
    fn block(&mut self, net: IpAddr, len: u8) -> Result<(), String>;
    fn unblock(&mut self, net: IpAddr, len: u8) -> Result<(), String>;
    /// Packets per verdict, summed over CPUs.
    fn counters(&self) -> Result<[u64; VERDICTS], String>;
}

/// Where packets are classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Path {
    /// The XDP program, attached to `interface` in `mode`.
    Xdp {
        interface: String,
        mode: &'static str,
    },
    /// The UDP receive path, and why not XDP.
    UserSpace { reason: String },
}

/// The filter shared by the receive path, the admin API and the ticker.
///
/// The receive path takes no lock shared by all workers: the classifier's
/// config and the blocklist are snapshots swapped on change (writers, rare,
/// serialise on `writer`), whether XDP is attached is an atomic flag, and
/// the per-source buckets are sharded by source.
#[derive(Debug)]
pub(crate) struct Filter {
    config: ArcSwap<Config>,
    blocklist: ArcSwap<Blocklist>,
    /// Serialises changes to `config` and `blocklist`.
    writer: Mutex<()>,
    buckets: Buckets,
    /// User-space verdicts, indexed like the kernel's counters.
    counters: [AtomicU64; VERDICTS],
    scanners: Patterns,
    block_for: Duration,
    auto_blocked: AtomicU64,
    manual_shed: AtomicU32,
    overload: Mutex<overload::Overload>,
    auto_shed: AtomicU32,
    auto_shed_on: bool,
    /// The UDP listener ports whose socket drops signal overload.
    udp_ports: Vec<u16>,
    kernel: Mutex<Option<Box<dyn KernelPath>>>,
    path: RwLock<Path>,
    /// `path` is `Xdp`: the per-message check of it.
    attached: AtomicBool,
    epoch: Instant,
}

impl Filter {
    /// The filter for `file` (its `xdp:` section, or the defaults), with
    /// the config blocklist loaded; nothing attached yet.
    pub(crate) fn new(file: &FileConfig, extra_addrs: &[IpAddr]) -> Self {
        let x = file.packet_filter();
        let now = Instant::now();
        let mut blocklist = Blocklist::default();
        for c in &x.blocklist {
            if let Ok((net, len)) = anysip_config::parse_cidr(c) {
                blocklist.insert(Entry {
                    net,
                    len,
                    expires: None,
                    origin: Origin::Config,
                });
            }
        }
        Filter {
            config: ArcSwap::from_pointee(classifier_config(file, &x, extra_addrs)),
            blocklist: ArcSwap::from_pointee(blocklist),
            writer: Mutex::new(()),
            buckets: Buckets::new(x.max_sources),
            counters: Default::default(),
            scanners: Patterns::new(&x.auto_block.user_agents),
            block_for: Duration::from_secs(x.auto_block.block_secs),
            auto_blocked: AtomicU64::new(0),
            manual_shed: AtomicU32::new(0),
            overload: Mutex::new(overload::Overload::default()),
            auto_shed: AtomicU32::new(0),
            // The core sheds with 503s of its own (transaction limit), not
            // here.
            auto_shed_on: x.auto_shed && file.role == anysip_config::Role::Edge,
            udp_ports: file.listen.udp.iter().map(|a| a.port()).collect(),
            kernel: Mutex::new(None),
            path: RwLock::new(Path::UserSpace {
                reason: "no xdp.interface configured".into(),
            }),
            attached: AtomicBool::new(false),
            epoch: now,
        }
    }

    /// Hands the attached XDP program over: its config and blocklist are
    /// brought up to date, and user space stops rate limiting (the kernel
    /// does it).
    pub(crate) fn set_kernel(
        &self,
        interface: &str,
        mut k: Box<dyn KernelPath>,
    ) -> Result<(), String> {
        k.set_config(&self.config())?;
        for e in self.read_blocklist().entries() {
            k.block(e.net, e.len)?;
        }
        *self.write_path() = Path::Xdp {
            interface: interface.to_owned(),
            mode: k.mode(),
        };
        *self.kernel.lock().unwrap_or_else(|e| e.into_inner()) = Some(k);
        self.attached.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Detaches the XDP program (at exit); the classifier goes back to
    /// user space.
    pub(crate) fn detach(&self) {
        let k = self.kernel.lock().unwrap_or_else(|e| e.into_inner()).take();
        if k.is_some() {
            drop(k);
            self.set_user_space("detached at exit".into());
            tracing::info!("XDP program detached");
        }
    }

    /// Records why XDP is not used.
    pub(crate) fn set_user_space(&self, reason: String) {
        self.attached.store(false, Ordering::SeqCst);
        *self.write_path() = Path::UserSpace { reason };
    }

    pub(crate) fn path(&self) -> Path {
        self.path.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn write_path(&self) -> std::sync::RwLockWriteGuard<'_, Path> {
        self.path.write().unwrap_or_else(|e| e.into_inner())
    }

    fn config(&self) -> Config {
        **self.config.load()
    }

    fn read_blocklist(&self) -> arc_swap::Guard<Arc<Blocklist>> {
        self.blocklist.load()
    }

    /// Changes the blocklist: a copy, changed, swapped in.
    fn change_blocklist<R>(&self, f: impl FnOnce(&mut Blocklist) -> R) -> R {
        let _w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = Blocklist::clone(&self.blocklist.load());
        let r = f(&mut next);
        self.blocklist.store(Arc::new(next));
        r
    }

    fn kernel_attached(&self) -> bool {
        self.attached.load(Ordering::Relaxed)
    }

    /// Classifies a UDP datagram that reached user space. With XDP attached
    /// only the blocklist and payload checks run again (for packets that
    /// came in on another interface); without, the whole classifier.
    pub(crate) fn check_udp(&self, payload: &[u8], source: SocketAddr) -> Verdict {
        let mut cfg = self.config();
        if self.kernel_attached() {
            cfg.rate_per_sec = 0;
            cfg.shed_level = 0;
        }
        let src = match source.ip() {
            IpAddr::V4(a) => IpAddrBytes::V4(a.octets()),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => IpAddrBytes::V4(v4.octets()),
                None => IpAddrBytes::V6(a.octets()),
            },
        };
        let now = Instant::now();
        let bl = self.read_blocklist();
        let mut ctx = UserContext {
            blocklist: &bl,
            now,
            now_ns: u64::try_from(now.duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX),
            buckets: &self.buckets,
            guard: None,
        };
        let v = classify_udp(&src, payload, true, &cfg, &mut ctx);
        if let Some(c) = self.counters.get(v.counter_index() as usize) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        v
    }

    /// Whether `ip` is blocklisted (stream transports: blocklist only).
    pub(crate) fn blocked(&self, ip: IpAddr) -> bool {
        self.read_blocklist()
            .contains(ip.to_canonical(), Instant::now())
    }

    /// Whether `msg` is a request from a scanner: if so its source is
    /// blocklisted for `xdp.auto_block.block_secs` and the message must be
    /// dropped unanswered.
    pub(crate) fn scanner(&self, msg: &[u8], source: SocketAddr) -> bool {
        if self.scanners.is_empty() {
            return false;
        }
        let Some(pattern) = scanner::user_agent(msg).and_then(|ua| self.scanners.matching(ua))
        else {
            return false;
        };
        let ip = source.ip().to_canonical();
        let len = if ip.is_ipv4() { 32 } else { 128 };
        tracing::warn!(
            source = %ip,
            pattern = %String::from_utf8_lossy(pattern),
            secs = self.block_for.as_secs(),
            "scanner User-Agent: source blocklisted"
        );
        self.auto_blocked.fetch_add(1, Ordering::Relaxed);
        let _ = self.block(ip, len, Some(self.block_for), Origin::Auto);
        true
    }

    /// Adds `net/len` (masked here) for `ttl` (or for good).
    pub(crate) fn block(
        &self,
        net: IpAddr,
        len: u8,
        ttl: Option<Duration>,
        origin: Origin,
    ) -> Result<Entry, String> {
        let net = anysip_config::mask(net.to_canonical(), len);
        let e = Entry {
            net,
            len,
            expires: ttl.map(|t| Instant::now() + t),
            origin,
        };
        if let Some(k) = self
            .kernel
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            k.block(net, len)?;
        }
        self.change_blocklist(|b| b.insert(e));
        Ok(e)
    }

    /// Removes `net/len`; `Ok(false)` when it was not listed.
    pub(crate) fn unblock(&self, net: IpAddr, len: u8) -> Result<bool, String> {
        let net = anysip_config::mask(net.to_canonical(), len);
        let had = self.change_blocklist(|b| b.remove(net, len).is_some());
        if had {
            if let Some(k) = self
                .kernel
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_mut()
            {
                k.unblock(net, len)?;
            }
        }
        Ok(had)
    }

    /// Makes the config's entries of the blocklist those of `file`'s
    /// `xdp.blocklist` (SIGHUP), here and in the kernel; the admin API's
    /// and the scanners' entries stay. Returns how many were added and
    /// removed.
    pub(crate) fn reload_config_blocklist(
        &self,
        file: &FileConfig,
    ) -> Result<(usize, usize), String> {
        let mut wanted = Vec::new();
        for c in file.xdp.iter().flat_map(|x| &x.blocklist) {
            wanted.push(anysip_config::parse_cidr(c).map_err(|e| format!("xdp.blocklist: {e}"))?);
        }
        let (add, remove) = self.read_blocklist().config_changes(&wanted);
        let counts = (add.len(), remove.len());
        for e in add {
            self.block(e.net, e.len, None, Origin::Config)?;
        }
        for (net, len) in remove {
            self.unblock(net, len)?;
        }
        Ok(counts)
    }

    /// How many entries the blocklist has.
    pub(crate) fn blocklist_len(&self) -> usize {
        self.read_blocklist().len()
    }

    /// The blocklist, most specific first.
    pub(crate) fn entries(&self) -> Vec<Entry> {
        self.read_blocklist().entries()
    }

    /// Sets the shed level an operator asked for (0–2); the effective
    /// level is the higher of it and the automatic one.
    pub(crate) fn set_shed(&self, level: u32) -> Result<(), String> {
        let level = level.min(anysip_ebpf_common::config::SHED_NEW_REQUESTS);
        self.manual_shed.store(level, Ordering::Relaxed);
        self.apply_shed()
    }

    /// Pushes max(operator level, automatic level) to the classifier.
    fn apply_shed(&self) -> Result<(), String> {
        let level = self
            .manual_shed
            .load(Ordering::Relaxed)
            .max(self.auto_shed.load(Ordering::Relaxed));
        if self.shed() == level {
            return Ok(());
        }
        tracing::warn!(level, "shed level changed");
        self.update_config(|c| c.shed_level = level)
    }

    pub(crate) fn shed(&self) -> u32 {
        self.config().shed_level
    }

    fn update_config(&self, f: impl FnOnce(&mut Config)) -> Result<(), String> {
        let cfg = {
            let _w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
            let mut c = self.config();
            f(&mut c);
            self.config.store(Arc::new(c));
            c
        };
        match self
            .kernel
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            Some(k) => k.set_config(&cfg),
            None => Ok(()),
        }
    }

    /// Once a second: drops expired blocklist entries (here and in the
    /// kernel) and follows the overload signal with the shed level.
    pub(crate) fn tick(&self) {
        if self.auto_shed_on {
            self.follow_overload();
        }
        self.drop_expired();
    }

    /// Sets the automatic shed level from the kernel's UDP buffer drops.
    fn follow_overload(&self) {
        let auto = self
            .overload
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .observe(overload::socket_drops(&self.udp_ports));
        self.auto_shed.store(auto, Ordering::Relaxed);
        if let Err(e) = self.apply_shed() {
            tracing::warn!(error = %e, "XDP shed level update failed");
        }
    }

    fn drop_expired(&self) {
        let now = Instant::now();
        if !self.read_blocklist().has_expired(now) {
            return;
        }
        let gone = self.change_blocklist(|b| b.expire(now));
        if gone.is_empty() {
            return;
        }
        let mut k = self.kernel.lock().unwrap_or_else(|e| e.into_inner());
        for e in gone {
            tracing::info!(net = %e.net, len = e.len, "blocklist entry expired");
            if let Some(k) = k.as_mut() {
                if let Err(err) = k.unblock(e.net, e.len) {
                    tracing::warn!(error = %err, "XDP blocklist removal failed");
                }
            }
        }
    }

    /// User-space verdict counts.
    pub(crate) fn user_counters(&self) -> [u64; VERDICTS] {
        std::array::from_fn(|i| self.counters[i].load(Ordering::Relaxed))
    }

    /// Kernel verdict counts, when attached.
    pub(crate) fn kernel_counters(&self) -> Option<Result<[u64; VERDICTS], String>> {
        self.kernel
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|k| k.counters())
    }

    pub(crate) fn auto_blocked(&self) -> u64 {
        self.auto_blocked.load(Ordering::Relaxed)
    }

    pub(crate) fn tracked_sources(&self) -> usize {
        self.buckets.len()
    }
}

/// The classifier's configuration from the file: ports and addresses of
/// the listeners (unless `xdp:` names them), rate, burst, shed factor.
fn classifier_config(file: &FileConfig, x: &XdpConfig, extra_addrs: &[IpAddr]) -> Config {
    let mut c = Config::EMPTY;
    let mut udp: Vec<u16> = if x.ports.is_empty() {
        file.listen.udp.iter().map(|a| a.port()).collect()
    } else {
        x.ports.clone()
    };
    udp.dedup();
    let mut tcp: Vec<u16> = if x.tcp_ports.is_empty() {
        file.listen
            .tcp
            .iter()
            .chain(&file.listen.tls)
            .chain(&file.listen.ws)
            .chain(&file.listen.wss)
            .map(|a| a.port())
            .collect()
    } else {
        x.tcp_ports.clone()
    };
    tcp.sort_unstable();
    tcp.dedup();
    for (slot, p) in c.udp_ports.iter_mut().zip(&udp) {
        *slot = *p;
    }
    for (slot, p) in c.tcp_ports.iter_mut().zip(&tcp) {
        *slot = *p;
    }
    let addrs: Vec<IpAddr> = if x.addresses.is_empty() {
        let listeners = file
            .listen
            .udp
            .iter()
            .chain(&file.listen.tcp)
            .chain(&file.listen.tls)
            .chain(&file.listen.ws)
            .chain(&file.listen.wss);
        listeners
            .map(|a| a.ip())
            .chain(extra_addrs.iter().copied())
            .collect()
    } else {
        x.addresses.clone()
    };
    for a in addrs {
        match a {
            IpAddr::V4(v4) if v4.is_unspecified() => {
                c.flags |= anysip_ebpf_common::config::FLAG_ANY_V4
            }
            IpAddr::V6(v6) if v6.is_unspecified() => {
                c.flags |= anysip_ebpf_common::config::FLAG_ANY_V6
            }
            IpAddr::V4(v4) => {
                let n = c.v4_count as usize;
                if n < c.v4_addrs.len() && !c.v4_addrs[..n].contains(&v4.octets()) {
                    c.v4_addrs[n] = v4.octets();
                    c.v4_count += 1;
                }
            }
            IpAddr::V6(v6) => {
                let n = c.v6_count as usize;
                if n < c.v6_addrs.len() && !c.v6_addrs[..n].contains(&v6.octets()) {
                    c.v6_addrs[n] = v6.octets();
                    c.v6_count += 1;
                }
            }
        }
    }
    c.rate_per_sec = x.rate;
    c.burst = x.effective_burst();
    c.shed_factor = x.shed_factor;
    c
}
