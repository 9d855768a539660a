//! SIPhon's `siphon.yaml` loads as it is: its published examples
//! (`tests/data/siphon/`), and each of its shapes anysip reads (`log:`,
//! `script.reload`, listen entries, TLS names, `security:`, hostname
//! destinations, unserved sections), while a key in neither schema is
//! still refused with its file, line and key.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;

use anysip_config::{Config, ConfigError, LogFormat, ReloadMode, Role, TlsMethod};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/siphon")
        .join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(data(name)).unwrap()
}

fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |n| {
        vars.iter()
            .find(|(k, _)| *k == n)
            .map(|(_, v)| (*v).to_owned())
    }
}

fn load(text: &str, vars: &'static [(&'static str, &'static str)]) -> Result<Config, ConfigError> {
    Config::from_yaml_with_env(text, "siphon.yaml", env(vars))
}

fn warnings(c: &Config) -> Vec<String> {
    c.notices.iter().map(|n| n.to_string()).collect()
}

/// deployment.md, Scenario 1: no `role:`, a script: a core, as given.
#[test]
fn scenario_1_single_node_is_a_core() {
    let c = load(&read("deployment/siphon.yaml"), &[("HOSTNAME", "node-a")]).unwrap();
    assert_eq!(c.role, Role::Core);
    assert!(!c.role_given());
    assert_eq!(c.server.instance_id.name, "node-a");
    assert_eq!(c.server.drain_secs, 30);
    assert_eq!(c.listen.udp, vec!["0.0.0.0:5060".parse().unwrap()]);
    assert_eq!(c.listen.tcp, vec!["0.0.0.0:5060".parse().unwrap()]);
    let r = c.registrar.as_ref().unwrap();
    assert_eq!(
        r.redis.as_ref().unwrap().url.as_deref(),
        Some("redis://127.0.0.1:6379")
    );
    assert_eq!(
        c.metrics.prometheus.listen,
        Some("0.0.0.0:9090".parse().unwrap())
    );
    assert_eq!(c.metrics.prometheus.path, "/metrics");
    assert_eq!(c.admin.listen, "0.0.0.0:9091".parse().unwrap());
    assert_eq!(c.script.as_ref().unwrap().reload, ReloadMode::Auto);
    assert!(c.notices.is_empty(), "{:?}", warnings(&c));
}

/// deployment.md, Scenario 2: the backend is Scenario 1 with its
/// registrar and server sections replaced by the page's.
#[test]
fn scenario_2_backend_is_scenario_1_with_its_sections() {
    let single = read("deployment/siphon.yaml");
    let head = &single[..single.find("registrar:").unwrap()];
    let tail = &single[single.find("metrics:").unwrap()..];
    let text = format!("{head}{}{tail}", read("deployment/backend.yaml"));
    let c = load(&text, &[]).unwrap();
    assert_eq!(c.role, Role::Core);
    assert_eq!(c.server.instance_id.name, "node1");
}

/// deployment.md, Scenario 2: the front LB, as given.
#[test]
fn scenario_2_front_lb_loads() {
    let c = load(&read("deployment/frontend.yaml"), &[]).unwrap();
    assert_eq!(c.role, Role::Core);
    let g = c.gateway_group("backends").unwrap();
    assert_eq!(g.algorithm, anysip_config::Algorithm::Hash);
    assert_eq!(g.probe.interval_secs, 5);
    assert_eq!(g.destinations[1].address, "10.0.0.2:5060".parse().unwrap());
    assert!(c.notices.is_empty(), "{:?}", warnings(&c));
}

/// The cookbook's file has no `listen:` (SIPhon needs one too: its
/// `listen` has no default): refused, naming it.
#[test]
fn cookbook_without_listen_is_refused_for_it() {
    let e = load(&read("cookbook/siphon.yaml"), &[]).unwrap_err();
    assert_eq!(e.key_path(), Some("listen"), "{e}");
    let text = format!(
        "listen:\n  udp: [\"127.0.0.1:5060\"]\ndomain:\n  local: [example.com]\n{}",
        read("cookbook/siphon.yaml")
    );
    let c = load(&text, &[]).unwrap();
    let g = c.gateway_group("backends").unwrap();
    assert_eq!(g.destinations[0].weight, 2);
    assert_eq!(g.destinations[0].attrs["region"], "us-east");
}

