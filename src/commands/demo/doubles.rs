//! Double rotations: a credential rotated again before its next due time
//! (the slot its previous rotation scheduled), counted from the versions
//! Secrets Manager holds; what uncoordinated replicas would produce.

use chrono::{DateTime, TimeDelta, Utc};
use rekeyd_emulator::Truth;

use crate::daemon::timing;
use crate::policy::Credential;
use crate::record::StoredRecord;

/// Stored times are to the second: a rotation this much before its due
/// time still counts as in its own slot.
const ROUNDING: TimeDelta = TimeDelta::seconds(1);

/// How many of `credential`'s stored rotations came before the slot their
/// predecessor scheduled.
pub fn count(truth: &Truth, credential: &Credential) -> usize {
    let Some(secret) = truth
        .secrets
        .iter()
        .find(|s| s.name == credential.secret_name)
    else {
        return 0;
    };
    let mut rotations: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> = secret
        .versions
        .iter()
        .filter_map(|v| StoredRecord::parse(v.secret_string.as_deref()?))
        .map(|record| (record.rotated_at, record.expires_at()))
        .collect();
    in_one_slot(credential, &mut rotations)
}

/// The rotations (time, expiry) that came before their predecessor's next
/// due time.
fn in_one_slot(
    credential: &Credential,
    rotations: &mut [(DateTime<Utc>, Option<DateTime<Utc>>)],
) -> usize {
    rotations.sort();
    rotations
        .windows(2)
        .filter(|pair| {
            let (at, expires_at) = pair[0];
            let due = timing::regular_for(credential, at, expires_at, at).at;
            pair[1].0 + ROUNDING < due
        })
        .count()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn bot(every: &str) -> Credential {
        let text = format!(
            "[aws]\nregion = \"us-east-1\"\n\n[[chime_bot]]\nname = \"b\"\naccount_id = \"a1b2c3d4-0000-4000-8000-000000000001\"\nbot_id = \"b0b0b0b0-0000-4000-8000-000000000002\"\nevery = \"{every}\"\n"
        );
        let policy = crate::policy::parse(Path::new("t.toml"), &text).unwrap();
        policy.credentials[0].clone()
    }

    fn at(seconds: i64) -> (DateTime<Utc>, Option<DateTime<Utc>>) {
        let start: DateTime<Utc> = "2026-11-30T17:00:00Z".parse().unwrap();
        (start + TimeDelta::seconds(seconds), None)
    }

    #[test]
    fn rotations_a_slot_apart_are_not_doubles() {
        let credential = bot("6s");
        assert_eq!(in_one_slot(&credential, &mut [at(0), at(6), at(12)]), 0);
        assert_eq!(in_one_slot(&credential, &mut [at(12), at(0), at(5)]), 0);
    }

    #[test]
    fn a_second_rotation_within_a_slot_is_a_double() {
        let credential = bot("6s");
        assert_eq!(in_one_slot(&credential, &mut [at(0), at(6), at(6)]), 1);
        assert_eq!(in_one_slot(&credential, &mut [at(0), at(2), at(3)]), 2);
    }
}
