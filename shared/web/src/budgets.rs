//! `/v1/budgets/{user}` and `/v1/config/budget`: monthly budgets (docs/adr/0006-costs.md,
//! "Budgets"). Served by the workspaces-api function, beside `/v1/costs`.

use std::sync::Arc;

use atelier_domain::DomainError;
use atelier_domain::costs::budget::{Budget, Budgets, DEFAULT_THRESHOLDS, UserBudgetView};
use axum::{
    Json, Router,
    extract::{FromRef, Path, State},
    routing::get,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{ApiError, Authenticated, JwtVerifier, extract::JsonBody};

/// What the budget routes run on.
#[derive(Clone)]
pub struct BudgetsState {
    pub verifier: Arc<JwtVerifier>,
    pub budgets: Budgets,
}

impl FromRef<BudgetsState> for Arc<JwtVerifier> {
    fn from_ref(state: &BudgetsState) -> Self {
        state.verifier.clone()
    }
}

/// The budget routes.
pub fn router(state: BudgetsState) -> Router {
    Router::new()
        .route("/v1/budgets/{user}", get(get_user).put(put_user))
        .route("/v1/config/budget", get(get_default).put(put_default))
        .with_state(state)
}

/// An amount as the API shows it: two places.
fn amount(value: Decimal) -> String {
    let mut value = value;
    value.rescale(2);
    value.to_string()
}

/// `GET /v1/budgets/{user}`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserBudgetBody {
    user: String,
    amount: Option<String>,
    currency: String,
    thresholds: Vec<u16>,
    policy: &'static str,
    inherited: bool,
    effective: Option<String>,
}

impl From<UserBudgetView> for UserBudgetBody {
    fn from(v: UserBudgetView) -> Self {
        Self {
            user: v.user,
            amount: v.amount.map(amount),
            currency: v.currency,
            thresholds: v.thresholds,
            policy: v.policy.as_str(),
            inherited: v.inherited,
            effective: v.effective.map(amount),
        }
    }
}

/// The body of both PUTs. Only the JSON shape is checked here (400 on an unknown field or
/// a body that is not an object); every value is checked by the domain, 422 on the field
/// at fault, including values of the wrong JSON type.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BudgetRequest {
    /// Required, possibly `null`.
    amount: Option<serde_json::Value>,
    #[serde(default)]
    thresholds: Option<serde_json::Value>,
    #[serde(default)]
    policy: Option<serde_json::Value>,
}

fn unprocessable(field: &str, message: &str) -> ApiError {
    ApiError::Domain(DomainError::unprocessable(field, message))
}

impl BudgetRequest {
    fn parse(&self) -> Result<Budget, ApiError> {
        let amount = match &self.amount {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(_) => return Err(unprocessable("amount", "expected a decimal string such as \"300.00\", or null")),
        };
        let thresholds = match &self.thresholds {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|v| {
                        v.as_i64()
                            .ok_or_else(|| unprocessable("thresholds", "expected whole percentages such as [80, 100]"))
                    })
                    .collect::<Result<Vec<i64>, _>>()?,
            ),
            Some(_) => return Err(unprocessable("thresholds", "expected whole percentages such as [80, 100]")),
        };
        let policy = match &self.policy {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(_) => return Err(unprocessable("policy", "expected \"notify\" or \"stop-at-100\"")),
        };
        Ok(Budget::parse(amount, thresholds.as_deref(), policy)?)
    }
}

async fn get_user(
    State(s): State<BudgetsState>,
    Authenticated(caller): Authenticated,
    Path(user): Path<String>,
) -> Result<Json<UserBudgetBody>, ApiError> {
    Ok(Json(s.budgets.user(&caller, &user).await?.into()))
}

async fn put_user(
    State(s): State<BudgetsState>,
    Authenticated(caller): Authenticated,
    Path(user): Path<String>,
    JsonBody(body): JsonBody<BudgetRequest>,
) -> Result<Json<UserBudgetBody>, ApiError> {
    Budgets::require_admin(&caller)?;
    let budget = body.parse()?;
    Ok(Json(s.budgets.set_user(&caller, &user, budget).await?.into()))
}

/// `GET /v1/config/budget`: the organisation default.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DefaultBudgetBody {
    amount: Option<String>,
    currency: String,
    thresholds: Vec<u16>,
    policy: &'static str,
}

impl From<Budget> for DefaultBudgetBody {
    fn from(b: Budget) -> Self {
        Self {
            amount: b.amount.map(amount),
            currency: atelier_domain::costs::service::DEFAULT_CURRENCY.to_owned(),
            thresholds: if b.thresholds.is_empty() { DEFAULT_THRESHOLDS.to_vec() } else { b.thresholds },
            policy: b.policy.as_str(),
        }
    }
}

async fn get_default(
    State(s): State<BudgetsState>,
    Authenticated(caller): Authenticated,
) -> Result<Json<DefaultBudgetBody>, ApiError> {
    Ok(Json(s.budgets.org_default(&caller).await?.into()))
}

async fn put_default(
    State(s): State<BudgetsState>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody<BudgetRequest>,
) -> Result<Json<DefaultBudgetBody>, ApiError> {
    Budgets::require_admin(&caller)?;
    let budget = body.parse()?;
    Ok(Json(s.budgets.set_org_default(&caller, budget).await?.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_have_two_places() {
        assert_eq!(amount(Decimal::from(300)), "300.00");
    }
}
