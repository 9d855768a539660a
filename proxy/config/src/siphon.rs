//! What SIPhon's keys become: the packet filter they configure, the
//! warnings about what anysip reads but does not serve, the advertised
//! address of `listen` entries, relative script paths.

use std::collections::BTreeSet;
use std::path::Path;

use crate::error::Invalid;
use crate::notice::Notice;
use crate::schema::{Config, RegistrarBackend, XdpConfig};

impl Config {
    /// The packet filter's settings: `xdp:` (or its defaults), with what
    /// SIPhon's `security:` says where it means the same — `rate_limit`
    /// becomes the per-source limit of new requests when `xdp.rate` is not
    /// set, `scanner_block.user_agents` joins `xdp.auto_block.user_agents`.
    pub fn packet_filter(&self) -> XdpConfig {
        let mut x = self.xdp.clone().unwrap_or_default();
        let Some(security) = &self.security else {
            return x;
        };
        if let Some(limit) = &security.rate_limit {
            if x.rate == 0 && limit.window_secs > 0 && limit.max_requests > 0 {
                x.rate = limit.max_requests.div_ceil(limit.window_secs);
                x.burst = limit.max_requests.max(x.rate);
            }
        }
        if let Some(scanners) = &security.scanner_block {
            for ua in &scanners.user_agents {
                if !x.auto_block.user_agents.iter().any(|p| p == ua) {
                    x.auto_block.user_agents.push(ua.clone());
                }
            }
        }
        x
    }

