//! [`XdpError`]: everything that can go wrong loading, attaching and talking
//! to the XDP program.

use std::net::IpAddr;

/// An error of the XDP loader.
#[derive(Debug, thiserror::Error)]
pub enum XdpError {
    /// This binary was built without the XDP program (the eBPF toolchain was
    /// absent at build time); the reason is the build script's.
    #[error("the XDP program is not built into this binary ({0})")]
    NotBuilt(&'static str),
    /// The object could not be parsed or its maps could not be created.
    #[error("loading the XDP object: {0}")]
    Object(#[source] Box<aya::EbpfError>),
    /// The kernel (verifier) rejected the program. The message shows the
    /// end of the log, where the verifier says what it refused; the field
    /// has all of it.
    #[error(
        "the kernel rejected the XDP program: {source}\nverifier log (last {VERIFIER_TAIL} lines):\n{}",
        tail(verifier_log)
    )]
    Verifier {
        /// The error of `BPF_PROG_LOAD`.
        source: std::io::Error,
        /// The verifier's whole log.
        verifier_log: String,
    },
    /// Another error from the program API.
    #[error("XDP program: {0}")]
    Program(#[source] Box<aya::programs::ProgramError>),
    /// Attaching to an interface failed (in every mode tried).
    #[error("attaching XDP to {interface}: {source}")]
    Attach {
        /// The interface.
        interface: String,
        /// The last error.
        source: Box<aya::programs::ProgramError>,
    },
    /// The object lacks a map or the program (a build mismatch).
    #[error("the XDP object has no {0}")]
    Missing(&'static str),
    /// A map operation failed.
    #[error("XDP map {map}: {source}")]
    Map {
        /// The map's name.
        map: &'static str,
        /// What failed.
        source: Box<aya::maps::MapError>,
    },
    /// A prefix length longer than the address.
    #[error("prefix length {prefix_len} is too long for {addr}")]
    PrefixLength {
        /// The address.
        addr: IpAddr,
        /// The prefix length given.
        prefix_len: u8,
    },
    /// `BPF_PROG_TEST_RUN` failed or gave a result the counters cannot
    /// explain.
    #[error("XDP test run: {0}")]
    TestRun(String),
}

/// Lines of the verifier log shown by [`XdpError`]'s `Display`.
pub const VERIFIER_TAIL: usize = 40;

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    let from = lines.len().saturating_sub(VERIFIER_TAIL);
    lines.get(from..).unwrap_or(&[]).join("\n")
}

impl XdpError {
    pub(crate) fn map(map: &'static str, e: aya::maps::MapError) -> XdpError {
        XdpError::Map {
            map,
            source: Box::new(e),
        }
    }

    pub(crate) fn program(e: aya::programs::ProgramError) -> XdpError {
        match e {
            aya::programs::ProgramError::LoadError {
                io_error,
                verifier_log,
            } => XdpError::Verifier {
                source: io_error,
                verifier_log: verifier_log.to_string(),
            },
            e => XdpError::Program(Box::new(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_errors_show_the_end_of_the_log() {
        let log: String = (0..100).map(|i| format!("insn {i}\n")).collect();
        let e = XdpError::Verifier {
            source: std::io::Error::from_raw_os_error(13),
            verifier_log: log,
        };
        let shown = e.to_string();
        assert!(
            shown.contains("insn 99") && shown.contains("insn 60"),
            "{shown}"
        );
        assert!(!shown.contains("insn 59\n"), "{shown}");
    }
}
