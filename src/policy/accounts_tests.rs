//! Unit tests of `[accounts]` and the keys that refer to them.

use std::path::Path;
use std::sync::Arc;

use super::check_tests::{BOT, bot, check, problems};
use super::*;

const ACCOUNTS: &str = "[accounts.media]\nrole_arn = \"arn:aws:iam::111111111111:role/rekeyd\"\n\
     [accounts.security]\nrole_arn = \"arn:aws:iam::333333333333:role/rekeyd\"\n\
     external_id = \"shared-ext-id\"\nsession_name = \"rekeyd@sec\"\nregion = \"eu-west-1\"\n";

fn policy(text: &str) -> Policy {
    match parse(Path::new("p.toml"), text) {
        Ok(policy) => policy,
        Err(problems) => panic!("unexpected problems:\n{problems}"),
    }
}

#[test]
fn accounts_are_read_with_their_defaults() {
    let policy = policy(&format!("{ACCOUNTS}{}", bot("")));
    let names: Vec<_> = policy
        .aws
        .accounts
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(names, ["media", "security"]);
    let media = &policy.aws.accounts[0];
    assert_eq!(media.session_name, "rekeyd-media");
    assert_eq!(media.external_id, None);
    assert_eq!(media.region, None);
    assert_eq!(media.account_id(), "111111111111");
    let security = &policy.aws.accounts[1];
    assert_eq!(security.session_name, "rekeyd@sec");
    assert_eq!(security.external_id.as_deref(), Some("shared-ext-id"));
    assert_eq!(security.region.as_deref(), Some("eu-west-1"));
    let credential = &policy.credentials[0];
    assert_eq!(
        credential.account, None,
        "no account: rekeyd's own identity"
    );
    assert_eq!(credential.secret_account, None);
    assert!(credential.replica_regions.is_empty());
}

#[test]
fn the_secret_lives_in_the_provider_account_unless_secret_account_says_otherwise() {
    let text = format!(
        "{ACCOUNTS}{}{}",
        bot("account = \"media\"\n"),
        "[[chime_bot]]\nname = \"c\"\naccount_id = \"a\"\nbot_id = \"y\"\nevery = \"1d\"\n\
         account = \"media\"\nsecret_account = \"security\"\nreplica_regions = [\"eu-west-1\", \"us-west-2\"]\n"
    );
    let policy = policy(&text);
    let [b, c] = &policy.credentials[..] else {
        panic!("two credentials");
    };
    assert_eq!(b.account.as_ref().unwrap().name, "media");
    assert_eq!(b.secret_account.as_ref().unwrap().name, "media");
    assert_eq!(c.account.as_ref().unwrap().name, "media");
    assert_eq!(c.secret_account.as_ref().unwrap().name, "security");
    assert_eq!(&c.replica_regions[..], ["eu-west-1", "us-west-2"]);
    // One account, shared: a pointer per credential, not a copy.
    assert!(Arc::ptr_eq(
        b.account.as_ref().unwrap(),
        c.account.as_ref().unwrap()
    ));
}

#[test]
fn defaults_give_every_credential_its_accounts_and_replicas() {
    let text = format!(
        "{ACCOUNTS}[defaults]\naccount = \"media\"\nsecret_account = \"security\"\nreplica_regions = [\"eu-west-1\"]\n{}{}",
        bot(""),
        "[[chime_bot]]\nname = \"c\"\naccount_id = \"a\"\nbot_id = \"y\"\nevery = \"1d\"\naccount = \"security\"\n"
    );
    let policy = policy(&text);
    let [b, c] = &policy.credentials[..] else {
        panic!("two credentials");
    };
    assert_eq!(b.account.as_ref().unwrap().name, "media");
    assert_eq!(b.secret_account.as_ref().unwrap().name, "security");
    assert_eq!(c.account.as_ref().unwrap().name, "security");
    assert!(Arc::ptr_eq(&b.replica_regions, &c.replica_regions));
}

#[test]
fn the_lease_table_may_live_in_an_account() {
    let text = format!(
        "{ACCOUNTS}[coordination]\ndynamodb_table = \"t-1\"\naccount = \"security\"\n{}",
        bot("")
    );
    let coordination = policy(&text).coordination.expect("[coordination]");
    assert_eq!(coordination.account.unwrap().name, "security");
}

#[test]
fn unknown_account_names_are_problems_of_the_key_that_names_them() {
    check(
        BOT,
        "account",
        "unknown account \"medai\"; the policy's accounts are \"media\", \"security\"",
        &format!("{ACCOUNTS}{}", bot("account = \"medai\" #<")),
    );
    check(
        BOT,
        "secret_account",
        "unknown account \"vault\"",
        &format!("{ACCOUNTS}{}", bot("secret_account = \"vault\" #<")),
    );
    check(
        None,
        "defaults.account",
        "the policy has no [accounts.media] table",
        &format!("[defaults]\naccount = \"media\" #<\n{}", bot("")),
    );
}

#[test]
fn account_tables_are_checked() {
    check(
        None,
        "accounts.media.role_arn",
        "not an IAM role ARN",
        "[accounts.media]\nrole_arn = \"arn:aws:iam::111:user/x\" #<\n",
    );
    check(
        None,
        "accounts.media.external_id",
        "2 to 1224",
        "[accounts.media]\nrole_arn = \"arn:aws:iam::111111111111:role/r\"\nexternal_id = \"x\" #<\n",
    );
    check(
        None,
        "accounts.media.session_name",
        "2 to 64",
        "[accounts.media]\nrole_arn = \"arn:aws:iam::111111111111:role/r\"\nsession_name = \"a b\" #<\n",
    );
    check(
        None,
        "accounts.media.region",
        "not a region",
        "[accounts.media]\nrole_arn = \"arn:aws:iam::111111111111:role/r\"\nregion = \"EU\" #<\n",
    );
    check(
        None,
        "accounts.media.role",
        "unknown key",
        "[accounts.media]\nrole_arn = \"arn:aws:iam::111111111111:role/r\"\nrole = \"x\" #<\n",
    );
    let missing = problems("[accounts.media]\nregion = \"eu-west-1\"\n");
    assert!(
        missing
            .iter()
            .any(|p| p.key.as_deref() == Some("accounts.media.role_arn") && p.line == 1),
        "{missing:#?}"
    );
}

#[test]
fn a_bad_account_is_reported_once_not_again_where_used() {
    let found = problems(&format!(
        "[accounts.media]\nrole_arn = \"nope\"\n{}",
        bot("account = \"media\"\n")
    ));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].key.as_deref(), Some("accounts.media.role_arn"));
}

#[test]
fn replica_regions_and_sts_settings_are_checked() {
    check(
        BOT,
        "replica_regions",
        "listed twice",
        &bot("replica_regions = [\"eu-west-1\", \"eu-west-1\"] #<"),
    );
    check(
        BOT,
        "replica_regions",
        "not a region",
        &bot("replica_regions = [\"Mars\"] #<"),
    );
    check(
        None,
        "aws.rate_limits.sts",
        "STS takes no rate limit",
        &format!("[aws.rate_limits]\nsts = 5.0 #<\n{}", bot("")),
    );
    let text = format!("[aws.endpoints]\nsts = \"http://127.0.0.1:1\"\n{}", bot(""));
    assert_eq!(
        policy(&text).aws.sts_endpoint.as_deref(),
        Some("http://127.0.0.1:1")
    );
}