/// deploy/ha-demo: the hostnames of its defaults are resolved when read;
/// `log:` with SIPhon's `pretty`.
#[test]
fn ha_demo_frontend_resolves_hostname_destinations() {
    let text = read("ha-demo/siphon-frontend.yaml");
    let c = load(
        &text,
        &[
            ("BACKEND1_ADDR", "localhost:6061"),
            ("BACKEND2_ADDR", "127.0.0.1:6062"),
        ],
    )
    .unwrap();
    let g = c.gateway_group("backends").unwrap();
    assert!(g.destinations[0].address.ip().is_loopback());
    assert_eq!(g.destinations[0].address.port(), 6061);
    assert_eq!(g.destinations[0].uri, "sip:backend1:5060");
    assert_eq!(c.log_config().format, LogFormat::Text);
    assert_eq!(c.log_config().level, "info");
    // As given, outside its compose network, `backend1` has no address:
    // the error names the key and the name.
    let e = load(&text, &[]).unwrap_err();
    assert_eq!(
        e.key_path(),
        Some("gateway.groups[0].destinations[0].address"),
        "{e}"
    );
    assert!(e.to_string().contains("cannot resolve backend1"), "{e}");
    assert!(e.to_string().starts_with("siphon.yaml:29:"), "{e}");
}

#[test]
fn ha_demo_backend_loads() {
    let c = load(&read("ha-demo/siphon-backend.yaml"), &[]).unwrap();
    assert_eq!(c.role, Role::Core);
    assert_eq!(c.server.instance_id.name, "backend");
    assert_eq!(
        c.registrar.unwrap().redis.unwrap().url.as_deref(),
        Some("redis://redis:6379")
    );
}

#[test]
fn log_section() {
    let base = "listen:\n  udp: [\"127.0.0.1:5060\"]\nscript:\n  path: x.py\n";
    let c = load(
        &format!(
            "{base}log:\n  level: debug\n  format: json\n  file: /var/log/siphon/siphon.log\n"
        ),
        &[],
    )
    .unwrap();
    let log = c.log_config();
    assert_eq!((log.level.as_str(), log.format), ("debug", LogFormat::Json));
    assert_eq!(
        log.file.as_deref(),
        Some(std::path::Path::new("/var/log/siphon/siphon.log"))
    );
    let e = load(&format!("{base}log:\n  level: loud\n"), &[]).unwrap_err();
    assert_eq!(e.key_path(), Some("log.level"), "{e}");
    let e = load(
        &format!("{base}log:\n  level: info\ntelemetry:\n  log:\n    level: debug\n"),
        &[],
    )
    .unwrap_err();
    assert_eq!(e.key_path(), Some("log"), "{e}");
}

#[test]
fn script_reload_and_pool_keys() {
    let base = "listen:\n  udp: [\"127.0.0.1:5060\"]\nscript:\n  path: x.py\n";
    for (value, mode) in [
        ("auto", ReloadMode::Auto),
        ("sighup", ReloadMode::Sighup),
        ("true", ReloadMode::Auto),
        ("false", ReloadMode::Off),
    ] {
        let c = load(&format!("{base}  reload: {value}\n"), &[]).unwrap();
        assert_eq!(c.script.unwrap().reload, mode, "{value}");
    }
    let e = load(&format!("{base}  reload: inotify\n"), &[]).unwrap_err();
    assert_eq!(e.key_path(), Some("script.reload"), "{e}");
    let c = load(
        &format!(
            "{base}  sync_pool_size: 8\n  sync_pool_max: 16\n  executor_queue_capacity: 2048\n  \
             handler_stall_abort_secs: 30\n  include_paths: [/etc/siphon/lib]\n  async_pool_size: 4\n"
        ),
        &[],
    )
    .unwrap();
    let s = c.script.as_ref().unwrap();
    assert_eq!(
        (s.sync_pool_size, s.sync_pool_max, s.executor_queue_capacity),
        (Some(8), Some(16), Some(2048))
    );
    assert_eq!(s.include_paths, vec![PathBuf::from("/etc/siphon/lib")]);
    assert_eq!(
        warnings(&c),
        vec!["script.async_pool_size: not served by anysip (a coroutine handler runs on the pool thread that calls it)"]
    );
    let e = load(
        &format!("{base}  sync_pool_size: 8\n  sync_pool_max: 4\n"),
        &[],
    )
    .unwrap_err();
    assert_eq!(e.key_path(), Some("script.sync_pool_max"), "{e}");
}

