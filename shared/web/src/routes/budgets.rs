//! `/v1/budgets/{user}` and `/v1/config/budget`: monthly budgets (docs/adr/0006-costs.md,
//! "Budgets"). Served by the workspaces-api function, beside `/v1/costs`.

use atelier_domain::DomainError;
use atelier_domain::costs::{
    DEFAULT_CURRENCY,
    budget::{Budget, Budgets, DEFAULT_THRESHOLDS, UserBudgetView},
};
use axum::{
    Json, Router,
    extract::{Path, State},
    routing::get,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{
    ApiError, Authenticated,
    extract::{JsonBody, parse_json},
    state::Area,
    views::amount,
};

/// The budget routes.
pub fn router(state: Area<Budgets>) -> Router {
    Router::new()
        .route("/v1/budgets/{user}", get(get_user).put(put_user))
        .route("/v1/config/budget", get(get_default).put(put_default))
        .with_state(state)
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
    /// Required, possibly `null` (which removes the budget): `None` only when absent.
    #[serde(default, deserialize_with = "present")]
    amount: Option<serde_json::Value>,
    /// Absent: the default thresholds. `null` is refused.
    #[serde(default, deserialize_with = "present")]
    thresholds: Option<serde_json::Value>,
    /// Absent: `notify`. `null` is refused.
    #[serde(default, deserialize_with = "present")]
    policy: Option<serde_json::Value>,
}

/// A field that is present, `null` included (`Option<Value>` alone reads `null` as absent).
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

fn unprocessable(field: &str, message: &str) -> ApiError {
    ApiError::Domain(DomainError::unprocessable(field, message))
}

impl BudgetRequest {
    /// The body as a request: a JSON object only (serde would also read a struct from an
    /// array), with unknown fields refused (400) naming the field.
    fn from_object(body: Map<String, Value>) -> Result<Self, ApiError> {
        let bytes = serde_json::to_vec(&Value::Object(body))
            .map_err(|e| ApiError::BadRequest { field: None, message: e.to_string() })?;
        parse_json(&bytes)
    }

    fn parse(&self) -> Result<Budget, ApiError> {
        let amount = match &self.amount {
            None => {
                return Err(unprocessable(
                    "amount",
                    "is required: a decimal string such as \"300.00\", or null to remove the budget",
                ));
            }
            Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(_) => return Err(unprocessable("amount", "expected a decimal string such as \"300.00\", or null")),
        };
        let thresholds = match &self.thresholds {
            None => None,
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
            None => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(_) => return Err(unprocessable("policy", "expected \"notify\" or \"stop-at-100\"")),
        };
        Ok(Budget::parse(amount, thresholds.as_deref(), policy)?)
    }
}

async fn get_user(
    State(s): State<Area<Budgets>>,
    Authenticated(caller): Authenticated,
    Path(user): Path<String>,
) -> Result<Json<UserBudgetBody>, ApiError> {
    Ok(Json(s.cases.user(&caller, &user).await?.into()))
}

async fn put_user(
    State(s): State<Area<Budgets>>,
    Authenticated(caller): Authenticated,
    Path(user): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<UserBudgetBody>, ApiError> {
    Budgets::require_admin(&caller)?;
    let budget = BudgetRequest::from_object(body)?.parse()?;
    Ok(Json(s.cases.set_user(&caller, &user, budget).await?.into()))
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
            currency: DEFAULT_CURRENCY.to_owned(),
            thresholds: if b.thresholds.is_empty() { DEFAULT_THRESHOLDS.to_vec() } else { b.thresholds },
            policy: b.policy.as_str(),
        }
    }
}

async fn get_default(
    State(s): State<Area<Budgets>>,
    Authenticated(caller): Authenticated,
) -> Result<Json<DefaultBudgetBody>, ApiError> {
    Ok(Json(s.cases.org_default(&caller).await?.into()))
}

async fn put_default(
    State(s): State<Area<Budgets>>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<DefaultBudgetBody>, ApiError> {
    Budgets::require_admin(&caller)?;
    let budget = BudgetRequest::from_object(body)?.parse()?;
    Ok(Json(s.cases.set_org_default(&caller, budget).await?.into()))
}
