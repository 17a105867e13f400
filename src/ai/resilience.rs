//! How provider calls survive a misbehaving provider: bounded retries with exponential backoff
//! and jitter (honouring `Retry-After`) inside a time budget, and a circuit breaker that stops
//! calling a provider that keeps failing, then lets one probe through after a cool-down.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::Rng;

use super::{AiError, AssistantRequest, Deltas, Provider, Reply};
use crate::config::Settings;

/// First backoff delay; doubled on each retry, up to [`MAX_BACKOFF`].
const BASE_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(8);

pub struct Resilience {
    max_retries: u32,
    budget: Duration,
    breaker: Breaker,
}

impl Resilience {
    pub fn from_settings(settings: &Settings) -> Self {
        Self::new(
            settings.ai_max_retries,
            settings.ai_retry_budget,
            Breaker::new(settings.ai_breaker_threshold, settings.ai_breaker_cooldown),
        )
    }

    pub fn new(max_retries: u32, budget: Duration, breaker: Breaker) -> Self {
        Self {
            max_retries,
            budget,
            breaker,
        }
    }

    /// Calls `provider`, retrying what is worth retrying while nothing has been shown to the
    /// customer yet and the next try can start within the budget.
    pub async fn run(
        &self,
        provider: &dyn Provider,
        request: &AssistantRequest,
        deltas: &Deltas,
    ) -> Result<Reply, AiError> {
        let started = Instant::now();
        let mut retries = 0;
        loop {
            let permit = self.breaker.permit()?;
            let result = provider.call(request, deltas).await;
            permit.record(result.as_ref().err());
            let err = match result {
                Ok(reply) => return Ok(reply),
                Err(err) => err,
            };
            if !err.is_retryable() || retries >= self.max_retries || deltas.started() {
                return Err(err);
            }
            let delay = backoff(retries, err.retry_after());
            if started.elapsed() + delay > self.budget {
                tracing::info!(provider = provider.name(), error = %err, ?delay, "no retry: it would overrun AI_RETRY_BUDGET_SECONDS");
                return Err(err);
            }
            tracing::info!(provider = provider.name(), error = %err, ?delay, "retrying the assistant call");
            tokio::time::sleep(delay).await;
            retries += 1;
        }
    }
}

/// The wait before retry number `retry` (0-based): exponential with "equal jitter" (half fixed,
/// half random), and never shorter than the provider's `Retry-After`.
pub fn backoff(retry: u32, retry_after: Option<Duration>) -> Duration {
    let exponential = BASE_BACKOFF
        .saturating_mul(2u32.saturating_pow(retry))
        .min(MAX_BACKOFF);
    let half = exponential / 2;
    let jittered = half + half.mul_f64(rand::rng().random::<f64>());
    retry_after.map_or(jittered, |asked| asked.max(jittered))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum BreakerState {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One probe call is in flight; everyone else fails fast until it ends.
    Probing,
}

/// A circuit breaker for one provider.
pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    state: Mutex<BreakerState>,
}

impl Breaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cooldown,
            state: Mutex::new(BreakerState::Closed { failures: 0 }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BreakerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Permission to call, or [`AiError::CircuitOpen`] while the breaker is open.
    pub fn permit(&self) -> Result<Permit<'_>, AiError> {
        let mut state = self.lock();
        match *state {
            BreakerState::Closed { .. } => {}
            BreakerState::Open { until } if Instant::now() >= until => {
                *state = BreakerState::Probing;
                tracing::info!("circuit breaker half-open: probing the provider");
            }
            BreakerState::Open { .. } | BreakerState::Probing => return Err(AiError::CircuitOpen),
        }
        Ok(Permit {
            breaker: self,
            recorded: false,
        })
    }

    fn success(&self) {
        let mut state = self.lock();
        if *state == BreakerState::Probing {
            tracing::info!("circuit breaker closed: the provider answers again");
        }
        *state = BreakerState::Closed { failures: 0 };
    }

    fn failure(&self) {
        let mut state = self.lock();
        let failures = match *state {
            BreakerState::Closed { failures } => failures + 1,
            // A failed probe, or a failure of a call that started before the breaker opened.
            BreakerState::Probing | BreakerState::Open { .. } => self.threshold,
        };
        *state = if failures >= self.threshold {
            tracing::warn!(
                cooldown = ?self.cooldown,
                "circuit breaker open: assistant calls fail fast until the cool-down ends"
            );
            BreakerState::Open {
                until: Instant::now() + self.cooldown,
            }
        } else {
            BreakerState::Closed { failures }
        };
    }

    /// Whether calls currently fail fast.
    pub fn is_open(&self) -> bool {
        !matches!(*self.lock(), BreakerState::Closed { .. })
    }
}

/// One call's permission; its outcome must be recorded. Dropped unrecorded (the call was
/// cancelled), it counts as a failure so a cancelled probe cannot leave the breaker stuck.
pub struct Permit<'a> {
    breaker: &'a Breaker,
    recorded: bool,
}

impl Permit<'_> {
    pub fn record(mut self, error: Option<&AiError>) {
        self.recorded = true;
        match error {
            Some(err) if err.is_provider_failure() => self.breaker.failure(),
            _ => self.breaker.success(),
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.recorded {
            self.breaker.failure();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_honours_retry_after() {
        for retry in 0..6 {
            let full = BASE_BACKOFF
                .saturating_mul(2u32.pow(retry))
                .min(MAX_BACKOFF);
            let delay = backoff(retry, None);
            assert!(delay >= full / 2 && delay <= full, "{retry}: {delay:?}");
        }
        assert!(backoff(0, Some(Duration::from_secs(3))) >= Duration::from_secs(3));
        assert!(backoff(20, None) <= MAX_BACKOFF);
    }

    #[test]
    fn breaker_opens_after_consecutive_failures_then_probes_once() {
        let breaker = Breaker::new(2, Duration::from_millis(0));
        let failure = AiError::Status {
            code: 503,
            retry_after: None,
        };
        breaker.permit().unwrap().record(Some(&failure));
        assert!(!breaker.is_open());
        breaker.permit().unwrap().record(Some(&failure));
        assert!(breaker.is_open());
        // Cool-down over: one probe, and only one, goes through.
        let probe = breaker.permit().unwrap();
        assert!(matches!(breaker.permit(), Err(AiError::CircuitOpen)));
        probe.record(None);
        assert!(!breaker.is_open());
        assert!(breaker.permit().is_ok());
    }

    #[test]
    fn refusals_do_not_trip_the_breaker_and_cancelled_probes_reopen_it() {
        let breaker = Breaker::new(1, Duration::from_secs(60));
        breaker
            .permit()
            .unwrap()
            .record(Some(&AiError::Blocked("SAFETY".into())));
        assert!(!breaker.is_open());
        drop(breaker.permit().unwrap());
        assert!(breaker.is_open());
        assert!(matches!(breaker.permit(), Err(AiError::CircuitOpen)));
    }
}
