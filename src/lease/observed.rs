//! What this replica saw of leases held elsewhere, on its own monotonic
//! clock: a lease is stale once its RVN stayed the same for a whole lease
//! duration since this replica first saw it (wall clocks are never compared).

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

/// The last RVN seen per credential, and since when.
#[derive(Debug, Default)]
pub(super) struct Observations {
    seen: HashMap<String, Seen>,
}

#[derive(Debug, Clone)]
struct Seen {
    rvn: String,
    since: Instant,
}

impl Observations {
    /// Notes that `credential`'s item has `rvn` now; `true` when that RVN has
    /// stayed unchanged for at least `lease` since it was first seen.
    pub fn stale(&mut self, credential: &str, rvn: &str, lease: Duration, now: Instant) -> bool {
        match self.seen.get(credential) {
            Some(seen) if seen.rvn == rvn => now.duration_since(seen.since) >= lease,
            _ => {
                self.seen.insert(
                    credential.to_owned(),
                    Seen {
                        rvn: rvn.to_owned(),
                        since: now,
                    },
                );
                false
            }
        }
    }

    /// Forgets `credential` (acquired, or free).
    pub fn forget(&mut self, credential: &str) {
        self.seen.remove(credential);
    }
}