#[test]
fn listen_entry_forms() {
    let text = "listen:\n  dscp: EF\n  udp:\n    - \"10.0.0.1:5060\"\n    - address: \"10.0.0.1:5080\"\n      advertise: sip.example.com\n      dscp: AF41\n  tcp:\n    - address: \"10.0.0.1:5060\"\n      advertise: sip.example.com\nscript:\n  path: x.py\n";
    let c = load(text, &[]).unwrap();
    assert_eq!(c.listen.udp.len(), 2);
    assert_eq!(c.listen.tcp, vec!["10.0.0.1:5060".parse().unwrap()]);
    assert_eq!(c.advertised_address.as_deref(), Some("sip.example.com"));
    assert_eq!(
        c.listen.dscp_of("udp", "10.0.0.1:5080".parse().unwrap()),
        Some(34)
    );
    assert_eq!(
        c.listen.dscp_of("udp", "10.0.0.1:5060".parse().unwrap()),
        Some(46)
    );
    assert_eq!(
        c.listen.dscp_of("tcp", "10.0.0.1:5060".parse().unwrap()),
        Some(46)
    );
    // A typo inside an entry: file, line and key.
    let bad = text.replace("      dscp: AF41", "      dcsp: AF41");
    let e = load(&bad, &[]).unwrap_err();
    let s = e.to_string();
    assert!(s.starts_with("siphon.yaml:7:"), "{s}");
    assert!(s.contains("listen.udp[1]") && s.contains("dcsp"), "{s}");
    // SIPhon's listen.mtu is limits.udp_mtu.
    let c = load(
        &text.replace("  dscp: EF\n", "  dscp: EF\n  mtu: 1280\n"),
        &[],
    )
    .unwrap();
    assert_eq!(c.limits.udp_mtu, 1280);
    assert!(c.notices.is_empty(), "{:?}", warnings(&c));
    let e = load(
        &format!(
            "{}limits:\n  udp_mtu: 9000\n",
            text.replace("  dscp: EF\n", "  dscp: EF\n  mtu: 1280\n")
        ),
        &[],
    )
    .unwrap_err();
    assert_eq!(e.key_path(), Some("listen.mtu"), "{e}");
    let e = load(&text.replace("AF41", "AF44"), &[]).unwrap_err();
    assert!(e.to_string().contains("DSCP"), "{e}");
    let two = text.replace(
        "      advertise: sip.example.com\n      dscp",
        "      advertise: other.example.com\n      dscp",
    );
    let e = load(&two, &[]).unwrap_err();
    assert_eq!(e.key_path(), Some("listen"), "{e}");
}

