//! How many requests a worker lets one host have in flight: a cap that adapts to how the host
//! answers (additive increase, multiplicative decrease, as TCP does with its window).
//!
//! Every host starts at [`QueueConfig::max_in_flight_per_host`](crate::QueueConfig). A host
//! that answers without errors and faster than [`QueueConfig::slow_answer`](crate::QueueConfig)
//! while it uses at least half its cap earns more: one request more per answer until its first
//! back-off (doubling every round trip), then one more per cap's worth of answers, up to the
//! ceiling. A transient failure (429, 503, other 5xx, 408, a timeout, a connection error)
//! halves the cap, and a slow answer takes a quarter off, down to the floor; once per round trip
//! only (a signal from a request sent before the last back-off is not counted again), so that the
//! answers of one burst do not take the cap to the floor at once. `Retry-After` is handled by
//! the store as before (the whole lane pauses); this only decides how many go out once it may
//! send.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// What one attempt taught about its host's capacity.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Signal {
    /// When the request was sent (after signing: our own CPU is not the host's slowness).
    pub(crate) sent_at: Instant,
    /// How long the host took to answer.
    pub(crate) elapsed: Duration,
    /// Whether it failed transiently (429, 503, 5xx, 408, timeout, connection error).
    pub(crate) congested: bool,
}

/// The bounds of the adaptive per-host cap.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bounds {
    pub(crate) initial: usize,
    pub(crate) floor: usize,
    pub(crate) ceiling: usize,
    pub(crate) slow_answer: Duration,
}

impl Bounds {
    /// The bounds made consistent: `floor <= initial <= ceiling`, all at least 1.
    pub(crate) fn new(initial: usize, floor: usize, ceiling: usize, slow_answer: Duration) -> Self {
        let floor = floor.max(1).min(initial.max(1));
        let ceiling = ceiling.max(initial).max(1);
        Self {
            initial: initial.clamp(floor, ceiling),
            floor,
            ceiling,
            slow_answer,
        }
    }
}

#[derive(Clone, Debug)]
struct Limit {
    /// The cap, fractional so that congestion avoidance can add `1 / cap` per answer.
    cap: f64,
    /// Before the first back-off: one more per answer.
    slow_start: bool,
    /// When the cap was last lowered: signals from requests sent before it are not counted.
    backed_off_at: Option<Instant>,
    /// The last signal, for forgetting idle hosts.
    last_seen: Instant,
}

/// The caps of the hosts a worker has heard from.
#[derive(Debug)]
pub(crate) struct HostLimits {
    bounds: Bounds,
    hosts: HashMap<String, Limit>,
}

impl HostLimits {
    pub(crate) fn new(bounds: Bounds) -> Self {
        Self {
            bounds,
            hosts: HashMap::new(),
        }
    }

    /// The current cap of `host`.
    pub(crate) fn cap(&self, host: &str) -> usize {
        self.hosts
            .get(host)
            .map_or(self.bounds.initial, |limit| self.whole(limit.cap))
    }

    fn whole(&self, cap: f64) -> usize {
        // The cap stays within [floor, ceiling], both small integers: the cast is exact.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let cap = cap.floor() as usize;
        cap.clamp(self.bounds.floor, self.bounds.ceiling)
    }

    /// The hosts whose cap is not the initial one, for a claim.
    pub(crate) fn overrides(&self) -> BTreeMap<String, usize> {
        self.hosts
            .iter()
            .map(|(host, limit)| (host, self.whole(limit.cap)))
            .filter(|(_, cap)| *cap != self.bounds.initial)
            .map(|(host, cap)| (host.clone(), cap))
            .collect()
    }

    /// Learns from one attempt to `host`; `in_flight` is how many requests to it this worker
    /// had out when the attempt finished, itself included.
    pub(crate) fn record(&mut self, host: &str, in_flight: usize, signal: Signal) {
        let bounds = self.bounds;
        let initial = bounds.initial as f64;
        let limit = self.hosts.entry(host.to_owned()).or_insert(Limit {
            cap: initial,
            slow_start: true,
            backed_off_at: None,
            last_seen: signal.sent_at,
        });
        limit.last_seen = limit.last_seen.max(signal.sent_at + signal.elapsed);
        let slow = signal.elapsed > bounds.slow_answer;
        if signal.congested || slow {
            // Once per round trip: the requests sent before the last back-off were sent at
            // the old cap, and their answers say nothing about the new one.
            if limit.backed_off_at.is_some_and(|at| signal.sent_at <= at) {
                return;
            }
            let factor = if signal.congested { 0.5 } else { 0.75 };
            limit.cap = (limit.cap * factor).max(bounds.floor as f64);
            limit.slow_start = false;
            limit.backed_off_at = Some(signal.sent_at + signal.elapsed);
            return;
        }
        // Grow only on evidence: a host that never uses half its cap has not shown it can take
        // more.
        if (in_flight as f64) * 2.0 < limit.cap.floor() {
            return;
        }
        let step = if limit.slow_start {
            1.0
        } else {
            1.0 / limit.cap.max(1.0)
        };
        limit.cap = (limit.cap + step).min(bounds.ceiling as f64);
    }

