//! Automatic shedding: datagrams the kernel dropped because one of this
//! process's SIP sockets had a full receive buffer (the `drops` column of
//! /proc/net/udp{,6} for the listener ports) are the sign that user space
//! cannot keep up. Each second with new drops raises the shed level by one
//! (at most 2); ten quiet seconds in a row lower it by one. The operator's
//! level (admin API) is a floor.

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

/// Datagrams the kernel dropped on this process's own UDP sockets (those
/// bound to `ports`) because their receive buffers were full: the `drops`
/// column of /proc/net/udp and /proc/net/udp6 (0 when unreadable). Other
/// programs' sockets on the host do not count.
pub(crate) fn socket_drops(ports: &[u16]) -> u64 {
    ["/proc/net/udp", "/proc/net/udp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .map(|t| drops_on_ports(&t, ports))
        .fold(0u64, u64::saturating_add)
}

/// Sums the `drops` column of the lines whose local port is in `ports`.
fn drops_on_ports(table: &str, ports: &[u16]) -> u64 {
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let local = f.nth(1)?;
            let port = u16::from_str_radix(local.rsplit(':').next()?, 16).ok()?;
            if !ports.contains(&port) {
                return None;
            }
            l.split_whitespace().last()?.parse::<u64>().ok()
        })
        .fold(0u64, u64::saturating_add)
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
    fn counts_drops_on_our_ports_only() {
        let t = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
          1: 0100007F:13C4 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0000000000000000 7\n\
          2: 0100007F:13C4 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 2 2 0000000000000000 3\n\
          3: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3 2 0000000000000000 99\n";
        assert_eq!(
            drops_on_ports(t, &[5060]),
            10,
            "both SO_REUSEPORT sockets of 5060"
        );
        assert_eq!(drops_on_ports(t, &[5061]), 0);
        assert_eq!(drops_on_ports("garbage\nmore garbage", &[5060]), 0);
        let _ = socket_drops(&[5060]); // never panics, whatever the host has
    }
}