#[test]
fn tls_names_of_siphon() {
    let text = "listen:\n  tls: [\"127.0.0.1:5061\"]\ntls:\n  certificate: /etc/siphon/tls/cert.pem\n  private_key: /etc/siphon/tls/key.pem\n  method: TLSv1_3\nscript:\n  path: x.py\n";
    let c = load(text, &[]).unwrap();
    let tls = c.tls.as_ref().unwrap();
    assert_eq!(
        tls.cert.as_deref(),
        Some(std::path::Path::new("/etc/siphon/tls/cert.pem"))
    );
    assert_eq!(
        tls.key.as_deref(),
        Some(std::path::Path::new("/etc/siphon/tls/key.pem"))
    );
    assert_eq!(tls.method, TlsMethod::Tls13);
    assert!(!tls.requires_client_cert());
    for (spelling, method) in [
        ("TLSv1.2", TlsMethod::Tls12),
        ("1.3", TlsMethod::Tls13),
        ("TLSv1_2+", TlsMethod::Tls12),
    ] {
        let c = load(&text.replace("TLSv1_3", spelling), &[]).unwrap();
        assert_eq!(c.tls.unwrap().method, method, "{spelling}");
    }
    let e = load(&text.replace("TLSv1_3", "TLSv1_1"), &[]).unwrap_err();
    assert_eq!(e.key_path(), Some("tls.method"), "{e}");
    let with = |extra: &str| {
        text.replace(
            "  method: TLSv1_3\n",
            &format!("  method: TLSv1_3\n{extra}"),
        )
    };
    let e = load(&with("  verify_client: true\n"), &[]).unwrap_err();
    assert_eq!(e.key_path(), Some("tls.verify_client"), "{e}");
    let sni = "  certificates:\n    - server_names: [\"*.a.example\", \"b.example\"]\n      certificate: /c.pem\n      private_key: /k.pem\n";
    let c = load(&with(sni), &[]).unwrap();
    assert_eq!(c.tls.unwrap().certificates[0].server_names.len(), 2);
    let e = load(&with(&sni.replace("\"b.example\"", "\"*.A.example\"")), &[]).unwrap_err();
    assert_eq!(
        e.key_path(),
        Some("tls.certificates[0].server_names[1]"),
        "{e}"
    );
    let e = load(&with(&sni.replace("\"b.example\"", "\"a.*.example\"")), &[]).unwrap_err();
    assert_eq!(
        e.key_path(),
        Some("tls.certificates[0].server_names[1]"),
        "{e}"
    );
}

#[test]
fn unserved_sections_are_accepted_with_one_warning_each() {
    let text = format!(
        "{}b2bua:\n  default_header_policy: \"transparent-b2bua@2026\"\nmedia:\n  backend: rtpengine\n  anything: [1, 2]\ndiameter:\n  peers: []\nsession_timer:\n  session_expires: 1800\n",
        read("deployment/siphon.yaml")
    );
    let c = load(&text, &[("HOSTNAME", "h")]).unwrap();
    assert_eq!(
        warnings(&c),
        vec![
            "not served by anysip: b2bua (section ignored)",
            "not served by anysip: diameter (section ignored)",
            "not served by anysip: media (section ignored)",
            "not served by anysip: session_timer (section ignored)",
        ]
    );
}

#[test]
fn security_maps_onto_the_packet_filter() {
    let text = "listen:\n  udp: [\"127.0.0.1:5060\"]\nscript:\n  path: x.py\nsecurity:\n  rate_limit:\n    window_secs: 10\n    max_requests: 45\n  scanner_block:\n    user_agents: [\"evilscan\"]\n  trusted_cidrs: [\"10.0.0.0/8\"]\n";
    let c = load(text, &[]).unwrap();
    let x = c.packet_filter();
    assert_eq!((x.rate, x.burst), (5, 45));
    assert!(x.auto_block.user_agents.iter().any(|u| u == "evilscan"));
    assert!(
        x.auto_block
            .user_agents
            .iter()
            .any(|u| u == "friendly-scanner"),
        "defaults kept: {:?}",
        x.auto_block.user_agents
    );
    assert_eq!(
        warnings(&c),
        vec!["security.trusted_cidrs: not served by anysip (every source is rate limited alike)"]
    );
}

