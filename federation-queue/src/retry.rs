//! Retry policy and the classification of attempts: pure functions of the response and the
//! time, unit-tested without a clock.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, StatusCode, header::RETRY_AFTER};

use crate::model::{DeadReason, HostEvent, Outcome};

/// How often and for how long a delivery is retried.
///
/// Delays use exponential backoff with full jitter: before attempt `n + 1` the delivery waits a
/// random time between zero and `min(max_delay, base_delay * 2^(n - 1))`. With the defaults
/// (30 s base, 12 h cap, 40 attempts) the expected schedule spans about a week, and
/// [`RetryPolicy::max_age`] (7 days) bounds it whatever the draw.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// The cap of the first delay.
    pub base_delay: Duration,
    /// The largest cap.
    pub max_delay: Duration,
    /// Attempts before a delivery is given up.
    pub max_attempts: u32,
    /// A delivery older than this is given up.
    pub max_age: Duration,
    /// The longest `Retry-After` honoured; longer ones are cut to this.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(12 * 60 * 60),
            max_attempts: 40,
            max_age: Duration::from_secs(7 * 24 * 60 * 60),
            max_retry_after: Duration::from_secs(24 * 60 * 60),
        }
    }
}

impl RetryPolicy {
    /// The default policy (about a week of retries).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`RetryPolicy::base_delay`] and [`RetryPolicy::max_delay`].
    pub fn with_delays(mut self, base: Duration, max: Duration) -> Self {
        self.base_delay = base;
        self.max_delay = max.max(base);
        self
    }

    /// Sets [`RetryPolicy::max_attempts`] (at least 1).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets [`RetryPolicy::max_age`].
    pub fn with_max_age(mut self, age: Duration) -> Self {
        self.max_age = age;
        self
    }

    /// Sets [`RetryPolicy::max_retry_after`].
    pub fn with_max_retry_after(mut self, limit: Duration) -> Self {
        self.max_retry_after = limit;
        self
    }

    /// The cap of the delay after `attempts` failed attempts (at least 1).
    pub fn backoff_cap(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(40);
        let factor = 1_u64 << doublings;
        let cap = u64::try_from(self.base_delay.as_millis())
            .unwrap_or(u64::MAX)
            .saturating_mul(factor);
        Duration::from_millis(cap).min(self.max_delay)
    }

    /// A delay after `attempts` failed attempts, drawn with full jitter from `rng`.
    pub fn backoff(&self, attempts: u32, rng: &mut fastrand::Rng) -> Duration {
        let cap = u64::try_from(self.backoff_cap(attempts).as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rng.u64(0..=cap))
    }
}

/// What an attempt came to, before the retry policy is applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Delivered,
    Gone,
    Permanent {
        status: u16,
    },
    /// Retry; `after` when the peer said when (`Retry-After`).
    Transient {
        after: Option<SystemTime>,
        error: String,
        event: HostEvent,
    },
}

/// Classifies a response status.
pub(crate) fn classify_status(
    status: StatusCode,
    headers: &HeaderMap,
    now: SystemTime,
    policy: &RetryPolicy,
) -> Verdict {
    let code = status.as_u16();
    if status.is_success() {
        return Verdict::Delivered;
    }
    match code {
        410 => Verdict::Gone,
        429 => {
            let after = retry_after(headers, now, policy.max_retry_after);
            Verdict::Transient {
                after,
                error: format!("status {code}"),
                event: match after {
                    Some(until) => HostEvent::Throttled { until },
                    None => HostEvent::Answered,
                },
            }
        }
        503 => {
            let after = retry_after(headers, now, policy.max_retry_after);
            Verdict::Transient {
                after,
                error: format!("status {code}"),
                event: HostEvent::Failed { until: after },
            }
        }
        408 | 500..=599 => Verdict::Transient {
            after: None,
            error: format!("status {code}"),
            event: HostEvent::Failed { until: None },
        },
        // Other 4xx, and 3xx (redirects are not followed for a signed POST): the inbox answered
        // and will answer the same way again.
        300..=499 => Verdict::Permanent { status: code },
        _ => Verdict::Transient {
            after: None,
            error: format!("unexpected status {code}"),
            event: HostEvent::Failed { until: None },
        },
    }
}

/// Turns a verdict into what the store records, given the attempts made and the age.
pub(crate) fn decide(
    verdict: Verdict,
    attempts: u32,
    enqueued_at: SystemTime,
    now: SystemTime,
    policy: &RetryPolicy,
    rng: &mut fastrand::Rng,
) -> (Outcome, HostEvent) {
    match verdict {
        Verdict::Delivered => (Outcome::Delivered, HostEvent::Answered),
        Verdict::Gone => (Outcome::Gone, HostEvent::Answered),
        Verdict::Permanent { status } => (
            Outcome::Dead {
                reason: DeadReason::Rejected { status },
                error: format!("status {status}"),
            },
            HostEvent::Answered,
        ),
        Verdict::Transient {
            after,
            error,
            event,
        } => {
            let at = after.unwrap_or_else(|| now + policy.backoff(attempts, rng));
            let outcome = if attempts >= policy.max_attempts {
                Outcome::Dead {
                    reason: DeadReason::MaxAttempts,
                    error,
                }
            } else if at.duration_since(enqueued_at).unwrap_or_default() > policy.max_age {
                Outcome::Dead {
                    reason: DeadReason::Expired,
                    error,
                }
            } else {
                Outcome::Retry { at, error }
            };
            (outcome, event)
        }
    }
}

