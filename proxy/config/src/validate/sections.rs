//! Listeners, TLS, identity, limits and telemetry.

use std::collections::HashMap;
use std::net::SocketAddr;

use super::host::{parse_host, parse_host_port};
use super::{fail, range, Check};
use crate::schema::{Config, Limits, WebSocketConfig};

/// SIP listeners exist, have ports and do not collide with each other or
/// with the admin and metrics listeners.
pub(super) fn listeners(config: &Config) -> Check {
    let listen = &config.listen;
    if listen.is_empty() {
        return fail(
            "listen",
            "no SIP listener: give at least one address in listen.udp, listen.tcp, listen.tls, listen.ws or listen.wss",
        );
    }
    let mut datagram: HashMap<SocketAddr, String> = HashMap::new();
    let mut stream: HashMap<SocketAddr, String> = HashMap::new();
    let sip = [
        ("listen.udp", &listen.udp, true),
        ("listen.tcp", &listen.tcp, false),
        ("listen.tls", &listen.tls, false),
        ("listen.ws", &listen.ws, false),
        ("listen.wss", &listen.wss, false),
    ];
    let mut http = vec![("admin.listen".to_owned(), config.admin.listen)];
    if let Some(addr) = config.metrics.prometheus.listen {
        http.push(("metrics.prometheus.listen".to_owned(), addr));
    }
    let named = sip.iter().flat_map(|(key, addrs, udp)| {
        addrs
            .iter()
            .enumerate()
            .map(move |(i, a)| (format!("{key}[{i}]"), *a, *udp))
    });
    for (key, addr, udp) in named.chain(http.into_iter().map(|(k, a)| (k, a, false))) {
        if addr.port() == 0 {
            return fail(key, "port 0 is not allowed: give the port to listen on");
        }
        let seen = if udp { &mut datagram } else { &mut stream };
        if let Some(first) = seen.get(&addr) {
            return fail(key, format!("{addr} is already used by {first}"));
        }
        seen.insert(addr, key);
    }
    Ok(())
}

/// TLS and WSS listeners need a certificate and a key.
pub(super) fn tls(config: &Config) -> Check {
    let by = if !config.listen.tls.is_empty() {
        "listen.tls"
    } else if !config.listen.wss.is_empty() {
        "listen.wss"
    } else {
        return Ok(());
    };
    let Some(tls) = &config.tls else {
        return fail(
            "tls",
            format!("required because {by} has listeners: set tls.cert and tls.key"),
        );
    };
    if tls.cert.as_ref().is_none_or(|p| p.as_os_str().is_empty()) {
        return fail("tls.cert", format!("required because {by} has listeners"));
    }
    if tls.key.as_ref().is_none_or(|p| p.as_os_str().is_empty()) {
        return fail("tls.key", format!("required because {by} has listeners"));
    }
    Ok(())
}

/// `websocket`: origins as browsers send them, bounded timers.
pub(super) fn websocket(ws: &WebSocketConfig) -> Check {
    range(
        "websocket.handshake_timeout_ms",
        ws.handshake_timeout_ms,
        100,
        60_000,
    )?;
    range("websocket.ping_secs", ws.ping_secs, 0, 3600)?;
    for (i, origin) in ws.allowed_origins.iter().enumerate() {
        let key = format!("websocket.allowed_origins[{i}]");
        let Some((scheme, rest)) = origin.split_once("://") else {
            return fail(
                key,
                format!("{origin:?}: expected scheme://host[:port], e.g. https://app.example.com"),
            );
        };
        if scheme.is_empty()
            || !scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            return fail(key, format!("{origin:?}: {scheme:?} is not a URI scheme"));
        }
        if rest.contains('/') || rest.contains('?') || rest.contains('#') {
            return fail(key, format!("{origin:?}: an origin has no path, query or fragment (browsers send scheme://host[:port])"));
        }
        if let Err(e) = parse_host_port(rest) {
            return fail(key, format!("{origin:?}: {e}"));
        }
    }
    Ok(())
}

/// `server`, `advertised_address`, `domain`.
pub(super) fn identity(config: &Config) -> Check {
    range("server.drain_secs", config.server.drain_secs, 0, 86_400)?;
    range("server.workers", config.server.workers as u64, 0, 1024)?;
    if let Some(adv) = &config.advertised_address {
        if let Err(e) = parse_host_port(adv) {
            return fail("advertised_address", e);
        }
    }
    for (i, domain) in config.domain.local.iter().enumerate() {
        if let Err(e) = parse_host(domain) {
            return fail(format!("domain.local[{i}]"), e);
        }
    }
    Ok(())
}

/// `limits`.
pub(super) fn limits(limits: &Limits) -> Check {
    range(
        "limits.max_message_size",
        limits.max_message_size,
        1024,
        1 << 20,
    )?;
    range("limits.max_headers", limits.max_headers, 16, 4096)?;
    range("limits.udp_mtu", limits.udp_mtu, 576, 65_535)?;
    range(
        "limits.max_connections",
        limits.max_connections,
        1,
        usize::MAX,
    )?;
    range(
        "limits.max_transactions",
        limits.max_transactions,
        1000,
        10_000_000,
    )?;
    range("limits.tcp_idle_secs", limits.tcp_idle_secs, 1, u64::MAX)?;
    range(
        "limits.tcp_connect_timeout_ms",
        limits.tcp_connect_timeout_ms,
        1,
        u64::MAX,
    )?;
    range(
        "limits.tcp_user_timeout_ms",
        limits.tcp_user_timeout_ms,
        1000,
        3_600_000,
    )?;
    if limits.write_queue_bytes < limits.max_message_size {
        return fail(
            "limits.write_queue_bytes",
            format!(
                "{} is smaller than limits.max_message_size ({}): one message must fit",
                limits.write_queue_bytes, limits.max_message_size
            ),
        );
    }
    Ok(())
}

/// `telemetry` (and SIPhon's `log`).
pub(super) fn telemetry(config: &Config) -> Check {
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    let telemetry = &config.telemetry;
    let key = if config.log.is_some() {
        "log.level"
    } else {
        "telemetry.log.level"
    };
    let log = config.log_config();
    let level = log.level.trim();
    if level.is_empty() {
        return fail(key, "must not be empty");
    }
    if log.file.as_ref().is_some_and(|f| f.as_os_str().is_empty()) {
        return fail(key.replace("level", "file"), "must not be empty");
    }
    for directive in level.split(',') {
        let lvl = directive.rsplit_once('=').map_or(directive, |(_, l)| l);
        if !LEVELS.contains(&lvl.trim().to_ascii_lowercase().as_str()) {
            return fail(
                key,
                format!(
                    "{directive:?}: expected a level ({}) or target=level",
                    LEVELS.join(", ")
                ),
            );
        }
    }
    if let Some(hep) = &telemetry.hep {
        if hep.endpoint.port() == 0 || hep.endpoint.ip().is_unspecified() {
            return fail(
                "telemetry.hep.endpoint",
                format!("{}: expected the collector's IP:port", hep.endpoint),
            );
        }
    }
    if let Some(otlp) = &telemetry.otlp {
        let scheme_ok = ["http://", "https://"]
            .iter()
            .any(|s| otlp.endpoint.len() > s.len() && otlp.endpoint.starts_with(s));
        if !scheme_ok {
            return fail(
                "telemetry.otlp.endpoint",
                format!("{:?}: expected an http:// or https:// URL", otlp.endpoint),
            );
        }
        if otlp.service_name.is_empty() {
            return fail("telemetry.otlp.service_name", "must not be empty");
        }
    }
    Ok(())
}
