//! routerd against real BIRD 2 in network namespaces: see support/lab.rs.
//! Needs root, `ip` and `bird`; under CI=true their absence fails.
#![allow(clippy::unwrap_used)]

#[path = "support/lab.rs"]
mod lab;

use std::time::{Duration, Instant};

use lab::{Lab, Route, ANYCAST4, ANYCAST6, FALL, GRACE, HEALTH_PORT, INTERVAL, RISE, TICK};
use routerd::bird::ProtoState;

const SLACK: Duration = Duration::from_secs(2);

fn rise_limit() -> Duration {
    INTERVAL * RISE + SLACK
}

fn fall_limit() -> Duration {
    INTERVAL * FALL + SLACK
}

fn present(r: &Option<Route>) -> bool {
    r.is_some()
}

fn absent(r: &Option<Route>) -> bool {
    r.is_none()
}

/// Present and announced normally (no graceful-shutdown community, one AS).
fn normal(r: &Option<Route>) -> bool {
    r.as_ref()
        .is_some_and(|r| !r.graceful_shutdown() && r.as_path == [64512])
}

async fn up(lab: &mut Lab) {
    lab.start_routerd();
    lab.expect_route("healthy: /32 announced", ANYCAST4, rise_limit(), normal)
        .await;
}

#[test]
fn healthy_announces_failure_withdraws_recovery_returns() {
    lab::run("health", |mut lab| async move {
        up(&mut lab).await;
        lab.expect_route("healthy: /128 announced", ANYCAST6, SLACK, present)
            .await;

        lab.set_health(503);
        lab.expect_route("503: /32 withdrawn", ANYCAST4, fall_limit(), absent)
            .await;
        lab.expect_route("503: /128 withdrawn", ANYCAST6, SLACK, absent)
            .await;

        lab.set_health(200);
        lab.expect_route("200 again: /32 back", ANYCAST4, rise_limit(), normal)
            .await;

        let status = lab.routerd_cli(&["status"]);
        let v: serde_json::Value = serde_json::from_str(&status).unwrap();
        let svc = &v["services"][0];
        assert_eq!(svc["state"], "up", "{status}");
        assert_eq!(svc["transitions"]["down"], 1, "{status}");
        assert_eq!(svc["transitions"]["up"], 2, "{status}");
        assert_eq!(svc["prefixes"][0]["announce_state"], "up", "{status}");
        assert_eq!(svc["checks"][0]["health"], "up", "{status}");
        assert!(svc["checks"][0]["failures_total"].as_u64().unwrap() >= u64::from(FALL));
    });
}

#[test]
fn drain_announces_graceful_shutdown_then_withdraws_and_undrain_returns() {
    lab::run("drain", |mut lab| async move {
        up(&mut lab).await;

        let started = Instant::now();
        let out = lab.routerd_cli(&["drain"]);
        assert!(out.contains("\"admin\":true"), "{out}");
        let drained = |r: &Option<Route>| {
            r.as_ref()
                .is_some_and(|r| r.graceful_shutdown() && r.as_path.len() == 4)
        };
        lab.expect_route("drain: (65535,0) and prepends", ANYCAST4, SLACK, drained)
            .await;
        let r = lab.route(ANYCAST4).await.unwrap();
        assert_eq!(r.as_path, [64512, 64512, 64512, 64512]);
        lab.expect_route(
            "drain: withdrawn after grace",
            ANYCAST4,
            GRACE + SLACK,
            absent,
        )
        .await;
        let took = started.elapsed();
        assert!(
            took >= GRACE - Duration::from_millis(200),
            "withdrawn after {took:?}, before the {GRACE:?} grace period"
        );

        lab.routerd_cli(&["undrain"]);
        lab.expect_route("undrain: back", ANYCAST4, SLACK, normal)
            .await;
    });
}

#[test]
fn disable_file_drains() {
    lab::run("disable-file", |mut lab| async move {
        up(&mut lab).await;
        std::fs::write(lab.disable_file(), b"maintenance\n").unwrap();
        let drained = |r: &Option<Route>| r.as_ref().is_some_and(Route::graceful_shutdown);
        lab.expect_route("disable file: drained", ANYCAST4, TICK + SLACK, drained)
            .await;
        lab.expect_route("disable file: withdrawn", ANYCAST4, GRACE + SLACK, absent)
            .await;
        std::fs::remove_file(lab.disable_file()).unwrap();
        lab.expect_route("disable file removed: back", ANYCAST4, TICK + SLACK, normal)
            .await;
    });
}

