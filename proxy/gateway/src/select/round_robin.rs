//! Plain round robin over the eligible members, weights ignored.

#[derive(Debug, Clone, Default)]
pub(crate) struct RoundRobin {
    /// Where the next search starts.
    cursor: usize,
}

impl RoundRobin {
    pub(crate) fn next(&mut self, n: usize, eligible: impl Fn(usize) -> bool) -> Option<usize> {
        if n == 0 {
            return None;
        }
        let start = self.cursor % n;
        let chosen = (0..n).map(|off| (start + off) % n).find(|&i| eligible(i))?;
        self.cursor = (chosen + 1) % n;
        Some(chosen)
    }
}
