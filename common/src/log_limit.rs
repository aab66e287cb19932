//! Repeated log lines, limited. A WARN site on a request path fires on every
//! request while a dependency is down (the gateway wrote 23 MB of identical
//! lines in a ten-second archive-svc outage); behind a [`LogLimit`] it writes
//! its first line, then at most one line per interval, whose `repeated` field
//! says how many lines like it were left out since the last one written.
//!
//! ```
//! use archive_common::log_limit::{LogLimit, EVERY};
//!
//! static DOWN: LogLimit = LogLimit::new(EVERY);
//! # let service = "archive-svc";
//! if let Some(repeated) = DOWN.admit(service) {
//!     tracing::warn!(service, repeated, "upstream unavailable");
//! }
//! ```

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

/// The interval the services' limited sites use.
pub const EVERY: Duration = Duration::from_secs(10);

/// Most keys one site tells apart (e.g. one per upstream service); past
/// that, the key written longest ago is forgotten.
const MAX_KEYS: usize = 64;

/// One log site's limit, per key (what makes two lines "the same": the
/// service that failed, the outbox that failed to deliver).
#[derive(Debug)]
pub struct LogLimit {
    every: Duration,
    keys: Mutex<Vec<Key>>,
}

#[derive(Debug)]
struct Key {
    key: String,
    written: Instant,
    left_out: u64,
}

impl LogLimit {
    pub const fn new(every: Duration) -> Self {
        Self {
            every,
            keys: Mutex::new(Vec::new()),
        }
    }

    /// Whether to write the line for `key` now: `Some(n)` when it is the
    /// first, or the interval has passed since the last one written, `n`
    /// being how many were left out in between; `None` to leave it out.
    pub fn admit(&self, key: &str) -> Option<u64> {
        self.admit_at(key, Instant::now())
    }

    fn admit_at(&self, key: &str, now: Instant) -> Option<u64> {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(k) = keys.iter_mut().find(|k| k.key == key) {
            if now.saturating_duration_since(k.written) < self.every {
                k.left_out += 1;
                return None;
            }
            k.written = now;
            return Some(std::mem::take(&mut k.left_out));
        }
        if keys.len() >= MAX_KEYS
            && let Some(oldest) = keys
                .iter()
                .enumerate()
                .min_by_key(|(_, k)| k.written)
                .map(|(i, _)| i)
        {
            keys.swap_remove(oldest);
        }
        keys.push(Key {
            key: key.to_owned(),
            written: now,
            left_out: 0,
        });
        Some(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_then_one_per_interval_with_the_count() {
        let limit = LogLimit::new(Duration::from_secs(10));
        let t0 = Instant::now();
        let at = |secs: u64| t0 + Duration::from_secs(secs);
        assert_eq!(limit.admit_at("archive-svc", at(0)), Some(0));
        for s in 1..10 {
            assert_eq!(limit.admit_at("archive-svc", at(s)), None);
        }
        // Another key is another line.
        assert_eq!(limit.admit_at("authz-svc", at(5)), Some(0));
        assert_eq!(limit.admit_at("archive-svc", at(10)), Some(9));
        assert_eq!(limit.admit_at("archive-svc", at(11)), None);
        // A quiet spell: the next line comes at once, counting the one left out.
        assert_eq!(limit.admit_at("archive-svc", at(60)), Some(1));
        assert_eq!(limit.admit_at("archive-svc", at(61)), None);
    }

    #[test]
    fn keys_are_bounded() {
        let limit = LogLimit::new(Duration::from_secs(10));
        let t0 = Instant::now();
        for i in 0..(MAX_KEYS as u64 + 10) {
            let at = t0 + Duration::from_millis(i);
            assert_eq!(limit.admit_at(&format!("k{i}"), at), Some(0));
        }
        assert_eq!(limit.keys.lock().unwrap().len(), MAX_KEYS);
        // The newest keys are still limited.
        let last = format!("k{}", MAX_KEYS as u64 + 9);
        assert_eq!(limit.admit_at(&last, t0 + Duration::from_secs(1)), None);
    }
}
