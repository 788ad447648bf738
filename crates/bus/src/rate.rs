//! Token buckets as a generic cell rate algorithm (GCRA): a bucket is one number, the
//! "theoretical arrival time" (TAT) at which it will be full again. Taking `n` permits moves the
//! TAT `n * regen` later; it is allowed if the new TAT is at most `capacity * regen` ahead of
//! now. This is exactly a token bucket refilled continuously, in one value, so the Redis version
//! is a short atomic script.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::RateLimitError;

/// The Redis version of [`gcra`]: `KEYS[1]` holds the TAT in microseconds of Redis time;
/// `ARGV` = regen in µs, capacity, permits. Returns 0 if allowed, else the wait in µs. Redis
/// time (not the nodes' clocks) keeps all nodes consistent.
pub(crate) const GCRA_SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local permits = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '') or now
if tat < now then tat = now end
local new_tat = tat + permits * interval
local allow_at = new_tat - capacity * interval
if allow_at > now then
  return math.ceil(allow_at - now)
end
local ttl_ms = math.ceil((new_tat - now) / 1000) + 1
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', ttl_ms)
return 0
";

/// Checks the arguments shared by both backends: `Ok(false)` when nothing needs to be counted.
pub(crate) fn check(capacity: u64, regen: Duration, permits: u64) -> Result<bool, RateLimitError> {
    if permits == 0 || regen.is_zero() {
        return Ok(false);
    }
    if permits > capacity {
        return Err(RateLimitError::ExceedsCapacity { permits, capacity });
    }
    Ok(true)
}

/// One GCRA step on nanosecond timestamps: the new TAT if allowed, else the wait.
fn gcra(tat: u128, now: u128, capacity: u64, regen: Duration, permits: u64) -> Result<u128, u128> {
    let interval = regen.as_nanos();
    let new_tat = tat
        .max(now)
        .saturating_add(interval.saturating_mul(u128::from(permits)));
    let allow_at = new_tat.saturating_sub(interval.saturating_mul(u128::from(capacity)));
    if allow_at > now {
        Err(allow_at - now)
    } else {
        Ok(new_tat)
    }
}

/// Buckets of the in-process bus.
pub(crate) struct LocalLimiter {
    epoch: Instant,
    buckets: Mutex<HashMap<String, u128>>,
}

/// Above this many buckets, full ones are dropped (they carry no information).
const PRUNE_ABOVE: usize = 10_000;

impl LocalLimiter {
    pub fn new() -> Self {
        Self {
            epoch: Instant::now(),
            buckets: Mutex::default(),
        }
    }

    pub fn take(
        &self,
        key: &str,
        capacity: u64,
        regen: Duration,
        permits: u64,
    ) -> Result<(), RateLimitError> {
        if !check(capacity, regen, permits)? {
            return Ok(());
        }
        let now = self.epoch.elapsed().as_nanos();
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let tat = buckets.get(key).copied().unwrap_or(now);
        match gcra(tat, now, capacity, regen, permits) {
            Ok(new_tat) => {
                if buckets.len() >= PRUNE_ABOVE {
                    buckets.retain(|_, tat| *tat > now);
                }
                buckets.insert(key.to_owned(), new_tat);
                Ok(())
            }
            Err(wait) => Err(RateLimitError::RateLimited {
                retry_after: duration_from_nanos(wait),
            }),
        }
    }
}

/// Converts nanoseconds, saturating at `u64::MAX` nanoseconds (584 years).
fn duration_from_nanos(nanos: u128) -> Duration {
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u128 = 1_000_000;

    #[test]
    fn gcra_is_a_token_bucket() {
        let regen = Duration::from_millis(10);
        let mut tat = 0;
        for _ in 0..3 {
            tat = gcra(tat, 0, 3, regen, 1).unwrap();
        }
        assert_eq!(gcra(tat, 0, 3, regen, 1), Err(10 * MS));
        // One permit back after 10 ms, not two.
        tat = gcra(tat, 10 * MS, 3, regen, 1).unwrap();
        assert_eq!(gcra(tat, 10 * MS, 3, regen, 1), Err(10 * MS));
        // Full again after a long pause, never fuller than the capacity.
        tat = gcra(tat, 1000 * MS, 3, regen, 3).unwrap();
        assert!(gcra(tat, 1000 * MS, 3, regen, 1).is_err());
    }

    #[test]
    fn checks() {
        assert!(matches!(check(1, Duration::from_secs(1), 0), Ok(false)));
        assert!(matches!(check(1, Duration::ZERO, 5), Ok(false)));
        assert!(matches!(
            check(1, Duration::from_secs(1), 2),
            Err(RateLimitError::ExceedsCapacity { .. })
        ));
        assert!(matches!(check(2, Duration::from_secs(1), 2), Ok(true)));
    }

    #[test]
    fn huge_values_saturate() {
        let r = gcra(u128::MAX, 0, u64::MAX, Duration::MAX, u64::MAX);
        assert!(r.is_ok() || r.is_err());
        assert_eq!(
            duration_from_nanos(u128::MAX),
            Duration::from_nanos(u64::MAX)
        );
    }
}
