//! Automatic shedding: the kernel's count of UDP datagrams dropped because
//! a socket's receive buffer was full (`RcvbufErrors` in /proc/net/snmp and
//! /proc/net/snmp6) is the sign that user space cannot keep up. Each second
//! with new drops raises the shed level by one (at most 2); ten quiet
//! seconds in a row lower it by one. The operator's level (admin API) is a
//! floor.

/// Quiet seconds before the level goes down a step.
const QUIET_SECS: u32 = 10;

/// The automatic part of the shed level.
#[derive(Debug, Default)]
pub(crate) struct Overload {
    last: Option<u64>,
    level: u32,
    quiet: u32,
}

impl Overload {
    /// Feeds one second's reading of the drop counter; the new automatic
    /// level.
    pub(crate) fn observe(&mut self, rcvbuf_errors: u64) -> u32 {
        let grew = self.last.is_some_and(|l| rcvbuf_errors > l);
        self.last = Some(rcvbuf_errors);
        if grew {
            self.level = (self.level + 1).min(2);
            self.quiet = 0;
        } else if self.level > 0 {
            self.quiet += 1;
            if self.quiet >= QUIET_SECS {
                self.level -= 1;
                self.quiet = 0;
            }
        }
        self.level
    }
}

/// `RcvbufErrors` of UDP over IPv4 and IPv6 (0 when unreadable).
pub(crate) fn rcvbuf_errors() -> u64 {
    let v4 = std::fs::read_to_string("/proc/net/snmp")
        .ok()
        .and_then(|t| snmp_field(&t, "Udp:", "RcvbufErrors"))
        .unwrap_or(0);
    let v6 = std::fs::read_to_string("/proc/net/snmp6")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("Udp6RcvbufErrors"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0);
    v4.saturating_add(v6)
}

/// A field of /proc/net/snmp: a header line and a value line per protocol.
fn snmp_field(text: &str, proto: &str, field: &str) -> Option<u64> {
    let mut lines = text.lines().filter(|l| l.starts_with(proto));
    let names = lines.next()?;
    let values = lines.next()?;
    let i = names.split_whitespace().position(|n| n == field)?;
    values.split_whitespace().nth(i)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raises_on_drops_and_lowers_after_quiet_seconds() {
        let mut o = Overload::default();
        assert_eq!(o.observe(100), 0, "the first reading is a baseline");
        assert_eq!(o.observe(100), 0);
        assert_eq!(o.observe(150), 1);
        assert_eq!(o.observe(200), 2);
        assert_eq!(o.observe(300), 2, "at most 2");
        for _ in 0..QUIET_SECS - 1 {
            assert_eq!(o.observe(300), 2);
        }
        assert_eq!(o.observe(300), 1);
        for _ in 0..QUIET_SECS {
            o.observe(300);
        }
        assert_eq!(o.observe(300), 0);
    }

    #[test]
    fn reads_proc_net_snmp() {
        let t = "Ip: Forwarding DefaultTTL\nIp: 1 64\nUdp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\nUdp: 10 2 0 9 7 0\n";
        assert_eq!(snmp_field(t, "Udp:", "RcvbufErrors"), Some(7));
        assert_eq!(snmp_field(t, "Tcp:", "RcvbufErrors"), None);
        let _ = rcvbuf_errors(); // never panics, whatever the host has
    }
}
