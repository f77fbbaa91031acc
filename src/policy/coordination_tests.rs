//! Unit tests of `[coordination]` and `[aws.endpoints] dynamodb`.

use std::path::Path;
use std::time::Duration;

use super::check_tests::{bot, check};
use super::*;

fn policy(text: &str) -> Policy {
    match parse(Path::new("p.toml"), text) {
        Ok(policy) => policy,
        Err(problems) => panic!("unexpected problems:\n{problems}"),
    }
}

#[test]
fn without_the_table_a_replica_works_alone() {
    assert_eq!(policy(&bot("")).coordination, None);
}

#[test]
fn defaults_apply_to_a_table_with_only_its_name() {
    let text = format!(
        "[coordination]\ndynamodb_table = \"rekeyd-leases\"\n{}",
        bot("")
    );
    let coordination = policy(&text).coordination.expect("[coordination] is set");
    assert_eq!(coordination.dynamodb_table, "rekeyd-leases");
    assert_eq!(coordination.lease, Duration::from_secs(30));
    assert!(
        coordination
            .replica_id
            .ends_with(&format!(":{}", std::process::id())),
        "{}",
        coordination.replica_id
    );
}

#[test]
fn every_key_is_read() {
    let text = format!(
        "[coordination]\ndynamodb_table = \"t-1\"\nlease = \"1m\"\nreplica_id = \"host-a\"\n\
         [aws.endpoints]\ndynamodb = \"http://127.0.0.1:4566\"\n{}",
        bot("")
    );
    let policy = policy(&text);
    assert_eq!(
        policy.coordination,
        Some(Coordination {
            dynamodb_table: "t-1".to_owned(),
            lease: Duration::from_secs(60),
            replica_id: "host-a".to_owned(),
            account: None,
        })
    );
    assert_eq!(
        policy.aws.endpoints.dynamodb.as_deref(),
        Some("http://127.0.0.1:4566")
    );
}

#[test]
fn problems_name_their_line_and_key() {
    check(
        None,
        "coordination.dynamodb_table",
        "missing",
        "[coordination] #<\nlease = \"30s\"",
    );
    check(
        None,
        "coordination.dynamodb_table",
        "not a DynamoDB table name",
        "[coordination]\ndynamodb_table = \"a b\" #<",
    );
    check(
        None,
        "coordination.lease",
        "10s to 10m",
        "[coordination]\ndynamodb_table = \"t-1\"\nlease = \"5s\" #<",
    );
    check(
        None,
        "coordination.lease",
        "10s to 10m",
        "[coordination]\ndynamodb_table = \"t-1\"\nlease = \"11m\" #<",
    );
    check(
        None,
        "coordination.lease",
        "not a duration",
        "[coordination]\ndynamodb_table = \"t-1\"\nlease = \"soon\" #<",
    );
    check(
        None,
        "coordination.replica_id",
        "must not be empty",
        "[coordination]\ndynamodb_table = \"t-1\"\nreplica_id = \" \" #<",
    );
    check(
        None,
        "coordination.account",
        "unknown account \"security\"",
        "[coordination]\ndynamodb_table = \"t-1\"\naccount = \"security\" #<",
    );
    check(
        None,
        "coordination.heartbeat",
        "unknown key",
        "[coordination]\ndynamodb_table = \"t-1\"\nheartbeat = \"5s\" #<",
    );
    check(
        None,
        "aws.endpoints.dynamodb",
        "not",
        "[aws.endpoints]\ndynamodb = \"ftp://x\" #<",
    );
}
