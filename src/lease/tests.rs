//! Unit tests of staleness on the monotonic clock (the clock is paused).

use std::time::Duration;

use tokio::time::{Instant, advance};

use super::observed::Observations;

const LEASE: Duration = Duration::from_secs(30);

#[tokio::test(start_paused = true)]
async fn a_record_unchanged_for_a_whole_lease_is_stale() {
    let mut seen = Observations::default();
    assert!(!seen.stale("bot", "rvn-1", LEASE, Instant::now()));
    advance(LEASE - Duration::from_millis(1)).await;
    assert!(!seen.stale("bot", "rvn-1", LEASE, Instant::now()));
    advance(Duration::from_millis(1)).await;
    assert!(seen.stale("bot", "rvn-1", LEASE, Instant::now()));
}

#[tokio::test(start_paused = true)]
async fn a_heartbeat_restarts_the_wait() {
    let mut seen = Observations::default();
    assert!(!seen.stale("bot", "rvn-1", LEASE, Instant::now()));
    advance(LEASE - Duration::from_secs(1)).await;
    // The owner wrote a new RVN: it is alive.
    assert!(!seen.stale("bot", "rvn-2", LEASE, Instant::now()));
    advance(Duration::from_secs(2)).await;
    assert!(!seen.stale("bot", "rvn-2", LEASE, Instant::now()));
    advance(LEASE).await;
    assert!(seen.stale("bot", "rvn-2", LEASE, Instant::now()));
}

#[tokio::test(start_paused = true)]
async fn credentials_are_watched_apart_and_forgotten() {
    let mut seen = Observations::default();
    assert!(!seen.stale("a", "rvn-1", LEASE, Instant::now()));
    advance(LEASE).await;
    assert!(!seen.stale("b", "rvn-1", LEASE, Instant::now()));
    assert!(seen.stale("a", "rvn-1", LEASE, Instant::now()));
    seen.forget("a");
    assert!(!seen.stale("a", "rvn-1", LEASE, Instant::now()));
}
