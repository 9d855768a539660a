//! Every BIRD template in deploy/bird/ passes `bird -p -c`, and the shipped
//! example configuration is accepted by `routerd check`.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

/// `bird` if present; under CI=true its absence fails, otherwise skips loudly.
fn bird() -> Option<&'static str> {
    let found = Command::new("sh")
        .args(["-c", "command -v bird"])
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some("bird");
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("bird not installed (CI=true: a missing tool is a failure; apt-get install bird2)");
    }
    eprintln!("\n!!!!! SKIPPING: bird not installed (apt-get install bird2) !!!!!\n");
    None
}

fn parse(bird: &str, conf: &Path) -> (bool, String) {
    let out = Command::new(bird)
        .arg("-p")
        .arg("-c")
        .arg(conf)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The main file includes every other template, so parsing it parses them
/// all (the others are fragments that only parse in that context).
#[test]
fn every_template_parses() {
    let Some(bird) = bird() else { return };
    let dir = deploy().join("bird");
    let mut confs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    confs.sort();
    assert!(confs.len() >= 4, "{confs:?}");
    let main = dir.join("bird.conf");
    let (ok, text) = parse(bird, &main);
    assert!(ok, "bird -p -c {}: {text}", main.display());
    // Every other template is reached from bird.conf.
    let main_text = std::fs::read_to_string(&main).unwrap();
    for c in &confs {
        let name = c.file_name().unwrap().to_string_lossy().into_owned();
        if name != "bird.conf" {
            assert!(
                main_text.contains(&format!("include \"{name}\";")),
                "{name} is not included by bird.conf, so it is not checked"
            );
        }
    }
}

/// The check above is real: a broken template fails it.
#[test]
fn a_broken_template_is_caught() {
    let Some(bird) = bird() else { return };
    let tmp = std::env::temp_dir().join(format!("routerd-templates-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for e in std::fs::read_dir(deploy().join("bird")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, tmp.join(p.file_name().unwrap())).unwrap();
    }
    let anycast = tmp.join("anysip-anycast.conf");
    let text = std::fs::read_to_string(&anycast).unwrap();
    std::fs::write(
        &anycast,
        text.replace(
            "bgp_community.add((65535, 0));",
            "bgp_community.add((65535, 0))",
        ),
    )
    .unwrap();
    let (ok, text) = parse(bird, &tmp.join("bird.conf"));
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(!ok, "a syntax error passed: {text}");
    assert!(text.contains("anysip-anycast.conf"), "{text}");
}

#[test]
fn routerd_check_accepts_the_example_and_rejects_unknown_keys() {
    let example = deploy().join("examples/routerd.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_routerd"))
        .args(["check", "-c"])
        .arg(&example)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let bad = std::env::temp_dir().join(format!("routerd-bad-{}.yaml", std::process::id()));
    let text = std::fs::read_to_string(&example).unwrap();
    std::fs::write(
        &bad,
        text.replace("  timeout_ms: 2000", "  timeout_ms: 2000\n  timout: 1"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_routerd"))
        .args(["check", "-c"])
        .arg(&bad)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&bad);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("bird.timout") && err.contains("unknown field"),
        "{err}"
    );
}