/// `birdc configure` resets the protocols to the template's "disabled yes";
/// routerd puts back the wanted state within a tick, whether that is
/// announced or withdrawn.
#[test]
fn external_configure_is_undone_within_a_tick() {
    lab::run("configure", |mut lab| async move {
        up(&mut lab).await;
        let one_tick = TICK + Duration::from_millis(500);

        // While up: configure disables the announce protocol; routerd re-enables it.
        let t = Instant::now();
        lab.edge_ctl.command("configure").await.unwrap();
        // BIRD applies the configuration asynchronously: see it take effect.
        let off = lab
            .wait_edge_protocol("anysip_announce4", ProtoState::Down, TICK)
            .await;
        eprintln!("configure while up: BIRD disabled the announce protocol: {off:?}");
        let back = lab
            .wait_edge_protocol("anysip_announce4", ProtoState::Up, one_tick)
            .await;
        assert!(
            back.is_some(),
            "announce not re-asserted within {one_tick:?}\n{}",
            lab.logs()
        );
        eprintln!(
            "configure while up: re-announced {:?} after configure",
            t.elapsed()
        );
        lab.expect_route("configure while up: route there", ANYCAST4, SLACK, normal)
            .await;

        // Drained and withdrawn.
        lab.routerd_cli(&["drain"]);
        lab.expect_route("drained: withdrawn", ANYCAST4, GRACE + SLACK, absent)
            .await;

        // configure while drained: the withdrawn state holds.
        lab.edge_ctl.command("configure").await.unwrap();
        for _ in 0..3 {
            tokio::time::sleep(TICK).await;
            assert_eq!(
                lab.edge_protocol("anysip_announce4").await,
                Some(ProtoState::Down)
            );
            assert_eq!(
                lab.edge_protocol("anysip_drain4").await,
                Some(ProtoState::Down)
            );
        }
        assert!(lab.route(ANYCAST4).await.is_none());

        // Something (an operator, a config with "disabled no") enables the
        // announce protocol while drained: routerd disables it within a tick.
        lab.edge_ctl.enable("anysip_announce4").await.unwrap();
        let gone = lab
            .wait_edge_protocol("anysip_announce4", ProtoState::Down, one_tick)
            .await;
        assert!(
            gone.is_some(),
            "withdrawn state not restored within {one_tick:?}\n{}",
            lab.logs()
        );
        eprintln!("enable while drained: withdrawn again after {gone:?}");
        lab.expect_route("drained: stays withdrawn", ANYCAST4, SLACK, absent)
            .await;

        let metrics = lab.routerd_cli(&["status"]);
        let v: serde_json::Value = serde_json::from_str(&metrics).unwrap();
        let corrections = v["bird"]["corrections_total"].as_u64().unwrap();
        assert!(corrections >= 2, "{metrics}");
    });
}

#[test]
fn missing_anycast_address_withdraws() {
    lab::run("address", |mut lab| async move {
        up(&mut lab).await;
        lab.in_edge(&["ip", "addr", "del", ANYCAST4, "dev", "lo"]);
        lab.expect_route("address removed: withdrawn", ANYCAST4, TICK + SLACK, absent)
            .await;
        lab.in_edge(&["ip", "addr", "add", ANYCAST4, "dev", "lo"]);
        lab.expect_route("address back: announced", ANYCAST4, TICK + SLACK, normal)
            .await;
    });
}

#[test]
fn sigterm_withdraws() {
    lab::run("sigterm", |mut lab| async move {
        up(&mut lab).await;
        let status = lab.sigterm_routerd();
        assert!(status.success(), "routerd exit: {status:?}\n{}", lab.logs());
        lab.expect_route("SIGTERM: withdrawn", ANYCAST4, SLACK, absent)
            .await;
        assert_eq!(
            lab.edge_protocol("anysip_announce4").await,
            Some(ProtoState::Down)
        );
        assert_eq!(
            lab.edge_protocol("anysip_announce6").await,
            Some(ProtoState::Down)
        );
    });
}

