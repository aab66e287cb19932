//! One measured scenario: N players, each on its own keep-alive connection,
//! fetching recordings (whole, or one random fixed-size range) back to back
//! until the time is up or each has made its share of requests; every
//! answer is checked (status, length, `Content-Range`) before it counts.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::sync::Barrier;

use crate::client::Player;

/// No single request may take longer than this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// A player that meets this many failures stops.
const MAX_ERRORS_PER_PLAYER: u64 = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Whole,
    /// A random range of this many bytes.
    Range(u64),
}

impl Mode {
    /// Its name on the command line (`--requests`).
    pub(crate) fn keyword(self) -> &'static str {
        match self {
            Mode::Whole => "whole",
            Mode::Range(_) => "range",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mode::Whole => f.write_str("whole file"),
            Mode::Range(n) => write!(f, "{} KiB range", n / 1024),
        }
    }
}

/// A server under load and the request path of every recording on it.
pub(crate) struct Target {
    pub(crate) name: &'static str,
    pub(crate) addr: SocketAddr,
    /// The store a redirecting server sends players to.
    pub(crate) redirects_to: Option<SocketAddr>,
    pub(crate) paths: Arc<Vec<String>>,
    /// The process whose memory is reported, when it is ours to watch.
    pub(crate) pid: Option<u32>,
    /// The processes that serve its requests, whose CPU time is counted.
    pub(crate) cpu: Vec<u32>,
}

/// Bounds of one scenario.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) duration: Duration,
    pub(crate) max_requests_per_player: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) requests: u64,
    pub(crate) errors: u64,
    pub(crate) first_error: Option<String>,
    pub(crate) bytes: u64,
    pub(crate) elapsed: Duration,
    /// Sorted.
    pub(crate) ttfb: Vec<Duration>,
    /// CPU ticks the serving processes spent meanwhile (see `cpu`).
    pub(crate) cpu_ticks: u64,
    /// Of `cpu_ticks`, what the measured server's own process spent, when
    /// the stack is more than that process (media-svc in front of S3).
    pub(crate) own_cpu_ticks: Option<u64>,
}

impl Outcome {
    pub(crate) fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Server CPU per request, µs (`None` without processes to watch).
    pub(crate) fn cpu_us_per_request(&self) -> Option<f64> {
        (self.cpu_ticks > 0 && self.requests > 0)
            .then(|| crate::cpu::seconds(self.cpu_ticks) * 1e6 / self.requests as f64)
    }

    pub(crate) fn own_cpu_us_per_request(&self) -> Option<f64> {
        let ticks = self.own_cpu_ticks?;
        (self.requests > 0).then(|| crate::cpu::seconds(ticks) * 1e6 / self.requests as f64)
    }

    pub(crate) fn requests_per_s(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Adds another run of the same scenario (one round of several).
    pub(crate) fn merge(&mut self, other: Outcome) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.bytes += other.bytes;
        self.elapsed += other.elapsed;
        self.cpu_ticks += other.cpu_ticks;
        if let Some(own) = other.own_cpu_ticks {
            *self.own_cpu_ticks.get_or_insert(0) += own;
        }
        self.ttfb.extend(other.ttfb);
        self.ttfb.sort_unstable();
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    /// The `q` quantile of the time to first byte (nearest rank), in ms.
    pub(crate) fn ttfb_ms(&self, q: f64) -> f64 {
        if self.ttfb.is_empty() {
            return f64::NAN;
        }
        let rank = ((q * self.ttfb.len() as f64).ceil() as usize).clamp(1, self.ttfb.len());
        self.ttfb[rank - 1].as_secs_f64() * 1e3
    }
}

/// xorshift64*: a cheap, seeded pick of recordings and offsets.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

/// Checks one answer against what was asked.
fn check(
    fetched: &crate::client::Fetched,
    mode: Mode,
    size: u64,
    range: Option<(u64, u64)>,
) -> Result<(), String> {
    match (mode, range) {
        (Mode::Range(len), Some((first, last))) => {
            let want = format!("bytes {first}-{last}/{size}");
            if fetched.status != 206
                || fetched.body_bytes != len
                || fetched.content_range.as_deref() != Some(want.as_str())
            {
                return Err(format!(
                    "range {first}-{last}: status {}, {} bytes, Content-Range {:?}",
                    fetched.status, fetched.body_bytes, fetched.content_range
                ));
            }
        }
        _ => {
            if fetched.status != 200 || fetched.body_bytes != size {
                return Err(format!(
                    "whole: status {}, {} of {size} bytes",
                    fetched.status, fetched.body_bytes
                ));
            }
        }
    }
    Ok(())
}

/// Runs `players` players against `target` within `limits`.
pub(crate) async fn run(
    target: &Target,
    sizes: &Arc<Vec<u64>>,
    mode: Mode,
    players: usize,
    limits: Limits,
    seed: u64,
) -> Outcome {
    let start_line = Arc::new(Barrier::new(players + 1));
    let mut tasks = Vec::with_capacity(players);
    for player in 0..players {
        let (paths, sizes, start_line) = (target.paths.clone(), sizes.clone(), start_line.clone());
        let (addr, store) = (target.addr, target.redirects_to);
        tasks.push(tokio::spawn(async move {
            let mut out = Outcome::default();
            let mut rng = Rng::new(seed ^ ((player as u64 + 1) << 20));
            let mut connection = Player::new(addr, store);
            // Connecting is not part of the measurement; a failure shows as errors below.
            let _ = connection.connect().await;
            start_line.wait().await;
            let started = Instant::now();
            while started.elapsed() < limits.duration
                && out.requests + out.errors < limits.max_requests_per_player
                && out.errors < MAX_ERRORS_PER_PLAYER
            {
                let file = rng.below(sizes.len() as u64) as usize;
                let size = sizes[file];
                let range = match mode {
                    Mode::Whole => None,
                    Mode::Range(len) => {
                        let first = rng.below(size.saturating_sub(len) + 1);
                        Some((first, first + len - 1))
                    }
                };
                let answer = tokio::time::timeout(
                    REQUEST_TIMEOUT,
                    connection.get(&paths[file], range, false),
                )
                .await
                .unwrap_or_else(|_| Err("timed out".into()))
                .and_then(|f| check(&f, mode, size, range).map(|()| f));
                match answer {
                    Ok(fetched) => {
                        out.requests += 1;
                        out.bytes += fetched.body_bytes;
                        out.ttfb.push(fetched.ttfb);
                    }
                    Err(e) => {
                        // A timed-out connection is in an unknown state.
                        connection = Player::new(addr, store);
                        out.errors += 1;
                        out.first_error.get_or_insert(e);
                    }
                }
            }
            out
        }));
    }
    start_line.wait().await;
    let started = Instant::now();
    let mut total = Outcome::default();
    for task in tasks {
        let out = task.await.expect("player task");
        total.requests += out.requests;
        total.errors += out.errors;
        total.bytes += out.bytes;
        total.ttfb.extend(out.ttfb);
        if total.first_error.is_none() {
            total.first_error = out.first_error;
        }
    }
    total.elapsed = started.elapsed();
    total.ttfb.sort_unstable();
    total
}
