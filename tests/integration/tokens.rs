//! Token verification: anything but a valid access token of this pool and app client is 401,
//! with nothing in the answer that says why.

use atelier_tests::spawn_app;
use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ExplicitAuthFlowsType};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use http::{Method, StatusCode};
use serde_json::json;

fn tamper_payload(token: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["cognito:groups"] = json!(["admins"]);
    format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(claims.to_string()), parts[2])
}

fn tamper_signature(token: &str) -> String {
    let (rest, signature) = token.rsplit_once('.').unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
    bytes[10] ^= 0x01;
    format!("{rest}.{}", URL_SAFE_NO_PAD.encode(bytes))
}

fn unsigned(token: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"dummy","typ":"JWT"}"#);
    format!("{header}.{}.", parts[1])
}

#[tokio::test]
async fn forged_and_foreign_tokens_are_refused() {
    let app = spawn_app().await;
    let good = app.token("alice").await;
    let other_pool = spawn_app().await;
    let foreign = other_pool.token("alice").await;

    // A second app client in the same pool: its tokens are not the portal's.
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&app.sdk);
    let client = cognito
        .create_user_pool_client()
        .user_pool_id(&app.seeded.user_pool_id)
        .client_name("other")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .send()
        .await
        .unwrap();
    let other_client = client.user_pool_client().unwrap().client_id().unwrap().to_owned();
    let other_client_token = cognito
        .initiate_auth()
        .client_id(&other_client)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "alice")
        .auth_parameters("PASSWORD", &app.seeded.password)
        .send()
        .await
        .unwrap()
        .authentication_result
        .unwrap()
        .access_token
        .unwrap();

    let cases = [
        ("tampered claims", tamper_payload(&good)),
        ("tampered signature", tamper_signature(&good)),
        ("truncated signature", good[..good.len() - 10].to_owned()),
        ("alg none", unsigned(&good)),
        ("id token", app.id_token("alice").await),
        ("another user pool", foreign),
        ("another app client", other_client_token),
        ("garbage", "not.a.jwt".to_owned()),
        ("oversized", "a".repeat(10_000)),
    ];
    for (name, token) in cases {
        let response = app.call(Method::GET, "/v1/workspaces", Some(&token), None).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{name}: {}", response.body);
        assert_eq!(response.body["detail"], json!("a valid access token is required"), "{name} leaks nothing");
        assert_eq!(response.headers["www-authenticate"], "Bearer");
    }
    let ok = app.call(Method::GET, "/v1/workspaces", Some(&good), None).await;
    assert_eq!(ok.status, StatusCode::OK);
}

#[tokio::test]
async fn requests_without_a_bearer_token_are_refused() {
    let app = spawn_app().await;
    let none = app.call(Method::GET, "/v1/me", None, None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    let basic = app.call_with(Method::GET, "/v1/me", None, None, &[("authorization", "Basic YWxpY2U6cHc=")]).await;
    assert_eq!(basic.status, StatusCode::UNAUTHORIZED);
    assert_eq!(basic.str("type"), "/problems/unauthorized");
}