    /// Forgets hosts not heard from since `before` (their caps start over if they come back).
    pub(crate) fn forget_idle(&mut self, before: Instant) {
        self.hosts.retain(|_, limit| limit.last_seen >= before);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLOW: Duration = Duration::from_secs(2);

    fn limits() -> HostLimits {
        HostLimits::new(Bounds::new(8, 2, 64, SLOW))
    }

    fn answer(at: Instant, ms: u64) -> Signal {
        Signal {
            sent_at: at,
            elapsed: Duration::from_millis(ms),
            congested: false,
        }
    }

    fn failure(at: Instant) -> Signal {
        Signal {
            sent_at: at,
            elapsed: Duration::from_millis(5),
            congested: true,
        }
    }

    #[test]
    fn bounds_are_made_consistent() {
        let bounds = Bounds::new(8, 0, 4, SLOW);
        assert_eq!((bounds.floor, bounds.initial, bounds.ceiling), (1, 8, 8));
        let bounds = Bounds::new(8, 16, 64, SLOW);
        assert_eq!((bounds.floor, bounds.initial, bounds.ceiling), (8, 8, 64));
    }

    #[test]
    fn a_fast_busy_host_grows_to_the_ceiling_and_no_further() {
        let mut limits = limits();
        let t0 = Instant::now();
        assert_eq!(limits.cap("a.test"), 8);
        for i in 0..1_000 {
            let cap = limits.cap("a.test");
            limits.record("a.test", cap, answer(t0 + Duration::from_millis(i), 10));
            assert!(limits.cap("a.test") <= 64);
        }
        assert_eq!(limits.cap("a.test"), 64);
        assert_eq!(limits.overrides().get("a.test"), Some(&64));
        assert_eq!(limits.cap("other.test"), 8);
    }

    #[test]
    fn an_idle_host_does_not_grow() {
        let mut limits = limits();
        let t0 = Instant::now();
        for i in 0..100 {
            // One request out at a time, far below its cap of 8.
            limits.record("a.test", 1, answer(t0 + Duration::from_millis(i), 10));
        }
        assert_eq!(limits.cap("a.test"), 8);
        assert!(limits.overrides().is_empty());
    }

    #[test]
    fn failures_halve_the_cap_once_per_round_trip_down_to_the_floor() {
        let mut limits = limits();
        let t0 = Instant::now();
        // A burst of failures from requests sent together counts once.
        for _ in 0..8 {
            limits.record("a.test", 8, failure(t0));
        }
        assert_eq!(limits.cap("a.test"), 4);
        // Requests sent after the back-off count again.
        let mut at = t0;
        for _ in 0..10 {
            at += Duration::from_secs(1);
            limits.record("a.test", 8, failure(at));
        }
        assert_eq!(limits.cap("a.test"), 2);
    }

    #[test]
    fn slow_answers_shrink_the_cap() {
        let mut limits = limits();
        let t0 = Instant::now();
        limits.record("a.test", 8, answer(t0, 2_500));
        assert_eq!(limits.cap("a.test"), 6);
        // After a back-off, growth is additive: about a cap's worth of answers for one more.
        let at = t0 + Duration::from_secs(10);
        for i in 0..7 {
            limits.record("a.test", 6, answer(at + Duration::from_millis(i), 10));
        }
        assert_eq!(limits.cap("a.test"), 7);
    }

    #[test]
    fn idle_hosts_are_forgotten() {
        let mut limits = limits();
        let t0 = Instant::now();
        limits.record("a.test", 8, failure(t0));
        limits.forget_idle(t0 + Duration::from_secs(3600));
        assert_eq!(limits.cap("a.test"), 8);
    }
}
