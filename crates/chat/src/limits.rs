//! Rate limits: named token buckets with the official server's defaults, shared by every
//! node through the bus (in-process, or Redis for several nodes). A request over its limit is
//! a 429 with `Retry-After`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use heliograph_bus::{Bus, RateLimitError};

use crate::{ChatError, ChatResult};

/// One bucket: at most `bucket_size` permits, one regained every `regen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitSpec {
    /// Permits the bucket holds when full.
    pub bucket_size: u64,
    /// Time to regain one permit.
    pub regen: Duration,
}

/// The limiters this server applies, named as the official `RateLimiters` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Limiter {
    /// Authenticated profile reads, per caller.
    Profile,
    /// Username reservations, per account.
    UsernameReserve,
    /// Username confirmations, per account.
    UsernameSet,
    /// Username link changes, per account.
    UsernameLinkOperation,
    /// Attachment upload forms, per account.
    AttachmentCreate,
}

impl Limiter {
    /// Every limiter, for configuration and docs.
    pub const ALL: [Limiter; 5] = [
        Limiter::Profile,
        Limiter::UsernameReserve,
        Limiter::UsernameSet,
        Limiter::UsernameLinkOperation,
        Limiter::AttachmentCreate,
    ];

    /// The official name (also the configuration key).
    pub fn name(self) -> &'static str {
        match self {
            Limiter::Profile => "profile",
            Limiter::UsernameReserve => "usernameReserve",
            Limiter::UsernameSet => "usernameSet",
            Limiter::UsernameLinkOperation => "usernameLinkOperation",
            Limiter::AttachmentCreate => "attachmentCreate",
        }
    }

    /// The official default bucket.
    pub fn default_spec(self) -> LimitSpec {
        let (bucket_size, regen_ms) = match self {
            Limiter::Profile => (4320, 20_000),
            Limiter::UsernameReserve | Limiter::UsernameSet => (100, 15 * 60_000),
            Limiter::UsernameLinkOperation => (10, 60_000),
            Limiter::AttachmentCreate => (50, 1_200),
        };
        LimitSpec {
            bucket_size,
            regen: Duration::from_millis(regen_ms),
        }
    }
}

/// The limiters with their buckets, over the bus's shared counters.
pub struct RateLimiters {
    bus: Option<Arc<dyn Bus>>,
    specs: BTreeMap<Limiter, LimitSpec>,
}

impl RateLimiters {
    /// Limits through `bus`, with `overrides` (by official name) replacing defaults.
    /// Unknown names are an error that says which names exist.
    pub fn new(bus: Arc<dyn Bus>, overrides: &BTreeMap<String, LimitSpec>) -> Result<Self, String> {
        let mut specs: BTreeMap<Limiter, LimitSpec> = Limiter::ALL
            .iter()
            .map(|l| (*l, l.default_spec()))
            .collect();
        for (name, spec) in overrides {
            let limiter = Limiter::ALL
                .iter()
                .find(|l| l.name() == name)
                .ok_or_else(|| {
                    let known: Vec<_> = Limiter::ALL.iter().map(|l| l.name()).collect();
                    format!("unknown rate limiter {name:?}; known: {}", known.join(", "))
                })?;
            if spec.bucket_size == 0 {
                return Err(format!(
                    "rate limiter {name:?}: bucket_size must be at least 1"
                ));
            }
            specs.insert(*limiter, *spec);
        }
        Ok(Self {
            bus: Some(bus),
            specs,
        })
    }

    /// No limits at all (tools, tests, and `rate_limits.enabled = false`).
    pub fn disabled() -> Self {
        Self {
            bus: None,
            specs: BTreeMap::new(),
        }
    }

    /// The bucket a limiter uses.
    pub fn spec(&self, limiter: Limiter) -> LimitSpec {
        self.specs
            .get(&limiter)
            .copied()
            .unwrap_or_else(|| limiter.default_spec())
    }

    /// Takes one permit of `limiter` for `key` (an account or address); 429 with the wait
    /// when the bucket is empty. A bus that cannot be reached fails open (logged): losing a
    /// limit for a moment is better than refusing every request.
    pub async fn check(&self, limiter: Limiter, key: &str) -> ChatResult<()> {
        let Some(bus) = &self.bus else {
            return Ok(());
        };
        let spec = self.spec(limiter);
        let bucket = format!("{}:{key}", limiter.name());
        match bus
            .take_permits(&bucket, spec.bucket_size, spec.regen, 1)
            .await
        {
            Ok(()) => Ok(()),
            Err(RateLimitError::RateLimited { retry_after }) => Err(ChatError::RateLimited {
                retry_after_secs: retry_after.as_secs_f64().ceil() as u64,
            }),
            Err(RateLimitError::ExceedsCapacity { .. }) => Err(ChatError::RateLimited {
                retry_after_secs: spec.regen.as_secs().max(1),
            }),
            Err(RateLimitError::Backend(e)) => {
                tracing::warn!(error = %e, limiter = limiter.name(), "rate limit check failed; allowing");
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn buckets_run_dry_and_name_their_wait() {
        let bus: Arc<dyn Bus> = Arc::new(heliograph_bus::InProcessBus::new());
        let mut overrides = BTreeMap::new();
        overrides.insert(
            "usernameReserve".to_owned(),
            LimitSpec {
                bucket_size: 2,
                regen: Duration::from_secs(30),
            },
        );
        let limits = RateLimiters::new(bus, &overrides).unwrap();
        limits.check(Limiter::UsernameReserve, "a").await.unwrap();
        limits.check(Limiter::UsernameReserve, "a").await.unwrap();
        match limits.check(Limiter::UsernameReserve, "a").await {
            Err(ChatError::RateLimited { retry_after_secs }) => {
                assert!((1..=30).contains(&retry_after_secs), "{retry_after_secs}")
            }
            other => panic!("expected 429, got {other:?}"),
        }
        // Another key and another limiter have their own buckets.
        limits.check(Limiter::UsernameReserve, "b").await.unwrap();
        limits.check(Limiter::UsernameSet, "a").await.unwrap();
        assert_eq!(
            limits.spec(Limiter::Profile),
            Limiter::Profile.default_spec()
        );
    }

    #[test]
    fn unknown_names_are_refused() {
        let bus: Arc<dyn Bus> = Arc::new(heliograph_bus::InProcessBus::new());
        let mut overrides = BTreeMap::new();
        overrides.insert(
            "profiles".to_owned(),
            LimitSpec {
                bucket_size: 1,
                regen: Duration::from_secs(1),
            },
        );
        let err = RateLimiters::new(bus, &overrides).err().unwrap();
        assert!(err.contains("profile, usernameReserve"), "{err}");
    }

    #[tokio::test]
    async fn disabled_never_limits() {
        let limits = RateLimiters::disabled();
        for _ in 0..1000 {
            limits
                .check(Limiter::UsernameLinkOperation, "a")
                .await
                .unwrap();
        }
    }
}
