//! The command line: `check` over the shipped examples, `token keygen | seal | open`.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

fn anysip() -> Command {
    Command::new(env!("CARGO_BIN_EXE_anysip"))
}

fn examples() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/examples");
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        // routerd's configuration is routerd's (`routerd check` tests it).
        .filter(|p| {
            !p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("routerd")
        })
        .collect();
    v.sort();
    v
}

#[test]
fn check_accepts_every_shipped_example() {
    let ex = examples();
    assert!(ex.len() >= 3, "{ex:?}");
    for path in ex {
        let out = anysip()
            .arg("check")
            .arg("-c")
            .arg(&path)
            .env("ANYSIP_TOKEN_KEYS", "unused")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn check_names_file_key_and_problem() {
    let dir = std::env::temp_dir().join(format!("anysip-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        "role: edge\nlisten:\n  udp: [127.0.0.1:5060]\nserver:\n  instance_id: 1\n  drain_sec: 3\n",
    )
    .unwrap();
    let out = anysip().arg("check").arg("-c").arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.yaml") && err.contains("server") && err.contains("drain_sec"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_refuses_what_run_does_not_serve() {
    let dir = std::env::temp_dir().join(format!("anysip-cli-unserved-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let base = "listen:\n  udp: [127.0.0.1:5060]\ngateway:\n  groups:\n    - name: backends\n      destinations:\n        - uri: sip:127.0.0.1:5070\n          address: 127.0.0.1:5070\n";
    for (name, text, key) in [
        (
            "otlp.yaml",
            format!("{base}telemetry:\n  otlp:\n    endpoint: https://collector:4318\n"),
            "telemetry.otlp.endpoint",
        ),
        (
            "backend.yaml",
            base.replace(
                "          address: 127.0.0.1:5070\n",
                "          address: 127.0.0.1:5070\n          transport: tcp\n",
            ),
            // A TCP backend reaches the edge over TCP: without a TCP
            // listener, it could not.
            "listen.tcp",
        ),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        for cmd in ["check", "run"] {
            let out = anysip().arg(cmd).arg("-c").arg(&path).output().unwrap();
            assert_eq!(out.status.code(), Some(1), "{cmd} {name}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains(key), "{cmd} {name}: {err}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn websocket_listeners_are_the_edge_s() {
    let dir = std::env::temp_dir().join(format!("anysip-cli-ws-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/scripts/proxy_default.py");
    for key in ["ws", "wss"] {
        let path = dir.join(format!("core-{key}.yaml"));
        std::fs::write(
            &path,
            format!(
                "role: core\nlisten:\n  udp: [127.0.0.1:5070]\n  {key}: [127.0.0.1:8443]\n\
                 tls:\n  cert: {s}\n  key: {s}\nscript:\n  path: {s}\n",
                s = script.display()
            ),
        )
        .unwrap();
        let out = anysip().arg("check").arg("-c").arg(&path).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{key}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("listen.{key}: WebSocket is served by role: edge")),
            "{key}: {err}"
        );
    }
    // On an edge, check accepts them.
    let path = dir.join("edge-ws.yaml");
    std::fs::write(
        &path,
        "listen:\n  udp: [127.0.0.1:5060]\n  ws: [127.0.0.1:8080]\nwebsocket:\n  allowed_origins: [\"https://app.example.com\"]\n\
         gateway:\n  groups:\n    - name: backends\n      destinations:\n        - uri: sip:127.0.0.1:5070\n          address: 127.0.0.1:5070\n",
    )
    .unwrap();
    let out = anysip().arg("check").arg("-c").arg(&path).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn token_keygen_seal_open_round_trip() {
    let dir = std::env::temp_dir().join(format!("anysip-token-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let keys = dir.join("keys.yaml");
    let out = anysip()
        .args(["token", "keygen", "--id", "7"])
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::write(&keys, &out.stdout).unwrap();
    let flow = r#"{"kind":"flow","transport":"tcp","ue":"192.0.2.1:5060","local":"203.0.113.1:5060","instance":3,"connection":42}"#;
    let out = anysip()
        .args(["token", "seal", "--keys"])
        .arg(&keys)
        .arg(flow)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(token
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    let uri = format!("<sip:{token}@192.0.2.10:5060;lr>");
    let out = anysip()
        .args(["token", "open", "--keys"])
        .arg(&keys)
        .arg(&uri)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["token"]["ue"], "192.0.2.1:5060");
    assert_eq!(json["token"]["connection"], 42);
    assert_eq!(json["key_id"], 7);
    // Another key ring cannot open it.
    let other = dir.join("other.yaml");
    let out = anysip().args(["token", "keygen"]).output().unwrap();
    std::fs::write(&other, &out.stdout).unwrap();
    let out = anysip()
        .args(["token", "open", "--keys"])
        .arg(&other)
        .arg(&token)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `anysip check` on configurations in SIPhon's shapes: they pass, with
/// one warning per unserved section and per unset variable; a typo is
/// still refused with the file, line and key.
#[test]
fn check_reads_siphon_configs_with_warnings() {
    let dir = std::env::temp_dir().join(format!("anysip-cli-siphon-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/siphon");

    // SIPhon's single node, as published: a core, no warning.
    let out = anysip()
        .args(["check", "-c"])
        .arg(data.join("deployment/siphon.yaml"))
        .env("HOSTNAME", "node-a")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stdout.contains("warning"), "{stdout}");
    assert!(stdout.ends_with("siphon.yaml: ok\n"), "{stdout}");

    let shaped = dir.join("siphon.yaml");
    std::fs::write(
        &shaped,
        "listen:\n  udp: [\"127.0.0.1:5060\"]\ndomain:\n  local: [example.com]\n\
         script:\n  path: lb.py\n  reload: auto\n\
         log:\n  level: info\n  format: pretty\n\
         gateway:\n  groups:\n    - name: backends\n      algorithm: hash\n      destinations:\n\
         \x20       - uri: \"sip:backend1:5060\"\n          address: \"localhost:5071\"\n\
         server:\n  user_agent_header: \"${ANYSIP_CLI_TEST_UNSET_UA}\"\n\
         b2bua:\n  default_header_policy: \"transparent-b2bua@2026\"\n\
         media:\n  backend: rtpengine\n",
    )
    .unwrap();
    let out = anysip()
        .args(["check", "-c"])
        .arg(&shaped)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = shaped.display().to_string();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert!(
        lines[0].starts_with(&format!(
            "{file}: warning: line 19: environment variable ANYSIP_CLI_TEST_UNSET_UA is not set"
        )),
        "{stdout}"
    );
    assert_eq!(
        lines[1],
        format!("{file}: warning: not served by anysip: b2bua (section ignored)")
    );
    assert_eq!(
        lines[2],
        format!("{file}: warning: not served by anysip: media (section ignored)")
    );
    assert_eq!(lines[3], format!("{file}: ok"));

    // A typo'd key: refused, with the file, the line and the key.
    let typo = dir.join("typo.yaml");
    std::fs::write(
        &typo,
        std::fs::read_to_string(&shaped)
            .unwrap()
            .replace("  reload: auto", "  reloda: auto"),
    )
    .unwrap();
    let out = anysip().args(["check", "-c"]).arg(&typo).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:7:3: script.reloda: unknown field `reloda`",
            typo.display()
        )),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