#[test]
fn sigterm_drains_when_configured() {
    lab::run("sigterm-drain", |mut lab| async move {
        lab.set_shutdown_drain();
        up(&mut lab).await;
        lab.signal_routerd(nix::sys::signal::Signal::SIGTERM);
        let drained = |r: &Option<Route>| r.as_ref().is_some_and(Route::graceful_shutdown);
        lab.expect_route(
            "SIGTERM (drain): graceful shutdown",
            ANYCAST4,
            SLACK,
            drained,
        )
        .await;
        assert!(
            lab.routerd_running(),
            "routerd must stay for the grace period"
        );
        lab.expect_route(
            "SIGTERM (drain): withdrawn after grace",
            ANYCAST4,
            GRACE + SLACK,
            absent,
        )
        .await;
        let status = lab.wait_routerd_exit(SLACK);
        assert!(status.success(), "routerd exit: {status:?}\n{}", lab.logs());
        assert_eq!(
            lab.edge_protocol("anysip_drain4").await,
            Some(ProtoState::Down)
        );
    });
}

/// A crashed routerd leaves the route up; the unit's ExecStopPost withdraws it.
#[test]
fn systemd_exec_stop_post_fails_closed() {
    lab::run("execstoppost", |mut lab| async move {
        up(&mut lab).await;
        lab.sigkill_routerd();
        tokio::time::sleep(TICK * 2).await;
        assert!(
            lab.route(ANYCAST4).await.is_some(),
            "BIRD keeps the route without routerd"
        );

        let unit = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../deploy/systemd/routerd.service"),
        )
        .unwrap();
        let line = unit
            .lines()
            .find_map(|l| l.strip_prefix("ExecStopPost="))
            .expect("ExecStopPost in the unit");
        let cmd = line.trim_start_matches(['-', '+', '!', '@']).replace(
            "/run/bird/bird.ctl",
            &lab.dir.join("edge.ctl").display().to_string(),
        );
        let out = std::process::Command::new("sh")
            .args(["-c", &cmd])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        lab.expect_route("ExecStopPost: withdrawn", ANYCAST4, SLACK, absent)
            .await;
        lab.expect_route("ExecStopPost: /128 withdrawn", ANYCAST6, SLACK, absent)
            .await;
    });
}

#[test]
fn bird_restart_is_survived() {
    lab::run("bird-restart", |mut lab| async move {
        up(&mut lab).await;
        lab.stop_edge_bird();
        lab.expect_route("edge BIRD stopped: withdrawn", ANYCAST4, SLACK, absent)
            .await;
        // Let routerd notice (a failed tick or two) before BIRD is back.
        tokio::time::sleep(TICK * 3).await;
        lab.start_edge_bird();
        // BIRD starts with everything disabled; routerd reconnects and
        // re-announces; the router reconnects BGP (connect delay 1 s).
        lab.expect_route(
            "edge BIRD restarted: announced again",
            ANYCAST4,
            Duration::from_secs(20),
            normal,
        )
        .await;
        let status = lab.routerd_cli(&["status"]);
        let v: serde_json::Value = serde_json::from_str(&status).unwrap();
        assert!(v["bird"]["errors_total"].as_u64().unwrap() >= 1, "{status}");
        assert_eq!(v["bird"]["connected"], true, "{status}");
    });
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn env_ms(name: &str, default: Duration) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default.as_millis() as u64)
}

