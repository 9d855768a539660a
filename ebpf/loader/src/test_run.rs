//! [`TestProgram`]: the program loaded but not attached, run on frames with
//! `BPF_PROG_TEST_RUN` (tests and `anysip` self-checks).

use std::net::IpAddr;
use std::time::Duration;

use aya::programs::{TestRun, TestRunOptions};

use crate::object::Loaded;
use crate::{Config, Counters, Verdict, XdpError};

const XDP_DROP: u32 = 1;
const XDP_PASS: u32 = 2;

/// What the kernel says about the loaded program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgramStats {
    /// Instructions the verifier processed (kernel 5.16+).
    pub verified_insns: Option<u32>,
    /// Size of the program as the kernel translated it, in bytes.
    pub translated_bytes: Option<u32>,
}

/// The XDP program, loaded with its maps but attached nowhere.
#[derive(Debug)]
pub struct TestProgram {
    loaded: Loaded,
}

impl TestProgram {
    /// Loads the program with `config`.
    pub fn load(config: &Config) -> Result<TestProgram, XdpError> {
        Ok(TestProgram {
            loaded: Loaded::load(config)?,
        })
    }

    /// Replaces the configuration.
    pub fn set_config(&mut self, config: &Config) -> Result<(), XdpError> {
        self.loaded.maps.set_config(config)
    }

    /// Adds `addr/prefix_len` to the blocklist.
    pub fn block(&mut self, addr: IpAddr, prefix_len: u8) -> Result<(), XdpError> {
        self.loaded.maps.block(addr, prefix_len)
    }

    /// Removes `addr/prefix_len` from the blocklist.
    pub fn unblock(&mut self, addr: IpAddr, prefix_len: u8) -> Result<(), XdpError> {
        self.loaded.maps.unblock(addr, prefix_len)
    }

    /// The counters, summed over CPUs.
    pub fn counters(&self) -> Result<Counters, XdpError> {
        self.loaded.maps.counters()
    }

    /// What the kernel says about the program (verifier work, size).
    pub fn stats(&mut self) -> Result<ProgramStats, XdpError> {
        let info = self.loaded.program()?.info().map_err(XdpError::program)?;
        Ok(ProgramStats {
            verified_insns: info.verified_instruction_count(),
            translated_bytes: info.size_translated(),
        })
    }

    /// Runs the program `repeat` times on `frame` in the kernel and returns
    /// the mean time per run as the kernel measured it. The counters move
    /// by `repeat`; buckets and time are real, so a new request soon runs
    /// into the rate limit.
    pub fn time(&mut self, frame: &[u8], repeat: u32) -> Result<Duration, XdpError> {
        let opts = TestRunOptions {
            data_in: Some(frame),
            repeat: repeat.max(1),
            ..TestRunOptions::default()
        };
        let result = self
            .loaded
            .program()?
            .test_run(opts)
            .map_err(|e| XdpError::TestRun(e.to_string()))?;
        Ok(result.duration)
    }

    /// Runs the program once on `frame` (an Ethernet frame, at least 14
    /// bytes) and returns its verdict, read from the counter that moved.
    /// Fails when the action (`XDP_DROP`/`XDP_PASS`) disagrees with the
    /// verdict or not exactly one counter moved by one.
    pub fn run(&mut self, frame: &[u8]) -> Result<Verdict, XdpError> {
        let before = self.counters()?;
        let opts = TestRunOptions {
            data_in: Some(frame),
            ..TestRunOptions::default()
        };
        let result = self
            .loaded
            .program()?
            .test_run(opts)
            .map_err(|e| XdpError::TestRun(e.to_string()))?;
        let after = self.counters()?;
        let moved: Vec<Verdict> = Verdict::ALL
            .into_iter()
            .filter(|v| {
                let i = v.counter_index() as usize;
                after.get(i) != before.get(i)
            })
            .collect();
        let verdict = match moved.as_slice() {
            [v] => *v,
            _ => {
                return Err(XdpError::TestRun(format!(
                    "counters moved {moved:?} (before {before:?}, after {after:?})"
                )))
            }
        };
        let want = if verdict.is_drop() {
            XDP_DROP
        } else {
            XDP_PASS
        };
        if result.return_value != want {
            return Err(XdpError::TestRun(format!(
                "verdict {verdict:?} but XDP action {}",
                result.return_value
            )));
        }
        Ok(verdict)
    }
}
