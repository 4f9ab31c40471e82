//! `GET /config.json`: what the portal needs to find the API and sign users in. Public.
//! In AWS the same document is written to the portal bucket at deploy time.

use axum::{Json, Router, routing::get};
use serde::Serialize;

/// The portal's runtime configuration.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PortalConfig {
    /// Base URL the portal puts before `/v1/...`, without a trailing slash
    /// (`http://127.0.0.1:8080` on the dev server).
    pub api_url: String,
    /// AWS region of the user pool; the portal derives the Cognito endpoint from it.
    pub region: String,
    /// The Cognito user pool users sign in to.
    pub user_pool_id: String,
    /// The portal's app client in that pool: public (no secret), the `client_id` tokens
    /// must carry.
    pub user_pool_client_id: String,
    /// Only where Cognito is not the public AWS endpoint (the local stack).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cognito_endpoint: Option<String>,
}

/// The `/config.json` route.
pub fn router(config: PortalConfig) -> Router {
    Router::new().route("/config.json", get(move || async move { Json(config.clone()) }))
}