/// The closing figure: median of 5 of the time from a health change to the
/// route change on the router, for failure and for drain. Run by
/// bench/routerd-convergence.sh (ROUTERD_BENCH_INTERVAL_MS and
/// ROUTERD_BENCH_FAST_MS choose the check timing; fall stays 2).
#[test]
#[ignore = "a measurement, run by bench/routerd-convergence.sh"]
fn convergence_medians() {
    lab::run("convergence", |mut lab| async move {
        let interval = env_ms("ROUTERD_BENCH_INTERVAL_MS", INTERVAL);
        let fast = env_ms("ROUTERD_BENCH_FAST_MS", lab::FAST);
        lab.set_check_timing(interval, fast);
        let limit = Duration::from_millis(interval * u64::from(RISE + FALL)) + SLACK * 2;
        lab.start_routerd();
        lab.expect_route("healthy", ANYCAST4, limit, normal).await;
        let (mut failure, mut drain, mut drain_withdraw) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..5 {
            // Settle into the normal interval, then fail at a random phase of it.
            tokio::time::sleep(Duration::from_millis(interval + 137 * i)).await;
            let t = Instant::now();
            lab.set_health(503);
            lab.expect_route("failure", ANYCAST4, limit, absent).await;
            failure.push(t.elapsed());
            lab.set_health(200);
            lab.expect_route("recovered", ANYCAST4, limit, normal).await;

            tokio::time::sleep(Duration::from_millis(interval)).await;
            let t = Instant::now();
            lab.routerd_cli(&["drain"]);
            let gshut = |r: &Option<Route>| r.as_ref().is_some_and(Route::graceful_shutdown);
            lab.expect_route("drain", ANYCAST4, limit, gshut).await;
            drain.push(t.elapsed());
            lab.expect_route("drain withdrawn", ANYCAST4, GRACE + limit, absent)
                .await;
            drain_withdraw.push(t.elapsed());
            lab.routerd_cli(&["undrain"]);
            lab.expect_route("undrained", ANYCAST4, limit, normal).await;
        }
        println!(
            "\nconvergence (interval {interval} ms, fast {fast} ms, fall {FALL}, tick {} ms, grace {} s), median of 5:",
            TICK.as_millis(),
            GRACE.as_secs()
        );
        println!(
            "  failure (health 503 -> route gone on the router):          {:?}  all {failure:?}",
            median(failure.clone())
        );
        println!(
            "  drain   (routerd drain -> (65535,0) + prepends on router): {:?}  all {drain:?}",
            median(drain.clone())
        );
        println!("  drain   (routerd drain -> route gone on the router):       {:?}  all {drain_withdraw:?}", median(drain_withdraw.clone()));
    });
}

/// The `anysip` binary next to this test's build (the workspace test run
/// builds it). Missing: a failure under CI=true, a loud skip otherwise.
fn anysip_binary() -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?.parent()?.join("anysip");
    if bin.is_file() {
        return Some(bin);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} is missing: run the workspace tests (cargo test --workspace) so it is built",
        bin.display()
    );
    eprintln!("SKIPPED: {} is not built", bin.display());
    None
}

/// Kills the edge when the test ends.
struct Edge(std::process::Child);

impl Drop for Edge {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn real_edge_drain_withdraws_the_route() {
    let Some(anysip) = anysip_binary() else {
        return;
    };
    lab::run("edge-drain", |mut lab| async move {
        // The real edge in the edge namespace; routerd checks its /admin/ready.
        let cfg = lab.dir.join("anysip.yaml");
        std::fs::write(
            &cfg,
            "listen:\n  udp: [127.0.0.1:25560]\nadmin:\n  listen: 127.0.0.1:25591\nserver:\n  drain_secs: 60\n\
             gateway:\n  groups:\n    - name: backends\n      algorithm: hash\n      probe:\n        enabled: false\n      destinations:\n        - uri: sip:127.0.0.1:25570\n          address: 127.0.0.1:25570\n\
             edge:\n  keys:\n    dev: true\n",
        )
        .unwrap();
        let _edge = Edge(
            std::process::Command::new("ip")
                .args(["netns", "exec", &lab.edge])
                .arg(&anysip)
                .args(["run", "-c"])
                .arg(&cfg)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        );
        let conf = lab.routerd_config();
        let text = std::fs::read_to_string(&conf).unwrap();
        let from = format!("127.0.0.1:{HEALTH_PORT}/admin/ready");
        assert!(text.contains(&from));
        std::fs::write(&conf, text.replace(&from, "127.0.0.1:25591/admin/ready")).unwrap();
        up(&mut lab).await;
        // POST /admin/drain on the edge (bash's /dev/tcp, inside the namespace).
        let t0 = Instant::now();
        lab.in_edge(&[
            "bash",
            "-c",
            "exec 3<>/dev/tcp/127.0.0.1/25591 && printf 'POST /admin/drain HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 0\\r\\nConnection: close\\r\\n\\r\\n' >&3 && cat <&3 >/dev/null",
        ]);
        lab.expect_route(
            "edge drained: /32 withdrawn",
            ANYCAST4,
            fall_limit(),
            absent,
        )
        .await;
        eprintln!(
            "edge drain to route withdrawn on the router: {:?}",
            t0.elapsed()
        );
    });
}
