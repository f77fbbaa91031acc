//! Unit tests of the audit's status logic: pure functions of the schedule,
//! the stored record and the clock.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::status::{ProviderView, SecretView, Status, assess, scheduled_after};
use crate::policy::{Credential, parse};
use crate::record::StoredRecord;

const GRACE: Duration = Duration::from_secs(15 * 60);

fn t(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// The one credential of a policy whose credential table is `table`.
fn credential(table: &str) -> Credential {
    let text = format!("[aws]\nregion = \"us-east-1\"\n\n{table}");
    parse(Path::new("p.toml"), &text)
        .unwrap_or_else(|p| panic!("{p}"))
        .credentials
        .remove(0)
}

fn chime(schedule: &str) -> Credential {
    credential(&format!(
        "[[chime_bot]]\nname = \"bot\"\naccount_id = \"a\"\nbot_id = \"b\"\n{schedule}\n"
    ))
}

fn ivs(refresh_before: &str) -> Credential {
    credential(&format!(
        "[[ivs_participant_token]]\nname = \"tok\"\nstage_arn = \"arn:aws:ivs:us-west-2:123456789012:stage/abc\"\nduration = \"12h\"\nrefresh_before = \"{refresh_before}\"\n"
    ))
}

fn stored(kind: &str, name: &str, rotated_at: &str, expires: Option<&str>) -> SecretView {
    SecretView::Rekeyd(StoredRecord {
        kind: kind.into(),
        name: name.into(),
        rotated_at: t(rotated_at),
        // IVS tokens store `expiration_time`, API keys `expiration_date`.
        expiration_time: expires.filter(|_| kind != "iam_service_credential").map(t),
        expiration_date: expires.filter(|_| kind == "iam_service_credential").map(t),
        credential_id: None,
        security_token: None,
    })
}

fn status_at(credential: &Credential, secret: &SecretView, now: &str) -> Status {
    assess(credential, secret, &ProviderView::NotChecked, t(now), GRACE).status
}

#[test]
fn missing_and_unreadable_secrets() {
    let bot = chime("every = \"1d\"");
    let now = t("2026-11-23T10:00:00Z");
    let missing = assess(
        &bot,
        &SecretView::NotFound,
        &ProviderView::NotChecked,
        now,
        GRACE,
    );
    assert_eq!(missing.status, Status::Missing);
    assert_eq!(missing.next_due, Some(now));
    assert!(
        missing.detail.contains("rekeyd rotate bot"),
        "{}",
        missing.detail
    );
    let unreadable = SecretView::Unreadable("AccessDenied".into());
    assert_eq!(
        status_at(&bot, &unreadable, "2026-11-23T10:00:00Z"),
        Status::Error
    );
}

#[test]
fn a_value_rekeyd_did_not_write_is_missing_with_a_drift_detail() {
    let bot = chime("every = \"1d\"");
    let other = StoredRecord::parse(
        r#"{"kind":"chime_bot","name":"someone-else","rotated_at":"2026-11-23T00:00:00Z"}"#,
    );
    for view in [
        SecretView::from_record(&bot, None),
        SecretView::from_record(&bot, other),
    ] {
        let found = assess(
            &bot,
            &view,
            &ProviderView::NotChecked,
            t("2026-11-23T10:00:00Z"),
            GRACE,
        );
        assert_eq!(found.status, Status::Missing);
        assert!(found.detail.starts_with("drift: "), "{}", found.detail);
    }
}

#[test]
fn every_is_overdue_after_interval_jitter_and_grace() {
    let bot = chime("every = \"1d\"\njitter = \"5m\"");
    let secret = stored("chime_bot", "bot", "2026-11-22T10:00:00Z", None);
    // Due at 10:00; jitter 5m and grace 15m make 10:20 the limit.
    assert_eq!(status_at(&bot, &secret, "2026-11-23T09:59:00Z"), Status::Ok);
    assert_eq!(status_at(&bot, &secret, "2026-11-23T10:19:00Z"), Status::Ok);
    let late = assess(
        &bot,
        &secret,
        &ProviderView::NotChecked,
        t("2026-11-23T10:21:00Z"),
        GRACE,
    );
    assert_eq!(late.status, Status::Overdue);
    assert_eq!(late.next_due, Some(t("2026-11-23T10:00:00Z")));
    assert_eq!(late.last_rotated, Some(t("2026-11-22T10:00:00Z")));
    assert!(late.detail.contains("every 1day"), "{}", late.detail);
}

#[test]
fn cron_is_overdue_when_the_latest_cron_time_was_missed() {
    let bot = chime("schedule = \"0 0 3 * * *\"");
    let yesterday = stored("chime_bot", "bot", "2026-11-22T03:00:10Z", None);
    // Today's 03:00 run is still within the grace period at 03:10 ...
    assert_eq!(
        status_at(&bot, &yesterday, "2026-11-23T03:10:00Z"),
        Status::Ok
    );
    // ... and missed at 03:16.
    let late = assess(
        &bot,
        &yesterday,
        &ProviderView::NotChecked,
        t("2026-11-23T03:16:00Z"),
        GRACE,
    );
    assert_eq!(late.status, Status::Overdue);
    assert_eq!(late.next_due, Some(t("2026-11-23T03:00:00Z")));
    // Rotated after today's run: fine all day, next due tomorrow.
    let today = stored("chime_bot", "bot", "2026-11-23T03:00:05Z", None);
    let fine = assess(
        &bot,
        &today,
        &ProviderView::NotChecked,
        t("2026-11-23T23:00:00Z"),
        GRACE,
    );
    assert_eq!(fine.status, Status::Ok);
    assert_eq!(fine.next_due, Some(t("2026-11-24T03:00:00Z")));
}

#[test]
fn cron_counts_in_the_credentials_time_zone() {
    let bot = chime("schedule = \"0 30 3 * * *\"\ntimezone = \"Europe/Berlin\"");
    // 03:30 Berlin in November is 02:30 UTC.
    let secret = stored("chime_bot", "bot", "2026-11-22T02:30:00Z", None);
    assert_eq!(
        scheduled_after(&bot, t("2026-11-22T02:30:00Z"), None),
        Some(t("2026-11-23T02:30:00Z"))
    );
    assert_eq!(status_at(&bot, &secret, "2026-11-23T02:44:00Z"), Status::Ok);
    assert_eq!(
        status_at(&bot, &secret, "2026-11-23T02:46:00Z"),
        Status::Overdue
    );
}

#[test]
fn max_age_makes_an_old_secret_overdue_whatever_the_schedule() {
    let bot = chime("schedule = \"0 0 3 1 1 *\"\nmax_age = \"30d\"");
    let secret = stored("chime_bot", "bot", "2026-01-01T03:00:00Z", None);
    let found = assess(
        &bot,
        &secret,
        &ProviderView::NotChecked,
        t("2026-03-01T00:00:00Z"),
        GRACE,
    );
    assert_eq!(found.status, Status::Overdue);
    assert!(found.detail.contains("max_age"), "{}", found.detail);
    assert_eq!(status_at(&bot, &secret, "2026-01-20T00:00:00Z"), Status::Ok);
}

#[test]
fn ivs_tokens_are_ok_then_expiring_then_expired() {
    let token = ivs("1h");
    let secret = stored(
        "ivs_participant_token",
        "tok",
        "2026-11-23T00:00:00Z",
        Some("2026-11-23T12:00:00Z"),
    );
    let fresh = assess(
        &token,
        &secret,
        &ProviderView::NotChecked,
        t("2026-11-23T10:00:00Z"),
        GRACE,
    );
    assert_eq!(fresh.status, Status::Ok);
    assert_eq!(fresh.next_due, Some(t("2026-11-23T11:00:00Z")));
    assert_eq!(fresh.expires_at, Some(t("2026-11-23T12:00:00Z")));
    assert_eq!(
        status_at(&token, &secret, "2026-11-23T11:00:00Z"),
        Status::Expiring
    );
    assert_eq!(
        status_at(&token, &secret, "2026-11-23T11:59:59Z"),
        Status::Expiring
    );
    assert_eq!(
        status_at(&token, &secret, "2026-11-23T12:00:00Z"),
        Status::Expired
    );
    let no_expiry = stored("ivs_participant_token", "tok", "2026-11-23T00:00:00Z", None);
    assert_eq!(
        status_at(&token, &no_expiry, "2026-11-23T01:00:00Z"),
        Status::Missing
    );
}

#[test]
fn provider_findings_win_over_the_schedule() {
    let bot = chime("every = \"1d\"");
    let secret = stored("chime_bot", "bot", "2026-11-23T09:00:00Z", None);
    let now = t("2026-11-23T10:00:00Z");
    let gone = ProviderView::Drift("chime bot b does not exist".into());
    let found = assess(&bot, &secret, &gone, now, GRACE);
    assert_eq!(
        (found.status, found.detail.as_str()),
        (Status::Drift, "chime bot b does not exist")
    );
    let unreachable = ProviderView::Unreachable("AccessDenied".into());
    assert_eq!(
        assess(&bot, &secret, &unreachable, now, GRACE).status,
        Status::Error
    );
    assert_eq!(
        assess(&bot, &secret, &ProviderView::Fine, now, GRACE).status,
        Status::Ok
    );
}

#[test]
fn a_cron_that_never_fires_again_is_never_due() {
    let bot = chime("schedule = \"0 0 0 30 2 *\"");
    assert_eq!(scheduled_after(&bot, t("2026-01-01T00:00:00Z"), None), None);
    let secret = stored("chime_bot", "bot", "2026-01-01T00:00:00Z", None);
    assert_eq!(status_at(&bot, &secret, "2030-01-01T00:00:00Z"), Status::Ok);
}

fn bedrock_key(strategy_and_more: &str) -> Credential {
    credential(&format!(
        "[[iam_service_credential]]\nname = \"key\"\ncredential_id = \"ACCAEXAMPLE123EXAMPLE\"\nevery = \"180d\"\n{strategy_and_more}\n"
    ))
}

#[test]
fn api_keys_are_ok_then_expiring_then_expired() {
    // 90-day keys, rotated 33% of their lifetime ahead (the default).
    let key = bedrock_key("strategy = \"overlap\"\ncredential_age_days = 90");
    let secret = stored(
        "iam_service_credential",
        "key",
        "2026-01-01T00:00:00Z",
        Some("2026-04-01T00:00:00Z"),
    );
    let fresh = assess(
        &key,
        &secret,
        &ProviderView::NotChecked,
        t("2026-02-01T00:00:00Z"),
        GRACE,
    );
    assert_eq!(fresh.status, Status::Ok);
    assert_eq!(fresh.expires_at, Some(t("2026-04-01T00:00:00Z")));
    // The key's expiry comes before `every = "180d"`: it sets the next rotation.
    // 33% of 90 days (29.7 days) before expiry.
    assert_eq!(fresh.next_due, Some(t("2026-03-02T07:12:00Z")));
    let expiring = assess(
        &key,
        &secret,
        &ProviderView::NotChecked,
        t("2026-03-20T00:00:00Z"),
        GRACE,
    );
    assert_eq!(expiring.status, Status::Expiring);
    assert!(
        expiring.detail.contains("2026-04-01"),
        "{}",
        expiring.detail
    );
    assert_eq!(
        status_at(&key, &secret, "2026-04-01T00:00:01Z"),
        Status::Expired
    );
}

#[test]
fn a_reset_key_keeps_its_expiry_and_the_audit_says_so() {
    let key = bedrock_key("refresh_before = \"7d\"");
    let secret = stored(
        "iam_service_credential",
        "key",
        "2026-03-01T00:00:00Z",
        Some("2026-03-10T00:00:00Z"),
    );
    // Reset cannot move the expiry: the schedule alone sets the next rotation.
    assert_eq!(
        scheduled_after(
            &key,
            t("2026-03-01T00:00:00Z"),
            Some(t("2026-03-10T00:00:00Z"))
        ),
        Some(t("2026-08-28T00:00:00Z"))
    );
    let found = assess(
        &key,
        &secret,
        &ProviderView::NotChecked,
        t("2026-03-05T00:00:00Z"),
        GRACE,
    );
    assert_eq!(found.status, Status::Expiring);
    assert!(found.detail.contains("overlap"), "{}", found.detail);
}

#[test]
fn iam_reporting_the_key_expired_is_expired() {
    let key = bedrock_key("strategy = \"overlap\"");
    let secret = stored(
        "iam_service_credential",
        "key",
        "2026-03-01T00:00:00Z",
        None,
    );
    let found = assess(
        &key,
        &secret,
        &ProviderView::Expired("expired at 2026-03-02".into()),
        t("2026-03-05T00:00:00Z"),
        GRACE,
    );
    assert_eq!(found.status, Status::Expired);
}