#[test]
fn nat_admin_metrics_server_probe_keys() {
    let text = "listen:\n  udp: [\"127.0.0.1:5060\"]\nscript:\n  path: x.py\nnat:\n  fix_contact: true\n  crlf_keepalive:\n    interval_secs: 25\nadmin:\n  listen: \"127.0.0.1:9191\"\n  auth:\n    token: s3cret\n    protect_reads: true\n  cors:\n    allowed_origins: [\"http://localhost:5173\"]\nmetrics:\n  prometheus:\n    listen: \"127.0.0.1:9190\"\n    path: /prom\nserver:\n  server_header: \"SIPhon\"\n  user_agent_header: \"SIPhon-probe\"\ngateway:\n  groups:\n    - name: carriers\n      algorithm: call_id_hash\n      probe:\n        from_user: ping\n        from_domain: lb.example.com\n      destinations:\n        - uri: \"sip:gw1.example.com:5060\"\n          address: \"127.0.0.1:5070\"\n";
    let c = load(text, &[]).unwrap();
    assert_eq!(c.metrics.prometheus.path, "/prom");
    assert_eq!(
        c.admin.auth.as_ref().unwrap().token.as_deref(),
        Some("s3cret")
    );
    assert_eq!(c.server.server_header.as_deref(), Some("SIPhon"));
    let g = c.gateway_group("carriers").unwrap();
    assert_eq!(g.algorithm, anysip_config::Algorithm::Hash);
    assert_eq!(g.probe.from_user.as_deref(), Some("ping"));
    assert_eq!(g.probe.from_domain.as_deref(), Some("lb.example.com"));
    assert_eq!(warnings(&c).len(), 2, "{:?}", warnings(&c));
    assert!(warnings(&c)[0].starts_with("nat.fix_contact: not served by anysip"));
    assert!(warnings(&c)[1].starts_with("nat.crlf_keepalive: not served by anysip"));
}

/// A key in neither schema is refused, with the file, line and key, at
/// the top level and inside a SIPhon section.
#[test]
fn typos_are_still_refused() {
    let single = read("deployment/siphon.yaml");
    for (from, to, key, line) in [
        ("admin:", "admn:", "admn", 23),
        ("  drain_secs: 30", "  drain_sec: 30", "drain_sec", 17),
        (
            "  path: \"scripts/proxy_default.py\"",
            "  path: x.py\n  relaod: auto",
            "relaod",
            9,
        ),
    ] {
        let text = single.replace(from, to);
        let e = load(&text, &[("HOSTNAME", "h")]).unwrap_err();
        let s = e.to_string();
        assert!(s.starts_with(&format!("siphon.yaml:{line}:")), "{s}");
        assert!(s.contains(&format!("unknown field `{key}`")), "{s}");
    }
    let text = format!("{single}log:\n  levle: info\n");
    let e = load(&text, &[("HOSTNAME", "h")]).unwrap_err();
    assert!(
        e.to_string()
            .contains(":26:3: log.levle: unknown field `levle`"),
        "{e}"
    );
    let text = format!("{single}security:\n  rate_limt:\n    window_secs: 1\n");
    let e = load(&text, &[("HOSTNAME", "h")]).unwrap_err();
    assert!(
        e.to_string()
            .contains(":26:3: security.rate_limt: unknown field `rate_limt`"),
        "{e}"
    );
}

/// A relative `script.path` is taken from the file's directory when the
/// script is there (SIPhon's rule), from the working directory otherwise.
#[test]
fn relative_script_path_is_anchored_on_the_file() {
    let dir = common_scratch("anchor");
    std::fs::create_dir_all(dir.join("scripts")).unwrap();
    std::fs::write(dir.join("scripts/proxy_default.py"), "").unwrap();
    std::fs::write(dir.join("siphon.yaml"), read("deployment/siphon.yaml")).unwrap();
    let c = anysip_config::load(dir.join("siphon.yaml")).unwrap();
    assert_eq!(c.script.unwrap().path, dir.join("scripts/proxy_default.py"));
    let _ = std::fs::remove_dir_all(&dir);
}

fn common_scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("anysip-config-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
