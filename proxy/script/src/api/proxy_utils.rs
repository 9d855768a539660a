//! SIPhon's utility calls on `proxy`: `rate_limit`, `sanity_check` and
//! `memory_used_pct`.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use sip::HeaderName;

use super::proxy::Proxy;
use super::request::Request;

/// Source addresses tracked by `rate_limit` at most; beyond, the one idle
/// longest is forgotten.
const MAX_SOURCES: usize = 100_000;
/// The most requests one window may count (`max_requests` is capped).
const MAX_PER_WINDOW: usize = 100_000;

/// The request times of each source in its window.
static WINDOWS: Mutex<Option<HashMap<IpAddr, VecDeque<Instant>>>> = Mutex::new(None);

/// Whether one more request from `ip` at `now` stays within `max` per
/// `window` (sliding); counts it when it does.
fn allow(ip: IpAddr, now: Instant, window: Duration, max: usize) -> bool {
    let mut g = WINDOWS.lock().unwrap_or_else(PoisonError::into_inner);
    let map = g.get_or_insert_with(HashMap::new);
    if !map.contains_key(&ip) && map.len() >= MAX_SOURCES {
        map.retain(|_, times| {
            times
                .back()
                .is_some_and(|t| now.duration_since(*t) < window)
        });
        if map.len() >= MAX_SOURCES {
            let idle = map
                .iter()
                .min_by_key(|(_, times)| times.back().copied())
                .map(|(ip, _)| *ip);
            if let Some(idle) = idle {
                map.remove(&idle);
            }
        }
    }
    let times = map.entry(ip).or_default();
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) >= window)
    {
        times.pop_front();
    }
    if times.len() >= max {
        return false;
    }
    times.push_back(now);
    true
}

/// Resident memory as a percentage of the machine's (Linux `/proc`).
fn memory_pct() -> u32 {
    let field = |text: &str, name: &str| -> Option<u64> {
        text.lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|t| field(&t, "VmRSS:"));
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| field(&t, "MemTotal:"));
    match (rss, total) {
        (Some(r), Some(t)) if t > 0 => u32::try_from((r * 100 / t).min(100)).unwrap_or(100),
        _ => 0,
    }
}

#[pymethods]
impl Proxy {
    /// True when the request's source IP sent fewer than `max_requests`
    /// requests in the last `window_secs` seconds (then this one counts);
    /// False when it should be refused.
    fn rate_limit(
        &self,
        request: &Bound<'_, Request>,
        window_secs: f64,
        max_requests: usize,
    ) -> PyResult<bool> {
        if !(window_secs.is_finite() && window_secs > 0.0 && window_secs <= 86_400.0) {
            return Err(PyValueError::new_err(
                "window_secs must be a positive number of seconds (at most a day)",
            ));
        }
        let ip = request.try_borrow()?.ctx.source.ip();
        Ok(allow(
            ip,
            Instant::now(),
            Duration::from_secs_f64(window_secs),
            max_requests.min(MAX_PER_WINDOW),
        ))
    }

    /// RFC 3261 basics: Via, From, To, Call-ID and CSeq present,
    /// Max-Forwards not 0, the CSeq method is the request's, and
    /// Content-Length (when given) is the body's length.
    fn sanity_check(&self, request: &Bound<'_, Request>) -> PyResult<bool> {
        let req = request.try_borrow()?;
        let msg = &req.ctx.message;
        let Some(method) = msg.method() else {
            return Ok(false);
        };
        let mandatory = [
            HeaderName::Via,
            HeaderName::From,
            HeaderName::To,
            HeaderName::CallId,
            HeaderName::CSeq,
        ];
        if mandatory.iter().any(|h| msg.header(*h).is_none()) {
            return Ok(false);
        }
        if msg.max_forwards().ok().flatten() == Some(0) {
            return Ok(false);
        }
        match msg.cseq() {
            Ok(c) if c.method == method.as_str() => {}
            _ => return Ok(false),
        }
        if let Some(cl) = msg.header(HeaderName::ContentLength) {
            if cl.trim().parse::<usize>().ok() != Some(msg.body().len()) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// This process's resident memory as a percentage (0–100) of the
    /// machine's; 0 when `/proc` cannot tell.
    fn memory_used_pct(&self) -> u32 {
        memory_pct()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliding_window() {
        let ip: IpAddr = [198, 51, 100, 77].into();
        let t0 = Instant::now();
        let w = Duration::from_secs(1);
        assert!(allow(ip, t0, w, 2));
        assert!(allow(ip, t0, w, 2));
        assert!(!allow(ip, t0 + Duration::from_millis(500), w, 2));
        assert!(allow(ip, t0 + Duration::from_millis(1001), w, 2));
        assert!(memory_pct() <= 100);
    }
}
