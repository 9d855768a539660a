//! The Debian package (docs/operations.md, "Debian package"), for real:
//! `scripts/deb --profile dev --no-build` packages the test suite's own
//! debug build (`anysip`, `routerd`, `anysip-docgen`: no second compile)
//! with cargo deb; `dpkg -i` installs it on this machine; the installed
//! example configurations pass `anysip check` / `routerd check`, the
//! installed units (and the XDP drop-in) pass `systemd-analyze verify`,
//! the man pages and shell completions are where man and the shells look,
//! the `anysip` user and the key ring made at install are there; then
//! `dpkg --purge` removes it all. The package is purged however the test
//! ends.
//!
//! Needs root (dpkg). Not root: skipped outside CI, a failure under
//! CI=true, as is a missing tool (cargo-deb, dpkg, systemd-analyze, man).
//! The routerd binary must be built (`cargo build -p anysip-routerd`; the
//! workspace's test run does it).
#![allow(clippy::unwrap_used)]

#[path = "support/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use harness::tool;

const PACKAGE: &str = "anysip";

fn ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The target directory this test was built in (`<target>/debug/anysip`).
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_anysip"))
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .to_owned()
}

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        out.status,
        text(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// dpkg, retried while another process holds its lock (apt-get of a
/// parallel install step), at most a minute.
fn dpkg(args: &[&str]) -> Output {
    let t0 = Instant::now();
    loop {
        let out = Command::new("dpkg").args(args).output().unwrap();
        let locked = text(&out).contains("lock");
        if out.status.success() || !locked || t0.elapsed() > Duration::from_secs(60) {
            return out;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn installed() -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", PACKAGE])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("installed"))
}

/// Purges the package when dropped (the test's end, pass or fail).
struct Purge;

impl Drop for Purge {
    fn drop(&mut self) {
        if installed() {
            let out = dpkg(&["--purge", PACKAGE]);
            if !out.status.success() {
                eprintln!("dpkg --purge {PACKAGE}: {}", text(&out));
            }
        }
    }
}

fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

#[test]
fn debian_package_builds_installs_checks_and_purges() {
    if !is_root() {
        assert!(!ci(), "the package test needs root (dpkg -i) under CI=true");
        eprintln!("SKIPPED: not root (dpkg -i needs it)");
        return;
    }
    let tools = ["dpkg", "dpkg-deb", "systemd-analyze", "man", "cargo-deb"];
    let Some(found) = tools.iter().map(|t| tool(t)).collect::<Option<Vec<_>>>() else {
        return;
    };
    drop(found);
    let debug = target_dir().join("debug");
    if !debug.join("routerd").is_file() {
        assert!(!ci(), "{:?} is not built (CI=true)", debug.join("routerd"));
        eprintln!("SKIPPED: routerd is not built (cargo build -p anysip-routerd)");
        return;
    }
    // One package test at a time on this machine (they share the package
    // name); then another run's left-over is purged: start from none.
    let lock =
        std::fs::File::create(std::env::temp_dir().join("anysip-package-test.lock")).unwrap();
    let _lock = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .unwrap();
    drop(Purge);
    let out_dir = std::env::temp_dir().join(format!("anysip-deb-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out_dir);
    std::fs::create_dir_all(&out_dir).unwrap();

    // Build.
    let t0 = Instant::now();
    let stdout = run(
        Command::new("bash")
            .arg(repo().join("scripts/deb"))
            .args(["--profile", "dev", "--no-build", "--output"])
            .arg(&out_dir)
            .env("CARGO_TARGET_DIR", target_dir()),
        "scripts/deb",
    );
    let deb = PathBuf::from(stdout.lines().last().unwrap_or_default().trim());
    eprintln!(
        "package built in {:.1} s: {} ({} bytes)",
        t0.elapsed().as_secs_f64(),
        deb.display(),
        std::fs::metadata(&deb).map(|m| m.len()).unwrap_or(0)
    );
    assert!(deb.is_file(), "no .deb at {deb:?}: {stdout}");
    let fields = run(
        Command::new("dpkg-deb").args(["--field"]).arg(&deb),
        "dpkg-deb --field",
    );
    assert!(fields.contains("Package: anysip"), "{fields}");
    assert!(
        fields.contains("Depends:") && fields.contains("adduser"),
        "{fields}"
    );
    assert!(
        fields.contains("libpython3.11"),
        "shared library dependencies: {fields}"
    );

    // Install (purged at the end whatever happens).
    let _purge = Purge;
    let out = dpkg(&["-i", deb.to_str().unwrap()]);
    assert!(out.status.success(), "dpkg -i: {}", text(&out));
    check_installed();

    // Purge: nothing of it is left.
    let out = dpkg(&["--purge", PACKAGE]);
    assert!(out.status.success(), "dpkg --purge: {}", text(&out));
    assert!(!installed());
    for gone in [
        "/usr/bin/anysip",
        "/usr/bin/routerd",
        "/usr/lib/systemd/system/anysip@.service",
        "/usr/share/man/man1/anysip.1.gz",
        "/etc/anysip",
    ] {
        assert!(!Path::new(gone).exists(), "{gone} is left after purge");
    }
    let _ = std::fs::remove_dir_all(&out_dir);
}

fn check_installed() {
    // The binaries.
    let v = run(
        Command::new("/usr/bin/anysip").arg("--version"),
        "anysip --version",
    );
    assert!(v.starts_with("anysip "), "{v}");
    run(
        Command::new("/usr/bin/routerd").arg("--version"),
        "routerd --version",
    );

    // The example configurations: conffiles, and valid.
    let conffiles = run(
        Command::new("dpkg-query").args(["-W", "-f=${Conffiles}", PACKAGE]),
        "dpkg-query Conffiles",
    );
    for f in [
        "edge.yaml",
        "core.yaml",
        "core.env",
        "routerd.yaml",
        "core.py",
    ] {
        assert!(
            conffiles.contains(&format!("/etc/anysip/{f} ")),
            "/etc/anysip/{f} is not a conffile: {conffiles}"
        );
    }
    // anysip@core's environment: glibc's arenas kept to two (the soak's
    // setting, docs/operations.md "Memory of a core").
    let env = std::fs::read_to_string("/etc/anysip/core.env").unwrap();
    assert!(
        env.lines().any(|l| l == "MALLOC_ARENA_MAX=2"),
        "/etc/anysip/core.env: {env}"
    );
    let mut checked = 0;
    let examples = std::fs::read_dir("/usr/share/doc/anysip/examples").unwrap();
    let examples = examples.flatten().map(|e| e.path());
    let etc = ["/etc/anysip/edge.yaml", "/etc/anysip/core.yaml"].map(PathBuf::from);
    for path in etc.into_iter().chain(examples) {
        if path.extension().is_none_or(|x| x != "yaml") {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "routerd.yaml") {
            continue;
        }
        let out = run(
            Command::new("/usr/bin/anysip")
                .args(["check", "-c"])
                .arg(&path),
            &format!("anysip check -c {}", path.display()),
        );
        assert!(out.contains(": ok"), "{out}");
        checked += 1;
    }
    assert!(checked >= 7, "only {checked} configurations checked");
    run(
        Command::new("/usr/bin/routerd").args(["check", "-c", "/etc/anysip/routerd.yaml"]),
        "routerd check",
    );

    // The units, with the binaries and man pages they name installed.
    for unit in [
        "anysip@edge.service",
        "anysip@core.service",
        "routerd.service",
    ] {
        run(
            Command::new("systemd-analyze")
                .args(["verify"])
                .arg(Path::new("/usr/lib/systemd/system").join(unit)),
            &format!("systemd-analyze verify {unit}"),
        );
    }
    // The XDP drop-in, applied to an edge instance.
    let units = std::env::temp_dir().join(format!("anysip-units-{}", std::process::id()));
    let dropins = units.join("anysip@edge.service.d");
    std::fs::create_dir_all(&dropins).unwrap();
    std::fs::copy(
        "/usr/lib/systemd/system/anysip@.service",
        units.join("anysip@.service"),
    )
    .unwrap();
    std::fs::copy(
        "/usr/share/doc/anysip/examples/systemd/anysip-xdp.conf",
        dropins.join("xdp.conf"),
    )
    .unwrap();
    run(
        Command::new("systemd-analyze")
            .args(["verify"])
            .arg(units.join("anysip@edge.service"))
            .env("SYSTEMD_UNIT_PATH", format!("{}:", units.display())),
        "systemd-analyze verify anysip@edge.service with the XDP drop-in",
    );
    let _ = std::fs::remove_dir_all(&units);

    // Man pages, generated from the clap definitions, found by man.
    for page in [
        "anysip",
        "anysip-run",
        "anysip-check",
        "anysip-token",
        "anysip-token-keygen",
        "routerd",
        "routerd-run",
        "routerd-drain",
    ] {
        let path = run(
            Command::new("man").args(["-w", page]),
            &format!("man -w {page}"),
        );
        assert_eq!(path.trim(), format!("/usr/share/man/man1/{page}.1.gz"));
    }
    let page = run(
        Command::new("man")
            .args(["-P", "cat", "anysip-token-keygen"])
            .env("MANWIDTH", "100"),
        "man anysip-token-keygen",
    );
    assert!(page.contains("--format"), "{page}");

    // Completions where bash, zsh and fish look; bash's loads.
    for (dir, file) in [
        ("/usr/share/bash-completion/completions", "anysip"),
        ("/usr/share/bash-completion/completions", "routerd"),
        ("/usr/share/zsh/vendor-completions", "_anysip"),
        ("/usr/share/zsh/vendor-completions", "_routerd"),
        ("/usr/share/fish/vendor_completions.d", "anysip.fish"),
        ("/usr/share/fish/vendor_completions.d", "routerd.fish"),
    ] {
        let p = Path::new(dir).join(file);
        assert!(p.is_file(), "{} is missing", p.display());
    }
    let complete = run(
        Command::new("bash").args([
            "-c",
            "source /usr/share/bash-completion/completions/anysip && complete -p anysip",
        ]),
        "bash completion",
    );
    assert!(complete.contains("anysip"), "{complete}");

    // The system user, and the key ring made for it.
    run(
        Command::new("getent").args(["passwd", "anysip"]),
        "getent passwd anysip",
    );
    let keys = Path::new("/etc/anysip/keys.yaml");
    let meta = std::fs::metadata(keys).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(meta.mode() & 0o777, 0o640, "key ring mode");
    let group = run(Command::new("stat").args(["-c", "%G"]).arg(keys), "stat");
    assert_eq!(group.trim(), "anysip");
    run(
        Command::new("/usr/bin/anysip")
            .args(["token", "seal", "--keys"])
            .arg(keys)
            .arg(r#"{"kind":"flow","transport":"udp","ue":"192.0.2.1:5060","local":"203.0.113.1:5060","instance":1,"connection":0}"#),
        "a token sealed with the installed key ring",
    );

    // The BIRD templates and the rest of what operators copy from.
    for f in [
        "/usr/share/anysip/bird/bird.conf",
        "/usr/share/anysip/bird/anysip-anycast.conf",
        "/usr/share/anysip/scripts/proxy_default.py",
        "/usr/share/anysip/prometheus/anysip.rules.yml",
        "/usr/share/anysip/grafana/anysip.json",
        "/usr/share/doc/anysip/docs/operations.md",
        "/usr/share/doc/anysip/copyright",
    ] {
        assert!(Path::new(f).is_file(), "{f} is missing");
    }
}
