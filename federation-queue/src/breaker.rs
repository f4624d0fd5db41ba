//! The per-host circuit breaker: pure state transitions that every store applies inside its
//! own transaction, so that all workers share one breaker per host.
//!
//! Closed: deliveries flow. After `failure_threshold` consecutive failures the breaker opens
//! for a pause that doubles with each further failure (up to `open_max`). When the pause ends
//! one delivery is let through as a probe (half-open): an answer closes the breaker, a failure
//! reopens it. A host failing for `unavailable_after` is marked unavailable and probed only
//! every `unavailable_probe_interval` until it answers. Deliveries waiting on a breaker are not
//! claimed, so they use none of their attempts.

use std::time::{Duration, SystemTime};

use crate::model::{BreakerState, HostEvent, HostState};

/// When a host's breaker opens, and for how long.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BreakerPolicy {
    /// Consecutive failures that open the breaker.
    pub failure_threshold: u32,
    /// The first pause.
    pub open_base: Duration,
    /// The longest pause while the host is not yet unavailable.
    pub open_max: Duration,
    /// Failing for this long marks the host unavailable.
    pub unavailable_after: Duration,
    /// The pause between probes of an unavailable host.
    pub unavailable_probe_interval: Duration,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            open_base: Duration::from_secs(30),
            open_max: Duration::from_secs(60 * 60),
            unavailable_after: Duration::from_secs(7 * 24 * 60 * 60),
            unavailable_probe_interval: Duration::from_secs(6 * 60 * 60),
        }
    }
}

impl BreakerPolicy {
    /// The default policy: open after 5 failures, pauses from 30 s doubling to 1 h,
    /// unavailable after 7 days, then probed every 6 h.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`BreakerPolicy::failure_threshold`] (at least 1).
    pub fn with_failure_threshold(mut self, failures: u32) -> Self {
        self.failure_threshold = failures.max(1);
        self
    }

    /// Sets [`BreakerPolicy::open_base`] and [`BreakerPolicy::open_max`].
    pub fn with_pause(mut self, base: Duration, max: Duration) -> Self {
        self.open_base = base;
        self.open_max = max.max(base);
        self
    }

    /// Sets [`BreakerPolicy::unavailable_after`] and
    /// [`BreakerPolicy::unavailable_probe_interval`].
    pub fn with_unavailable(mut self, after: Duration, probe_interval: Duration) -> Self {
        self.unavailable_after = after;
        self.unavailable_probe_interval = probe_interval;
        self
    }

    fn pause(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(self.failure_threshold).min(30);
        self.open_base
            .saturating_mul(1_u32 << doublings)
            .min(self.open_max)
    }
}

/// Whether deliveries to a host may be claimed now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Not before this time.
    Blocked(SystemTime),
    /// Yes, up to the per-host limit.
    Open,
    /// One, as a probe: call [`start_probe`].
    Probe,
}

/// Whether deliveries to `state`'s host may be claimed at `now`.
pub(crate) fn admit(state: &HostState, now: SystemTime) -> Admission {
    if let Some(until) = state.blocked_until
        && until > now
    {
        return Admission::Blocked(until);
    }
    match state.breaker {
        BreakerState::Closed => Admission::Open,
        // Open with its pause over, or half-open with the probe's lease lapsed (its worker
        // died): let one delivery through.
        BreakerState::Open | BreakerState::HalfOpen => Admission::Probe,
    }
}

/// Marks a probe in flight: nothing else is claimed for the host until it completes or its
/// lease lapses.
pub(crate) fn start_probe(state: &mut HostState, now: SystemTime, lease: Duration) {
    state.breaker = BreakerState::HalfOpen;
    state.blocked_until = Some(now + lease);
}

/// Applies what an attempt taught about the host.
pub(crate) fn apply(
    state: &mut HostState,
    event: HostEvent,
    now: SystemTime,
    policy: &BreakerPolicy,
) {
    match event {
        HostEvent::Nothing => {}
        HostEvent::Answered => answered(state, now),
        HostEvent::Throttled { until } => {
            // A throttling host is alive: it resets the failure count, and pauses the lane.
            answered(state, now);
            extend(state, until);
        }
        HostEvent::Failed { until } => {
            state.consecutive_failures = state.consecutive_failures.saturating_add(1);
            let since = *state.failing_since.get_or_insert(now);
            if state.breaker == BreakerState::HalfOpen
                || state.consecutive_failures >= policy.failure_threshold
            {
                if state.breaker == BreakerState::HalfOpen {
                    // The probe's own block (its lease) ends with the probe.
                    state.blocked_until = None;
                }
                state.breaker = BreakerState::Open;
                let failing_for = now.duration_since(since).unwrap_or_default();
                if failing_for >= policy.unavailable_after {
                    state.unavailable = true;
                }
                let pause = if state.unavailable {
                    policy.unavailable_probe_interval
                } else {
                    policy.pause(state.consecutive_failures)
                };
                extend(state, now + pause);
            }
            if let Some(until) = until {
                extend(state, until);
            }
        }
    }
}

/// How precisely [`HostState::last_answer`] follows the answers: a host answering many times a
/// second has its row rewritten once a second, not at every batch of completions.
const LAST_ANSWER_RESOLUTION: Duration = Duration::from_secs(1);

fn answered(state: &mut HostState, now: SystemTime) {
    state.breaker = BreakerState::Closed;
    state.unavailable = false;
    state.consecutive_failures = 0;
    state.failing_since = None;
    // A clock stepped back is taken as it is.
    let stale = |last: SystemTime| {
        now.duration_since(last)
            .map_or(true, |since| since >= LAST_ANSWER_RESOLUTION)
    };
    if state.last_answer.is_none_or(stale) {
        state.last_answer = Some(now);
    }
    // A pause that a probe or an open breaker set ends with the answer; a Retry-After pause is
    // set again by the caller (Throttled) after this.
    state.blocked_until = None;
}

