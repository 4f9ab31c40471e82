//! `/v1/exchange-rates`: the admins' dated exchange rates, with their history
//! (docs/adr/0006-costs.md, "Exchange rates"). Admins and finance read every revision; admins
//! record `PUT /v1/exchange-rates/{from}/{to}/{date}` with `{"rate": "0.9231"}`. Served by
//! the workspaces-api function.

use atelier_domain::costs::{ExchangeRate, ExchangeRates};
use axum::{
    Json, Router,
    extract::{Path, State},
    routing::{get, put},
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{ApiError, Authenticated, extract::JsonBody, state::Area};

/// The exchange-rate routes.
pub fn router(state: Area<ExchangeRates>) -> Router {
    Router::new()
        .route("/v1/exchange-rates", get(list))
        .route("/v1/exchange-rates/{from}/{to}/{date}", put(record))
        .with_state(state)
}

/// One revision as the API shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RateView {
    from: String,
    to: String,
    effective_from: String,
    /// The decimal string as recorded (normalised: `0.9200` is `0.92`).
    rate: String,
    revision: u32,
    /// True for the latest revision of its day (the one a conversion uses).
    current: bool,
    actor: String,
    at: Timestamp,
}

impl RateView {
    fn new(r: &ExchangeRate, current: bool) -> Self {
        Self {
            from: r.from.clone(),
            to: r.to.clone(),
            effective_from: r.effective_from.to_string(),
            rate: r.rate.normalize().to_string(),
            revision: r.revision,
            current,
            actor: r.actor.clone(),
            at: r.at,
        }
    }
}

/// `GET /v1/exchange-rates`: every revision, by pair, day and revision.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListBody {
    rates: Vec<RateView>,
}

async fn list(
    State(s): State<Area<ExchangeRates>>,
    Authenticated(caller): Authenticated,
) -> Result<Json<ListBody>, ApiError> {
    let book = s.cases.list(&caller).await?;
    let rates = book
        .all()
        .iter()
        .map(|r| {
            let latest = book.latest_of_day(&r.from, &r.to, r.effective_from).map(|l| l.revision);
            RateView::new(r, latest == Some(r.revision))
        })
        .collect();
    Ok(Json(ListBody { rates }))
}

/// `PUT /v1/exchange-rates/{from}/{to}/{date}`: `{"rate": "0.9231"}` (a decimal string).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordBody {
    rate: String,
}

async fn record(
    State(s): State<Area<ExchangeRates>>,
    Authenticated(caller): Authenticated,
    Path((from, to, date)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<RecordBody>,
) -> Result<Json<RateView>, ApiError> {
    let rate = s.cases.record(&caller, &from, &to, &date, &body.rate, Timestamp::now()).await?;
    Ok(Json(RateView::new(&rate, true)))
}
