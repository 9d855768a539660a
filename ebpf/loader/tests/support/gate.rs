//! Whether a test that needs root and the built XDP program can run here:
//! when not, it is skipped with a message, or fails when `CI=true`.

use anysip_xdp::Xdp;

/// True when the test may go on. Otherwise prints why it is skipped, or
/// panics under `CI=true` (CI must run every test).
pub fn can_run(test: &str) -> bool {
    let why = if !Xdp::available() {
        format!("XDP program not built ({})", Xdp::build_status())
    } else if !is_root() {
        "not root (needs CAP_BPF and CAP_NET_ADMIN)".to_string()
    } else {
        return true;
    };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: {why}, and CI=true");
    }
    eprintln!("skip {test}: {why}");
    false
}

/// The effective uid is 0 (read from /proc, no libc call).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}
