//! The sending rate of one AWS service, adapted to its throttling: a client-side rate limiter
//! shared by every call to the service, in the manner of the AWS SDKs' "adaptive" retry mode.
//!
//! Until the service first throttles, calls go as fast as rekeyd makes them (or at the
//! configured `[aws.rate_limits]` rate). Each throttling answer cuts the rate to `BETA` times
//! the rate calls were going at; answers that are not throttling let it climb back along a
//! cubic curve (CUBIC, RFC 8312): quickly to just under the rate of the last cut, slowly
//! around it, then faster again to probe for more. Only one cut is made per round: a throttle
//! answering a call booked before the last cut (it may be sent after it, at the old spacing)
//! says nothing new about the reduced rate. Calls are spaced evenly at the current rate,
//! never bursting, which is what a token-bucket quota serves best. A configured rate limit
//! is a ceiling the rate never exceeds.

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

/// Which cut of the rate a call was booked after (see [`AdaptiveLimiter::throttled`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Round(u64);

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
    /// How many cuts were made: the round a call is booked in.
    round: u64,
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
                round: 0,
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

    /// Waits for this call's turn; returns the round it was booked in (pass it to
    /// [`AdaptiveLimiter::throttled`]).
    pub async fn acquire(&self) -> Round {
        loop {
            let now = Instant::now();
            let (slot, round) = self.reserve(now);
            if slot <= now {
                // Unlimited, or the slot is free now. Never sleep for nothing: tokio rounds a
                // deadline up to its next millisecond tick, so `sleep_until(now)` would add a
                // millisecond or two to every call.
                return round;
            }
            tokio::time::sleep_until(slot).await;
            // A slot booked at the spacing of before a cut is given up for one at the new
            // spacing: otherwise every caller already waiting goes at the old rate.
            if self.lock().round == round.0 {
                return round;
            }
        }
    }

    /// Books the next send time at or after `now`; the round it is booked in.
    pub fn reserve(&self, now: Instant) -> (Instant, Round) {
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
        (slot, Round(s.round))
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

    /// The service throttled a call booked in `round`: cut the rate, once per round.
    pub fn throttled(&self, round: Round, now: Instant) {
        let floor = self.floor();
        let mut s = self.lock();
        if round.0 != s.round {
            return;
        }
        s.round += 1;
        let measured = Self::measured(&mut s, now);
        let current = match s.rate {
            Some(rate) => rate.min(self.ceiling.unwrap_or(f64::INFINITY)),
            None => self.ceiling.map_or(measured, |c| c.min(measured)),
        };
        s.last_max = current.max(floor);
        s.rate = Some((BETA * s.last_max).max(floor));
        s.cut_at = Some(now);
        let rate = s
            .rate
            .unwrap_or(floor)
            .min(self.ceiling.unwrap_or(f64::INFINITY));
        s.next_slot = now + Duration::from_secs_f64(1.0 / rate);
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
    use std::sync::Arc;

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

    /// `workers` callers send calls back to back through `limiter` for `seconds` of (paused)
    /// time against a quota, each answer arriving `latency` after its send; (served,
    /// throttled).
    async fn saturate(
        limiter: &Arc<AdaptiveLimiter>,
        quota: &Arc<Mutex<Quota>>,
        workers: usize,
        seconds: u64,
    ) -> (u64, u64) {
        let end = Instant::now() + Duration::from_secs(seconds);
        let mut tasks = Vec::new();
        for _ in 0..workers {
            let (limiter, quota) = (Arc::clone(limiter), Arc::clone(quota));
            tasks.push(tokio::spawn(async move {
                let (mut served, mut throttled) = (0, 0);
                while Instant::now() < end {
                    let round = limiter.acquire().await;
                    let admitted = quota.lock().unwrap().admit(Instant::now());
                    tokio::time::sleep(Duration::from_millis(3)).await;
                    if admitted {
                        served += 1;
                        limiter.succeeded(Instant::now());
                    } else {
                        throttled += 1;
                        limiter.throttled(round, Instant::now());
                        // rekeyd's retry backoff before the next try.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
                (served, throttled)
            }));
        }
        let mut total = (0, 0);
        for task in tasks {
            let (served, throttled) = task.await.unwrap();
            total = (total.0 + served, total.1 + throttled);
        }
        total
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

    /// In real time, not paused: tokio rounds a timer up to its next millisecond tick, so a
    /// limiter that "sleeps until now" adds a millisecond or two to every AWS call.
    #[tokio::test]
    async fn a_free_slot_is_taken_without_waiting_for_the_timer() {
        let waker = std::task::Waker::noop();
        let mut context = std::task::Context::from_waker(waker);
        let unlimited = AdaptiveLimiter::new(None);
        for _ in 0..3 {
            let acquire = std::pin::pin!(unlimited.acquire());
            assert!(acquire.poll(&mut context).is_ready());
        }
        // Under a ceiling, the first call's slot is free.
        let limited = AdaptiveLimiter::new(Some(10.0));
        assert!(
            std::pin::pin!(limited.acquire())
                .poll(&mut context)
                .is_ready()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn one_cut_per_round_of_throttles() {
        let limiter = AdaptiveLimiter::new(Some(100.0));
        let sent = futures_sent(&limiter, 10).await;
        // Booked before the cut, sent after it.
        let (_, booked) = limiter.reserve(Instant::now());
        let now = Instant::now();
        limiter.throttled(sent[5], now);
        assert_eq!(limiter.rate(), Some(70.0));
        // Throttles of calls booked before the cut change nothing more.
        limiter.throttled(sent[6], now);
        limiter.throttled(sent[9], now);
        limiter.throttled(booked, now + Duration::from_millis(10));
        assert_eq!(limiter.rate(), Some(70.0));
        // A call booked after the cut being throttled cuts again.
        let later = limiter.acquire().await;
        limiter.throttled(later, Instant::now());
        assert_eq!(limiter.rate(), Some(49.0));
    }

    async fn futures_sent(limiter: &AdaptiveLimiter, n: usize) -> Vec<Round> {
        let mut sent = Vec::new();
        for _ in 0..n {
            sent.push(limiter.acquire().await);
        }
        sent
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_climbs_back_after_a_cut_and_respects_the_ceiling() {
        let limiter = Arc::new(AdaptiveLimiter::new(Some(40.0)));
        let sent = futures_sent(&limiter, 40).await;
        limiter.throttled(sent[39], Instant::now());
        assert_eq!(limiter.rate(), Some(28.0));
        // Calls keep succeeding: back to the ceiling within a few seconds, never above.
        let quota = Arc::new(Mutex::new(Quota::new(1000.0, Instant::now())));
        saturate(&limiter, &quota, 1, 10).await;
        assert_eq!(limiter.rate(), Some(40.0));
    }

    #[tokio::test(start_paused = true)]
    async fn sustained_load_runs_close_to_the_quota_with_few_throttles() {
        for (quota_rate, workers) in [(20.0, 1), (50.0, 8), (50.0, 32), (200.0, 8)] {
            let limiter = Arc::new(AdaptiveLimiter::new(None));
            let quota = Arc::new(Mutex::new(Quota::new(quota_rate, Instant::now())));
            let seconds = 200;
            let (served, throttled) = saturate(&limiter, &quota, workers, seconds).await;
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
        let limiter = Arc::new(AdaptiveLimiter::new(Some(50.0)));
        let quota = Arc::new(Mutex::new(Quota::new(50.0, Instant::now())));
        let (served, throttled) = saturate(&limiter, &quota, 8, 60).await;
        assert_eq!(throttled, 0);
        assert!(served >= 50 * 60, "{served}");
    }

    #[test]
    fn a_throttle_never_cuts_below_the_floor() {
        let limiter = AdaptiveLimiter::new(Some(0.2));
        let now = Instant::now();
        for _ in 0..10 {
            let (sent, round) = limiter.reserve(now);
            limiter.throttled(round, sent + Duration::from_secs(1));
        }
        assert_eq!(limiter.rate(), Some(0.2));
        let limiter = AdaptiveLimiter::new(None);
        let mut at = now;
        for _ in 0..50 {
            let (sent, round) = limiter.reserve(at);
            at = sent + Duration::from_secs(1);
            limiter.throttled(round, at);
        }
        assert_eq!(limiter.rate(), Some(MIN_RATE));
    }
}