    /// Checks SIPhon's keys: what anysip refuses to half-serve, and the
    /// advertised address of `listen` entries.
    pub(crate) fn settle_siphon(&mut self) -> Result<(), Invalid> {
        let advertised: BTreeSet<&String> = self
            .listen
            .options
            .iter()
            .filter_map(|o| o.advertise.as_ref())
            .collect();
        if advertised.len() > 1 {
            return Err(Invalid::new(
                "listen",
                "entries advertise different hosts; anysip advertises one address per node \
                 (give them one advertise, or set advertised_address)",
            ));
        }
        if let Some(adv) = advertised.into_iter().next() {
            match &self.advertised_address {
                None => self.advertised_address = Some(adv.clone()),
                Some(top) if top == adv => {}
                Some(top) => {
                    return Err(Invalid::new(
                        "listen",
                        format!("an entry advertises {adv} but advertised_address is {top}: anysip advertises one address per node"),
                    ))
                }
            }
        }
        // SIPhon's `listen.mtu` is `limits.udp_mtu`.
        if let Some(mtu) = self.listen.mtu {
            let default = crate::schema::Limits::default().udp_mtu;
            if self.limits.udp_mtu != default && self.limits.udp_mtu != usize::from(mtu) {
                return Err(Invalid::new(
                    "listen.mtu",
                    "set once: listen.mtu (SIPhon's spelling) or limits.udp_mtu",
                ));
            }
            self.limits.udp_mtu = usize::from(mtu);
        }
        if let Some(r) = &self.registrar {
            if matches!(
                r.backend,
                RegistrarBackend::Postgres | RegistrarBackend::Python
            ) {
                return Err(Invalid::new(
                    "registrar.backend",
                    "not served by anysip: use memory or redis",
                ));
            }
            if r.enforce_auth_aor_match {
                return Err(Invalid::new(
                    "registrar.enforce_auth_aor_match",
                    "not served by anysip: compare the To user with the digest user in the script",
                ));
            }
        }
        if let Some(a) = &self.auth {
            if a.backend != crate::schema::AuthBackend::Static {
                return Err(Invalid::new(
                    "auth.backend",
                    "not served by anysip: only static (auth.users, auth.users_file, auth.redis_users)",
                ));
            }
        }
        if let Some(s) = &self.script {
            if let (Some(size), Some(max)) = (s.sync_pool_size, s.sync_pool_max) {
                if max < size {
                    return Err(Invalid::new(
                        "script.sync_pool_max",
                        format!("{max} is below script.sync_pool_size ({size})"),
                    ));
                }
            }
            for (key, value) in [
                ("script.sync_pool_size", s.sync_pool_size),
                ("script.sync_pool_max", s.sync_pool_max),
            ] {
                if value.is_some_and(|v| v == 0 || v > 1024) {
                    return Err(Invalid::new(key, "must be 1..=1024"));
                }
            }
            if s.executor_queue_capacity == Some(0) {
                return Err(Invalid::new(
                    "script.executor_queue_capacity",
                    "must be at least 1",
                ));
            }
        }
        if let Some(sec) = &self.security {
            if let Some(r) = &sec.rate_limit {
                if r.window_secs == 0 || r.max_requests == 0 {
                    return Err(Invalid::new(
                        "security.rate_limit",
                        "window_secs and max_requests must be at least 1",
                    ));
                }
            }
        }
        for (key, value) in [
            ("server.server_header", &mut self.server.server_header),
            (
                "server.user_agent_header",
                &mut self.server.user_agent_header,
            ),
        ] {
            // Empty (an unset `${VAR}`) is the same as absent.
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                *value = None;
            }
            if value
                .as_deref()
                .is_some_and(|v| v.bytes().any(|b| b.is_ascii_control()))
            {
                return Err(Invalid::new(key, "must be a header value on one line"));
            }
        }
        if let Some(tls) = &self.tls {
            if tls.verify_client == Some(true) && tls.client_ca.is_none() {
                return Err(Invalid::new(
                    "tls.verify_client",
                    "needs tls.client_ca (the CAs client certificates must chain to)",
                ));
            }
            let mut seen = BTreeSet::new();
            for (i, extra) in tls.certificates.iter().enumerate() {
                if extra.server_names.is_empty() {
                    return Err(Invalid::new(
                        format!("tls.certificates[{i}].server_names"),
                        "must list at least one name",
                    ));
                }
                for (j, name) in extra.server_names.iter().enumerate() {
                    let at = format!("tls.certificates[{i}].server_names[{j}]");
                    let lower = name.trim_end_matches('.').to_ascii_lowercase();
                    let bare = lower.strip_prefix("*.").unwrap_or(&lower);
                    if bare.is_empty()
                        || bare.contains('*')
                        || crate::validate::parse_host_port(bare).is_err()
                    {
                        return Err(Invalid::new(
                            at,
                            format!("{name:?}: a DNS name, or *.name for one more leading label"),
                        ));
                    }
                    if !seen.insert(lower) {
                        return Err(Invalid::new(at, format!("{name:?} is listed twice")));
                    }
                }
            }
            if tls.client_certificate.is_some() != tls.client_private_key.is_some() {
                return Err(Invalid::new(
                    "tls.client_certificate",
                    "set both client_certificate and client_private_key, or neither",
                ));
            }
        }
        if let Some(auth) = &self.admin.auth {
            if auth
                .token
                .as_deref()
                .is_some_and(|t| t.contains(['\r', '\n']))
            {
                return Err(Invalid::new("admin.auth.token", "must be one line"));
            }
        }
        if self.log.is_some() && self.telemetry.log != Default::default() {
            return Err(Invalid::new(
                "log",
                "set once: log (SIPhon's spelling) or telemetry.log, not both",
            ));
        }
        if !self.metrics.prometheus.path.starts_with('/') {
            return Err(Invalid::new("metrics.prometheus.path", "must start with /"));
        }
        Ok(())
    }

    /// Warnings about SIPhon keys and sections read but not served.
    pub(crate) fn siphon_notices(&self) -> Vec<Notice> {
        let mut out: Vec<Notice> = self
            .unserved_sections()
            .into_iter()
            .map(|s| Notice::new(s, format!("not served by anysip: {s} (section ignored)")))
            .collect();
        let mut not_served = |set: bool, key: &str, why: &str| {
            if set {
                out.push(Notice::not_served(key, why));
            }
        };
        not_served(
            !self.listen.sctp.is_empty(),
            "listen.sctp",
            "no SCTP listener is opened",
        );
        if let Some(s) = &self.script {
            not_served(
                s.async_pool_size.is_some(),
                "script.async_pool_size",
                "a coroutine handler runs on the pool thread that calls it",
            );
            not_served(
                s.handler_stall_abort_secs
                    .is_some_and(|v| v != 0 && v != 30),
                "script.handler_stall_abort_secs",
                "a handler call unanswered after 10 s gets 500; the process is not aborted",
            );
        }
        if let Some(a) = &self.auth {
            not_served(
                a.aka_credentials.is_some(),
                "auth.aka_credentials",
                "IMS AKA",
            );
            not_served(a.diameter.is_some(), "auth.diameter", "Diameter Cx");
            not_served(a.http.is_some(), "auth.http", "HTTP credential lookup");
        }
        if let Some(r) = &self.registrar {
            not_served(
                r.liveness.as_ref().is_some_and(|l| l.enabled),
                "registrar.liveness",
                "bindings end when they expire",
            );
            not_served(
                r.postgres.is_some(),
                "registrar.postgres",
                "registrations live in memory or Redis",
            );
            not_served(
                r.redis.as_ref().is_some_and(|r| r.ttl_slack_secs.is_some()),
                "registrar.redis.ttl_slack_secs",
                "Redis keys expire with their last binding",
            );
        }
        if let Some(sec) = &self.security {
            not_served(
                !sec.trusted_cidrs.is_empty(),
                "security.trusted_cidrs",
                "every source is rate limited alike",
            );
            not_served(
                sec.rate_limit
                    .as_ref()
                    .is_some_and(|r| r.ban_duration_secs.is_some()),
                "security.rate_limit.ban_duration_secs",
                "requests past the limit are dropped, the source is not banned",
            );
            not_served(
                sec.failed_auth_ban.is_some(),
                "security.failed_auth_ban",
                "failed authentications do not ban",
            );
            not_served(sec.apiban.is_some(), "security.apiban", "no APIBAN feed");
            not_served(
                sec.firewall.is_some(),
                "security.firewall",
                "no nftables sets; the edge's XDP program drops blocklisted sources",
            );
        }
        if let Some(nat) = &self.nat {
            not_served(
                nat.fix_contact,
                "nat.fix_contact",
                "scripts call request.fix_nated_contact() where needed",
            );
            not_served(
                nat.keepalive.as_ref().is_some_and(|k| k.enabled),
                "nat.keepalive",
                "no OPTIONS pings to registered user agents",
            );
            not_served(
                nat.crlf_keepalive.as_ref().is_some_and(|k| k.enabled),
                "nat.crlf_keepalive",
                "user agents' CRLF pings are answered; the node sends none and closes connections idle for limits.tcp_idle_secs",
            );
        }
        not_served(
            self.admin.ui.as_ref().is_some_and(|u| u.enabled),
            "admin.ui",
            "no dashboard",
        );
        out
    }

    /// Takes a relative `script.path` (and `script.include_paths`) from
    /// the directory of the configuration file when it exists there, as
    /// SIPhon does; otherwise leaves it to the working directory.
    pub(crate) fn anchor_script_paths(&mut self, config_file: &Path) {
        let Some(dir) = config_file.parent().filter(|d| !d.as_os_str().is_empty()) else {
            return;
        };
        let Some(script) = &mut self.script else {
            return;
        };
        for path in std::iter::once(&mut script.path).chain(script.include_paths.iter_mut()) {
            if path.is_relative() {
                let candidate = dir.join(&*path);
                if candidate.exists() {
                    *path = candidate;
                }
            }
        }
    }
}
