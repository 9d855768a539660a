//! The parity table: every fixture frame goes through the host classifier
//! and through the loaded XDP program (`BPF_PROG_TEST_RUN`), in the same
//! order and with the same configuration and blocklists; both must give the
//! expected verdict, and the program's counters must add up.
#![allow(clippy::unwrap_used)]

#[path = "../../common/tests/support/mod.rs"]
mod frames;
#[path = "support/gate.rs"]
mod gate;
#[path = "support/table.rs"]
mod table;

use anysip_ebpf_common::{classify, Config, Verdict};
use anysip_xdp::TestProgram;
use frames::{ctx, ip, TestCtx};
use table::{Row, Step};

/// Runs `steps` on both sides; returns the expected counter totals.
fn run_steps(steps: &[Step], prog: &mut TestProgram, host: &mut TestCtx) -> [u64; 6] {
    let mut cfg: Option<Config> = None;
    let mut want_counts = [0u64; Verdict::COUNT as usize];
    for step in steps {
        match step {
            Step::Config(c) => {
                prog.set_config(c).unwrap();
                cfg = Some(*c);
            }
            Step::Row(Row { name, frame, want }) => {
                let c = cfg.as_ref().unwrap();
                let h = classify(frame, c, host);
                let p = prog
                    .run(frame)
                    .unwrap_or_else(|e| panic!("{name}: test run: {e}"));
                assert_eq!(h, *want, "{name}: host classifier");
                assert_eq!(p, *want, "{name}: XDP program");
                want_counts[want.counter_index() as usize] += 1;
            }
        }
    }
    want_counts
}

#[test]
fn host_and_program_agree() {
    if !gate::can_run("host_and_program_agree") {
        return;
    }
    let steps = table::steps();
    let first = match steps.first() {
        Some(Step::Config(c)) => *c,
        _ => panic!("the table starts with a configuration"),
    };
    let mut prog = TestProgram::load(&first).unwrap_or_else(|e| panic!("{e}"));
    prog.block(ip("203.0.113.0"), 24).unwrap();
    prog.block(ip("2001:db8:bad::"), 48).unwrap();
    let mut host = ctx();
    let want = run_steps(&steps, &mut prog, &mut host);
    let got = prog.counters().unwrap();
    assert_eq!(got, want, "counters");
    let rows = steps.iter().filter(|s| matches!(s, Step::Row(_))).count();
    assert_eq!(got.iter().sum::<u64>(), rows as u64);
    for v in Verdict::ALL {
        assert!(want[v.counter_index() as usize] > 0, "no row for {v:?}");
    }
    eprintln!("parity: {rows} frames, counters {got:?}");
    let stats = prog.stats().unwrap();
    eprintln!("program: {stats:?}");
    // About 40k on 6.18; the limit is 1M. A jump means some change
    // defeated the state pruning (see `PacketBytes::opaque`).
    if let Some(n) = stats.verified_insns {
        assert!(n < 200_000, "the verifier processed {n} instructions");
    }
}

/// Not an assertion on speed (the machine is shared): prints the kernel's
/// mean time per run for a few frames, for the record.
#[test]
fn time_per_frame() {
    if !gate::can_run("time_per_frame") {
        return;
    }
    let mut cfg = table::config();
    cfg.rate_per_sec = 0;
    let mut prog = TestProgram::load(&cfg).unwrap();
    for (name, payload) in [
        ("invite", table::INVITE),
        ("response", table::RESPONSE),
        ("junk", table::JUNK),
    ] {
        for src in ["198.51.100.7", "2001:db8:1::7"] {
            let dst = if src.contains(':') {
                frames::OUR_V6
            } else {
                frames::OUR_V4
            };
            let frame = frames::Pkt::udp(src, dst, 5060, payload).build();
            let t = prog.time(&frame, 100_000).unwrap();
            eprintln!("{name} from {src}: {t:?} per run");
        }
    }
}

#[test]
fn unblock_and_reconfigure() {
    if !gate::can_run("unblock_and_reconfigure") {
        return;
    }
    let cfg = table::config();
    let mut prog = TestProgram::load(&cfg).unwrap();
    let invite = frames::Pkt::udp("203.0.113.9", frames::OUR_V4, 5060, table::INVITE).build();
    assert_eq!(prog.run(&invite).unwrap(), Verdict::Pass);
    // Host bits past the prefix do not matter.
    prog.block(ip("203.0.113.77"), 24).unwrap();
    assert_eq!(prog.run(&invite).unwrap(), Verdict::DropBlocklisted);
    prog.unblock(ip("203.0.113.0"), 24).unwrap();
    assert_eq!(prog.run(&invite).unwrap(), Verdict::Pass);
    prog.unblock(ip("203.0.113.0"), 24).unwrap();
    assert!(prog.block(ip("203.0.113.0"), 33).is_err());
    assert!(prog.block(ip("2001:db8::"), 129).is_err());
    // No ports: nothing is ours.
    prog.set_config(&Config::EMPTY).unwrap();
    assert_eq!(prog.run(&invite).unwrap(), Verdict::PassNotOurs);
}