/// Reads `Retry-After` (delay-seconds or an HTTP-date, [RFC 9110 §10.2.3]) as a point in time,
/// no later than `max` from `now`.
///
/// [RFC 9110 §10.2.3]: https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3
pub fn retry_after(headers: &HeaderMap, now: SystemTime, max: Duration) -> Option<SystemTime> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let at = if let Ok(seconds) = value.parse::<u64>() {
        now + Duration::from_secs(seconds).min(max)
    } else {
        let date = httpdate::parse_http_date(value).ok()?;
        date.max(now).min(now + max)
    };
    Some(at)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use std::time::UNIX_EPOCH;

    fn t(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    fn headers(retry_after: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, retry_after.parse().unwrap());
        headers
    }

    #[test]
    fn retry_after_reads_seconds_and_dates_and_caps_them() {
        let max = Duration::from_secs(3600);
        assert_eq!(retry_after(&headers("120"), t(0), max), Some(t(120)));
        assert_eq!(retry_after(&headers("99999"), t(0), max), Some(t(3600)));
        let date = httpdate::fmt_http_date(t(300));
        assert_eq!(retry_after(&headers(&date), t(0), max), Some(t(300)));
        let past = httpdate::fmt_http_date(t(0));
        assert_eq!(retry_after(&headers(&past), t(50), max), Some(t(50)));
        assert_eq!(retry_after(&headers("soon"), t(0), max), None);
        assert_eq!(retry_after(&HeaderMap::new(), t(0), max), None);
    }

    #[test]
    fn statuses_are_classified_as_the_fediverse_needs() {
        let policy = RetryPolicy::new();
        let none = HeaderMap::new();
        let class =
            |code: u16| classify_status(StatusCode::from_u16(code).unwrap(), &none, t(0), &policy);
        assert_eq!(class(200), Verdict::Delivered);
        assert_eq!(class(202), Verdict::Delivered);
        assert_eq!(class(410), Verdict::Gone);
        for code in [400, 401, 403, 404, 422, 301] {
            assert_eq!(class(code), Verdict::Permanent { status: code });
        }
        for code in [408, 429, 500, 502, 503, 504] {
            assert!(matches!(class(code), Verdict::Transient { .. }), "{code}");
        }
        let throttled =
            classify_status(StatusCode::TOO_MANY_REQUESTS, &headers("60"), t(0), &policy);
        assert_eq!(
            throttled,
            Verdict::Transient {
                after: Some(t(60)),
                error: "status 429".into(),
                event: HostEvent::Throttled { until: t(60) }
            }
        );
    }

    #[test]
    fn backoff_is_exponential_with_full_jitter() {
        let policy =
            RetryPolicy::new().with_delays(Duration::from_secs(1), Duration::from_secs(100));
        assert_eq!(policy.backoff_cap(1), Duration::from_secs(1));
        assert_eq!(policy.backoff_cap(2), Duration::from_secs(2));
        assert_eq!(policy.backoff_cap(5), Duration::from_secs(16));
        assert_eq!(policy.backoff_cap(20), Duration::from_secs(100));
        let mut rng = fastrand::Rng::with_seed(7);
        for attempts in 1..30 {
            assert!(policy.backoff(attempts, &mut rng) <= policy.backoff_cap(attempts));
        }
    }

    #[test]
    fn the_default_schedule_spans_about_a_week() {
        let policy = RetryPolicy::new();
        let expected: Duration = (1..policy.max_attempts)
            .map(|attempts| policy.backoff_cap(attempts) / 2)
            .sum();
        let days = expected.as_secs_f64() / 86_400.0;
        assert!((6.0..9.0).contains(&days), "{days} days");
    }

    #[test]
    fn attempts_and_age_end_retries() {
        let policy = RetryPolicy::new().with_max_attempts(3);
        let mut rng = fastrand::Rng::with_seed(1);
        let transient = || Verdict::Transient {
            after: Some(t(10)),
            error: "status 500".into(),
            event: HostEvent::Failed { until: None },
        };
        let (outcome, _) = decide(transient(), 2, t(0), t(0), &policy, &mut rng);
        assert!(matches!(outcome, Outcome::Retry { .. }));
        let (outcome, _) = decide(transient(), 3, t(0), t(0), &policy, &mut rng);
        assert!(matches!(
            outcome,
            Outcome::Dead {
                reason: DeadReason::MaxAttempts,
                ..
            }
        ));
        let old = RetryPolicy::new().with_max_age(Duration::from_secs(5));
        let (outcome, _) = decide(transient(), 1, t(0), t(0), &old, &mut rng);
        assert!(matches!(
            outcome,
            Outcome::Dead {
                reason: DeadReason::Expired,
                ..
            }
        ));
    }
}
