//! Bounded authority, against the local Cognito (docs/adr/0004-auth.md, "Bounded authority"):
//! a token still valid for minutes does not outlive its holder's standing. Removal from
//! `admins` answers 403 and a disabled account 401 within [`STANDING_MAX_AGE`], with the
//! function's own settings; a deleted and recreated username is someone else, whose rights
//! the old token never had.

use std::time::{Duration, Instant};

use atelier_domain::apps::STANDING_MAX_AGE;
use atelier_tests::{TestApp, spawn_app};
use http::{Method, StatusCode};
use serde_json::{Value, json};

/// An admin-only read without a per-person limit (the reports' 30 a minute would answer 429
/// to this test's polling first).
const ADMIN_READ: &str = "/v1/budgets/bob";
/// Polling step while waiting for a change to take effect.
const POLL: Duration = Duration::from_millis(250);

fn preview() -> Value {
    let schedule = json!({ "windows": [{ "days": ["mon"], "start": "08:00", "end": "19:00" }] });
    json!({ "schedule": schedule, "from": "2026-11-23T06:00:00Z", "count": 1 })
}

fn cognito(app: &TestApp) -> aws_sdk_cognitoidentityprovider::Client {
    aws_sdk_cognitoidentityprovider::Client::new(&app.sdk)
}

/// How long after `since` the request answers `expected`, polling. Fails when a request sent
/// a whole window after `since` still answers otherwise: whatever was cached before the
/// change has expired by then.
async fn until(since: Instant, expected: StatusCode, request: impl AsyncFn() -> StatusCode) -> Duration {
    loop {
        let sent = since.elapsed();
        let status = request().await;
        if status == expected {
            return since.elapsed();
        }
        assert!(sent < STANDING_MAX_AGE, "a request sent {sent:?} after the change still answered {status}");
        tokio::time::sleep(POLL).await;
    }
}

#[tokio::test]
async fn demotion_and_disabling_take_effect_within_the_window() {
    let app = spawn_app().await;
    let ada = app.token("ada").await;
    let alice = app.token("alice").await;
    let admin_read = async || app.call(Method::GET, ADMIN_READ, Some(&ada), None).await.status;
    let alice_writes =
        async || app.call(Method::POST, "/v1/schedules/preview", Some(&alice), Some(preview())).await.status;
    assert_eq!(admin_read().await, StatusCode::OK);
    assert_eq!(alice_writes().await, StatusCode::OK);

    let pool = app.seeded.user_pool_id.clone();
    cognito(&app)
        .admin_remove_user_from_group()
        .user_pool_id(&pool)
        .username("ada")
        .group_name("admins")
        .send()
        .await
        .expect("AdminRemoveUserFromGroup");
    cognito(&app).admin_disable_user().user_pool_id(&pool).username("alice").send().await.expect("AdminDisableUser");
    let changed = Instant::now();
    let (demoted, disabled) = tokio::join!(
        until(changed, StatusCode::FORBIDDEN, admin_read),
        until(changed, StatusCode::UNAUTHORIZED, alice_writes),
    );
    println!("removal from admins answered 403 after {demoted:?}; disabling answered 401 after {disabled:?}");
    // Both tokens are still valid: a read of alice's own stays on the token alone.
    assert_eq!(app.call(Method::GET, "/v1/workspaces", Some(&alice), None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_recreated_username_is_not_the_token_holder() {
    let app = spawn_app().await;
    let old = app.token("alice").await;
    let write = async || app.call(Method::POST, "/v1/schedules/preview", Some(&old), Some(preview())).await.status;
    assert_eq!(write().await, StatusCode::OK, "her standing is read, and cached");
    let pool = app.seeded.user_pool_id.clone();
    cognito(&app).admin_delete_user().user_pool_id(&pool).username("alice").send().await.expect("AdminDeleteUser");
    cognito(&app)
        .admin_create_user()
        .user_pool_id(&pool)
        .username("alice")
        .message_action(aws_sdk_cognitoidentityprovider::types::MessageActionType::Suppress)
        .send()
        .await
        .expect("AdminCreateUser");
    let since = Instant::now();
    let refused = until(since, StatusCode::UNAUTHORIZED, write).await;
    println!("the deleted alice's token was refused for writes {refused:?} after the username was recreated");
}
