//! Measurements: latency samples with percentiles, error counts by kind, the clock that
//! payloads carry, and the progress line.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;

/// The process-wide epoch payload timestamps count from (the sender and the receiver are in
/// this process, so one monotonic clock serves both).
pub fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Microseconds since [`epoch`] at `t`.
pub fn micros_at(t: Instant) -> u64 {
    t.saturating_duration_since(epoch()).as_micros() as u64
}

/// Microseconds since [`epoch`] now.
pub fn now_micros() -> u64 {
    micros_at(Instant::now())
}

/// Latency samples in microseconds.
#[derive(Default)]
pub struct Latencies {
    samples: Mutex<Vec<u64>>,
}

impl Latencies {
    /// Records one sample.
    pub fn record(&self, d: Duration) {
        self.record_micros(d.as_micros() as u64);
    }

    /// Records one sample in microseconds.
    pub fn record_micros(&self, us: u64) {
        self.samples
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(us);
    }

    /// How many samples so far.
    pub fn len(&self) -> usize {
        self.samples
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The distribution of what was recorded.
    pub fn summary(&self) -> Summary {
        let mut v = self
            .samples
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        Summary::of(&mut v)
    }
}

/// Percentiles of a latency distribution, in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Summary {
    /// Samples.
    pub count: usize,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Largest sample.
    pub max_ms: f64,
}

impl Summary {
    fn of(v: &mut [u64]) -> Summary {
        if v.is_empty() {
            return Summary::default();
        }
        v.sort_unstable();
        let at = |q: f64| {
            let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
            v[i] as f64 / 1000.0
        };
        Summary {
            count: v.len(),
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            p999_ms: at(0.999),
            max_ms: v[v.len() - 1] as f64 / 1000.0,
        }
    }
}

/// Errors by kind ("send: HTTP 500", "socket closed: ..."), so the summary can say what
/// went wrong and the run can fail on any.
#[derive(Default)]
pub struct Errors {
    by_kind: Mutex<BTreeMap<String, u64>>,
    total: AtomicU64,
}

impl Errors {
    /// Counts one error.
    pub fn add(&self, kind: impl Into<String>) {
        self.add_n(kind, 1);
    }

    /// Counts `n` errors of one kind.
    pub fn add_n(&self, kind: impl Into<String>, n: u64) {
        self.total.fetch_add(n, Ordering::Relaxed);
        *self
            .by_kind
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(kind.into())
            .or_default() += n;
    }

    /// Errors so far.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Counts by kind.
    pub fn by_kind(&self) -> BTreeMap<String, u64> {
        self.by_kind
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A counter.
#[derive(Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Prints one progress line per second to stderr while a phase runs.
pub struct Progress {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Progress {
    /// Starts printing `line()` every second, prefixed by the phase name and elapsed time.
    pub fn start(phase: &str, line: impl Fn() -> String + Send + 'static) -> Progress {
        let (stop, mut rx) = tokio::sync::watch::channel(false);
        let phase = phase.to_owned();
        let started = Instant::now();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        eprintln!("[{phase} {:>5.1}s] {}", started.elapsed().as_secs_f64(), line());
                    }
                    _ = rx.changed() => break,
                }
            }
        });
        Progress { stop, task }
    }

    /// Stops printing.
    pub async fn finish(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let l = Latencies::default();
        for i in 1..=1000u64 {
            l.record_micros(i * 1000);
        }
        let s = l.summary();
        assert_eq!(s.count, 1000);
        assert_eq!(s.p50_ms, 500.0);
        assert_eq!(s.p99_ms, 990.0);
        assert_eq!(s.p999_ms, 999.0);
        assert_eq!(s.max_ms, 1000.0);
        assert_eq!(Latencies::default().summary().count, 0);
    }
}
