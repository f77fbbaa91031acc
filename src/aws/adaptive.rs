//! The sending rate of one AWS service, adapted to its throttling: a client-side rate limiter
//! shared by every call to the service, in the manner of the AWS SDKs' "adaptive" retry mode.
//!
//! Until the service first throttles, calls go as fast as rekeyd makes them (or at the
//! configured `[aws.rate_limits]` rate). Each throttling answer cuts the rate to `BETA` times
//! the rate calls were going at; answers that are not throttling let it climb back along a
//! cubic curve (CUBIC, RFC 8312): quickly to just under the rate of the last cut, slowly
//! around it, then faster again to probe for more. Only one cut is made per round: a throttle
//! answering a call sent before the last cut says nothing new about the reduced rate. Calls
//! are spaced evenly at the current rate, never bursting, which is what a token-bucket quota
//! serves best. A configured rate limit is a ceiling the rate never exceeds.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The factor a throttle cuts the rate by.
const BETA: f64 = 0.7;
/// CUBIC's scaling constant (requests/s per s³).
const SCALE: f64 = 0.4;
/// The lowest rate the adaptation goes to, in requests per second (unless the configured
/// ceiling is lower).
const MIN_RATE: f64 = 0.5;
/// How far back sends are counted to measure the sending rate.
const WINDOW: Duration = Duration::from_secs(1);
/// Success never lets the rate run beyond this multiple of the rate calls are actually sent
/// at (a service rekeyd calls rarely does not earn an unlimited rate).
const MAX_OVER_MEASURED: f64 = 2.0;

/// One service's sending rate. Cheap to share: every method takes `&self`.
#[derive(Debug)]
pub struct AdaptiveLimiter {
    ceiling: Option<f64>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// The adapted rate; `None` until the first throttle.
    rate: Option<f64>,
    /// The rate at the last cut (CUBIC's W_max) and when the cut was made.
    last_max: f64,
    cut_at: Option<Instant>,
    /// The next free send time.
    next_slot: Instant,
    /// Recent send times, for the measured sending rate.
    sends: VecDeque<Instant>,
    first_send: Option<Instant>,
}