fn extend(state: &mut HostState, until: SystemTime) {
    state.blocked_until = Some(
        state
            .blocked_until
            .map_or(until, |current| current.max(until)),
    );
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use std::time::UNIX_EPOCH;

    fn t(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    #[test]
    fn opens_after_threshold_probes_after_pause_and_closes_on_answer() {
        let policy = BreakerPolicy::new().with_failure_threshold(3);
        let mut host = HostState::new("a.example");
        for _ in 0..2 {
            apply(&mut host, HostEvent::Failed { until: None }, t(0), &policy);
            assert_eq!(admit(&host, t(0)), Admission::Open);
        }
        apply(&mut host, HostEvent::Failed { until: None }, t(0), &policy);
        assert_eq!(host.breaker, BreakerState::Open);
        assert_eq!(admit(&host, t(29)), Admission::Blocked(t(30)));
        assert_eq!(admit(&host, t(30)), Admission::Probe);
        start_probe(&mut host, t(30), Duration::from_secs(60));
        assert_eq!(admit(&host, t(31)), Admission::Blocked(t(90)));
        // The probe fails: reopen for twice the pause.
        apply(&mut host, HostEvent::Failed { until: None }, t(31), &policy);
        assert_eq!(host.breaker, BreakerState::Open);
        assert_eq!(host.blocked_until, Some(t(31 + 60)));
        apply(&mut host, HostEvent::Answered, t(100), &policy);
        assert_eq!(host.breaker, BreakerState::Closed);
        assert_eq!(host.consecutive_failures, 0);
        assert_eq!(admit(&host, t(100)), Admission::Open);
    }

    #[test]
    fn the_last_answer_is_kept_to_within_a_second() {
        let policy = BreakerPolicy::new();
        let mut host = HostState::new("a.example");
        apply(&mut host, HostEvent::Answered, t(10), &policy);
        assert_eq!(host.last_answer, Some(t(10)));
        // Answers within the resolution leave the state as it is (nothing to write).
        let before = host.clone();
        let soon = t(10) + LAST_ANSWER_RESOLUTION - Duration::from_millis(1);
        apply(&mut host, HostEvent::Answered, soon, &policy);
        assert_eq!(host, before);
        apply(&mut host, HostEvent::Answered, t(11), &policy);
        assert_eq!(host.last_answer, Some(t(11)));
        // A clock stepped back is taken as it is.
        apply(&mut host, HostEvent::Answered, t(5), &policy);
        assert_eq!(host.last_answer, Some(t(5)));
        // An answer after failures always closes the breaker, whatever the last answer.
        apply(&mut host, HostEvent::Failed { until: None }, t(5), &policy);
        apply(&mut host, HostEvent::Answered, t(5), &policy);
        assert_eq!(host.consecutive_failures, 0);
        assert_eq!(host.failing_since, None);
    }

    #[test]
    fn a_lost_probe_is_retried_after_its_lease() {
        let policy = BreakerPolicy::new().with_failure_threshold(1);
        let mut host = HostState::new("a.example");
        apply(&mut host, HostEvent::Failed { until: None }, t(0), &policy);
        start_probe(&mut host, t(30), Duration::from_secs(10));
        assert_eq!(admit(&host, t(39)), Admission::Blocked(t(40)));
        assert_eq!(admit(&host, t(40)), Admission::Probe);
    }

    #[test]
    fn days_of_failure_mark_the_host_unavailable_until_it_answers() {
        let policy = BreakerPolicy::new()
            .with_failure_threshold(1)
            .with_unavailable(Duration::from_secs(7 * 86_400), Duration::from_secs(86_400));
        let mut host = HostState::new("a.example");
        apply(&mut host, HostEvent::Failed { until: None }, t(0), &policy);
        assert!(!host.unavailable);
        apply(
            &mut host,
            HostEvent::Failed { until: None },
            t(7 * 86_400),
            &policy,
        );
        assert!(host.unavailable);
        assert_eq!(host.blocked_until, Some(t(8 * 86_400)));
        apply(&mut host, HostEvent::Answered, t(8 * 86_400), &policy);
        assert!(!host.unavailable);
        assert_eq!(host.breaker, BreakerState::Closed);
    }

    #[test]
    fn pauses_double_up_to_the_maximum() {
        let policy = BreakerPolicy::new()
            .with_failure_threshold(2)
            .with_pause(Duration::from_secs(10), Duration::from_secs(35));
        assert_eq!(policy.pause(2), Duration::from_secs(10));
        assert_eq!(policy.pause(3), Duration::from_secs(20));
        assert_eq!(policy.pause(4), Duration::from_secs(35));
        assert_eq!(policy.pause(400), Duration::from_secs(35));
    }

    #[test]
    fn throttling_pauses_the_lane_without_counting_a_failure() {
        let policy = BreakerPolicy::new();
        let mut host = HostState::new("a.example");
        apply(&mut host, HostEvent::Failed { until: None }, t(0), &policy);
        apply(
            &mut host,
            HostEvent::Throttled { until: t(120) },
            t(1),
            &policy,
        );
        assert_eq!(host.consecutive_failures, 0);
        assert_eq!(admit(&host, t(119)), Admission::Blocked(t(120)));
        assert_eq!(admit(&host, t(120)), Admission::Open);
    }
}
