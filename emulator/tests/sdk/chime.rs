//! Chime bots through aws-sdk-chime.

use aws_sdk_chime::types::BotType;

use crate::util::{TestEnv, within};

pub const ACCOUNT: &str = "12a3456b-7c89-012d-3456-78901e23fg45";
pub const BOT: &str = "123abcd4-5ef6-789g-0h12-34j56789012k";

#[tokio::test]
async fn regenerate_replaces_the_token_and_get_bot_shows_it() {
    within(async {
        let env = TestEnv::start().await;
        let seeded = env.emulator.seed_chime_bot(ACCOUNT, BOT).unwrap();
        let chime = env.chime();
        let out = chime
            .regenerate_security_token()
            .account_id(ACCOUNT)
            .bot_id(BOT)
            .send()
            .await
            .unwrap();
        let bot = out.bot().unwrap();
        let token = bot.security_token().unwrap();
        assert_ne!(token, seeded.security_token);
        assert_eq!(bot.bot_id(), Some(BOT));
        assert_eq!(bot.bot_type(), Some(&BotType::ChatBot));
        assert_eq!(bot.disabled(), Some(false));
        assert_eq!(bot.user_id(), Some(seeded.user_id.as_str()));
        assert_eq!(bot.bot_email(), Some(seeded.bot_email.as_str()));
        assert!(bot.created_timestamp().is_some() && bot.updated_timestamp().is_some());
        assert_eq!(
            env.emulator
                .truth()
                .chime_bot(ACCOUNT, BOT)
                .unwrap()
                .security_token,
            token
        );

        let got = chime
            .get_bot()
            .account_id(ACCOUNT)
            .bot_id(BOT)
            .send()
            .await
            .unwrap();
        assert_eq!(got.bot().unwrap().security_token(), Some(token));
        assert_eq!(
            got.bot().unwrap().display_name(),
            Some(seeded.display_name.as_str())
        );
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn unknown_and_malformed_ids() {
    within(async {
        let env = TestEnv::start().await;
        env.emulator.seed_chime_bot(ACCOUNT, BOT).unwrap();
        let chime = env.chime();
        let other = "99999999-9999-9999-9999-999999999999";
        for (account, bot) in [(ACCOUNT, other), (other, BOT)] {
            let err = chime
                .regenerate_security_token()
                .account_id(account)
                .bot_id(bot)
                .send()
                .await
                .unwrap_err();
            assert!(
                err.as_service_error().unwrap().is_not_found_exception(),
                "{account}/{bot}"
            );
            assert_eq!(err.raw_response().unwrap().status().as_u16(), 404);
        }
        let err = chime
            .get_bot()
            .account_id(ACCOUNT)
            .bot_id("bot 1")
            .send()
            .await
            .unwrap_err();
        assert!(err.as_service_error().unwrap().is_bad_request_exception());
        assert_eq!(err.raw_response().unwrap().status().as_u16(), 400);
        env.shutdown().await;
    })
    .await;
}