impl AdaptiveLimiter {
    /// A limiter that never exceeds `ceiling` requests per second when one is given (must be
    /// positive: the policy validates it).
    pub fn new(ceiling: Option<f64>) -> Self {
        AdaptiveLimiter {
            ceiling,
            state: Mutex::new(State {
                rate: None,
                last_max: 0.0,
                cut_at: None,
                next_slot: Instant::now(),
                sends: VecDeque::new(),
                first_send: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn floor(&self) -> f64 {
        self.ceiling.map_or(MIN_RATE, |c| c.min(MIN_RATE))
    }

    /// The rate calls are spaced at now: the adapted rate under the ceiling, `None` when
    /// unlimited.
    pub fn rate(&self) -> Option<f64> {
        let rate = self.lock().rate;
        match (rate, self.ceiling) {
            (Some(r), Some(c)) => Some(r.min(c)),
            (r, c) => r.or(c),
        }
    }

    /// Waits for this call's turn; returns when it may be sent (pass it to
    /// [`AdaptiveLimiter::throttled`]).
    pub async fn acquire(&self) -> Instant {
        let slot = self.reserve(Instant::now());
        tokio::time::sleep_until(slot).await;
        slot
    }

    /// Books the next send time at or after `now`.
    pub fn reserve(&self, now: Instant) -> Instant {
        let rate = self.rate();
        let mut s = self.lock();
        let slot = match rate {
            Some(rate) => {
                let slot = s.next_slot.max(now);
                s.next_slot = slot + Duration::from_secs_f64(1.0 / rate);
                slot
            }
            None => now,
        };
        s.sends.push_back(slot);
        s.first_send.get_or_insert(slot);
        slot
    }

    /// Requests per second sent over the last [`WINDOW`] (or since the first send, if later).
    fn measured(s: &mut State, now: Instant) -> f64 {
        while s.sends.front().is_some_and(|&t| t + WINDOW < now) {
            s.sends.pop_front();
        }
        let since = s
            .first_send
            .map_or(WINDOW, |first| now.duration_since(first));
        let span = since.clamp(Duration::from_millis(50), WINDOW);
        s.sends.len() as f64 / span.as_secs_f64()
    }

    /// The service answered a call without throttling it: the rate may climb.
    pub fn succeeded(&self, now: Instant) {
        let mut s = self.lock();
        let (Some(_), Some(cut_at)) = (s.rate, s.cut_at) else {
            return;
        };
        let k = (s.last_max * (1.0 - BETA) / SCALE).cbrt();
        let t = now.duration_since(cut_at).as_secs_f64();
        let cubic = s.last_max + SCALE * (t - k).powi(3);
        let measured = Self::measured(&mut s, now);
        let capped = cubic.min(MAX_OVER_MEASURED * measured.max(s.last_max * BETA));
        s.rate = Some(capped.max(self.floor()));
    }

    /// The service throttled a call sent at `sent_at`: cut the rate, once per round.
    pub fn throttled(&self, sent_at: Instant, now: Instant) {
        let floor = self.floor();
        let mut s = self.lock();
        if s.cut_at.is_some_and(|cut| sent_at <= cut) {
            return;
        }
        let measured = Self::measured(&mut s, now);
        let current = match s.rate {
            Some(rate) => rate.min(self.ceiling.unwrap_or(f64::INFINITY)),
            None => self.ceiling.map_or(measured, |c| c.min(measured)),
        };
        s.last_max = current.max(floor);
        s.rate = Some((BETA * s.last_max).max(floor));
        s.cut_at = Some(now);
        tracing::debug!(
            rate = s.rate,
            last_max = s.last_max,
            measured,
            "throttled: sending rate cut"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A simulated service: a token bucket of `quota` requests/s with a burst of `quota`.
    struct Quota {
        rate: f64,
        tokens: f64,
        at: Instant,
    }

    impl Quota {
        fn new(rate: f64, now: Instant) -> Self {
            Quota {
                rate,
                tokens: rate,
                at: now,
            }
        }

        fn admit(&mut self, now: Instant) -> bool {
            let elapsed = now.duration_since(self.at).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.rate).min(self.rate);
            self.at = now;
            if self.tokens >= 1.0 {
                self.tokens -= 1.0;
                true
            } else {
                false
            }
        }
    }

    /// Sends calls back to back through `limiter` for `seconds` of (paused) time against a
    /// quota; (served, throttled).
    async fn saturate(limiter: &AdaptiveLimiter, quota: &mut Quota, seconds: u64) -> (u64, u64) {
        let end = Instant::now() + Duration::from_secs(seconds);
        let (mut served, mut throttled) = (0, 0);
        while Instant::now() < end {
            let sent = limiter.acquire().await;
            // Never faster than one call per millisecond (rekeyd's own pace).
            tokio::time::sleep(Duration::from_millis(1)).await;
            let now = Instant::now();
            if quota.admit(sent) {
                served += 1;
                limiter.succeeded(now);
            } else {
                throttled += 1;
                limiter.throttled(sent, now);
            }
        }
        (served, throttled)
    }

    #[tokio::test(start_paused = true)]
    async fn a_ceiling_spaces_calls_evenly() {
        let limiter = AdaptiveLimiter::new(Some(10.0));
        let start = Instant::now();
        for _ in 0..5 {
            limiter.acquire().await;
        }
        // The first call goes at once, the next four 100 ms apart.
        assert_eq!(start.elapsed(), Duration::from_millis(400));
    }

    #[tokio::test(start_paused = true)]
    async fn unlimited_until_the_first_throttle() {
        let limiter = AdaptiveLimiter::new(None);
        let start = Instant::now();
        for _ in 0..100 {
            limiter.acquire().await;
            limiter.succeeded(Instant::now());
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert_eq!(limiter.rate(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn one_cut_per_round_of_throttles() {
        let limiter = AdaptiveLimiter::new(Some(100.0));
        let sent: Vec<Instant> = futures_sent(&limiter, 10).await;
        let now = Instant::now();
        limiter.throttled(sent[5], now);
        assert_eq!(limiter.rate(), Some(70.0));
        // Throttles of calls sent before the cut change nothing more.
        limiter.throttled(sent[6], now);
        limiter.throttled(sent[9], now);
        assert_eq!(limiter.rate(), Some(70.0));
        // A call sent after the cut being throttled cuts again.
        let later = limiter.acquire().await;
        limiter.throttled(later, Instant::now());
        assert_eq!(limiter.rate(), Some(49.0));
    }

    async fn futures_sent(limiter: &AdaptiveLimiter, n: usize) -> Vec<Instant> {
        let mut sent = Vec::new();
        for _ in 0..n {
            sent.push(limiter.acquire().await);
        }
        sent
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_climbs_back_after_a_cut_and_respects_the_ceiling() {
        let limiter = AdaptiveLimiter::new(Some(40.0));
        let sent = futures_sent(&limiter, 40).await;
        limiter.throttled(sent[39], Instant::now());
        assert_eq!(limiter.rate(), Some(28.0));
        // Calls keep succeeding: back to the ceiling within a few seconds, never above.
        let mut quota = Quota::new(1000.0, Instant::now());
        saturate(&limiter, &mut quota, 10).await;
        assert_eq!(limiter.rate(), Some(40.0));
    }

    #[tokio::test(start_paused = true)]
    async fn sustained_load_runs_close_to_the_quota_with_few_throttles() {
        for quota_rate in [20.0, 50.0, 200.0] {
            let limiter = AdaptiveLimiter::new(None);
            let mut quota = Quota::new(quota_rate, Instant::now());
            let seconds = 200;
            let (served, throttled) = saturate(&limiter, &mut quota, seconds).await;
            let utilisation = served as f64 / (quota_rate * seconds as f64);
            let throttled_share = throttled as f64 / (served + throttled) as f64;
            assert!(
                utilisation >= 0.95,
                "quota {quota_rate}: {utilisation:.3} of the quota"
            );
            assert!(
                throttled_share < 0.05,
                "quota {quota_rate}: {throttled} of {} calls throttled",
                served + throttled
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn with_the_quota_as_ceiling_nothing_is_throttled() {
        let limiter = AdaptiveLimiter::new(Some(50.0));
        let mut quota = Quota::new(50.0, Instant::now());
        let (served, throttled) = saturate(&limiter, &mut quota, 60).await;
        assert_eq!(throttled, 0);
        assert!(served >= 50 * 60, "{served}");
    }

    #[test]
    fn a_throttle_never_cuts_below_the_floor() {
        let limiter = AdaptiveLimiter::new(Some(0.2));
        let now = Instant::now();
        for _ in 0..10 {
            let sent = limiter.reserve(now);
            limiter.throttled(sent, sent + Duration::from_secs(1));
        }
        assert_eq!(limiter.rate(), Some(0.2));
        let limiter = AdaptiveLimiter::new(None);
        let mut at = now;
        for _ in 0..50 {
            let sent = limiter.reserve(at);
            at = sent + Duration::from_secs(1);
            limiter.throttled(sent, at);
        }
        assert_eq!(limiter.rate(), Some(MIN_RATE));
    }
}
