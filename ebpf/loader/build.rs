//! Builds the XDP program (`ebpf/xdp`) for `bpfel-unknown-none` with a nested
//! cargo and hands the object to `src/object.rs` (`include_bytes_aligned!`).
//!
//! The eBPF toolchain is optional: without `bpf-linker` or the `rust-src`
//! component (or with `ANYSIP_XDP=off`), the build succeeds with a warning,
//! the `anysip_xdp_built` cfg stays unset, and at run time
//! `Xdp::available()` is false. With the toolchain present, a failing build
//! of the program fails this build, with the nested cargo's output.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "bpfel-unknown-none";
const BIN: &str = "anysip-xdp";

fn main() {
    println!("cargo::rustc-check-cfg=cfg(anysip_xdp_built)");
    println!("cargo::rerun-if-env-changed=ANYSIP_XDP");
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let ebpf = manifest.parent().map(Path::to_path_buf).unwrap_or_default();
    let xdp = ebpf.join("xdp");
    for p in [
        xdp.join("src"),
        xdp.join("Cargo.toml"),
        xdp.join("Cargo.lock"),
        ebpf.join("common/src"),
        ebpf.join("common/Cargo.toml"),
    ] {
        println!("cargo::rerun-if-changed={}", p.display());
    }

    match missing_toolchain() {
        Some(why) => skip(&why),
        None => build(&xdp),
    }
}

/// Why the program cannot be built here, or `None` when it can.
fn missing_toolchain() -> Option<String> {
    if env::var("ANYSIP_XDP").is_ok_and(|v| v == "off") {
        return Some("ANYSIP_XDP=off".into());
    }
    if find_in_path("bpf-linker").is_none() {
        return Some(
            "bpf-linker not found (cargo install bpf-linker@0.10.0 --no-default-features \
             --features rust-llvm-22)"
                .into(),
        );
    }
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let Some(sysroot) = sysroot else {
        return Some("cannot ask rustc for its sysroot".into());
    };
    let core = Path::new(&sysroot).join("lib/rustlib/src/rust/library/core/Cargo.toml");
    if !core.exists() {
        return Some("the rust-src component is missing (rustup component add rust-src)".into());
    }
    None
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = env::var_os("PATH")
        .map(|p| env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = env::var_os("CARGO_HOME") {
        dirs.push(PathBuf::from(home).join("bin"));
    }
    if let Some(home) = env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

fn skip(why: &str) {
    println!("cargo::warning=anysip-xdp: XDP program not built ({why}); XDP will be off");
    println!("cargo::rustc-env=ANYSIP_XDP_STATUS={why}");
}

fn build(xdp: &Path) {
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default());
    let target_dir = out.join("xdp-target");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(xdp)
        .args(["build", "--release", "--locked", "--target", TARGET])
        .args(["-Z", "build-std=core"])
        .arg("--target-dir")
        .arg(&target_dir)
        .env("RUSTC_BOOTSTRAP", "1");
    // Nothing of the outer build's compiler settings applies to the BPF
    // target: flags, wrappers (clippy-driver), target selection.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTDOCFLAGS",
        "CARGO_ENCODED_RUSTDOCFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET_DIR",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_PKG_NAME",
        "CARGO_CFG_TARGET_FEATURE",
    ] {
        cmd.env_remove(var);
    }
    if let Some(home) = env::var_os("HOME") {
        // bpf-linker where `cargo install` put it, even if PATH lacks it.
        let bin = PathBuf::from(home).join(".cargo/bin");
        let mut paths: Vec<PathBuf> = env::var_os("PATH")
            .map(|p| env::split_paths(&p).collect())
            .unwrap_or_default();
        paths.push(bin);
        if let Ok(joined) = env::join_paths(paths) {
            cmd.env("PATH", joined);
        }
    }
    let output = match cmd.output() {
        Ok(o) => o,
        Err(e) => return skip(&format!("cannot run cargo: {e}")),
    };
    if !output.status.success() {
        panic!(
            "building the XDP program (ebpf/xdp) failed; set ANYSIP_XDP=off to build without it\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let obj = target_dir.join(TARGET).join("release").join(BIN);
    let dest = out.join("anysip-xdp.o");
    if let Err(e) = std::fs::copy(&obj, &dest) {
        panic!("copying {} to {}: {e}", obj.display(), dest.display());
    }
    println!("cargo::rustc-cfg=anysip_xdp_built");
    println!("cargo::rustc-env=ANYSIP_XDP_STATUS=built");
}
