//! `/v1/me/notifications`: what Atelier told the caller of its own accord (today: budget
//! crossings, theirs and, for admins, everybody's), newest first, each with its `kind`
//! and its e-mail's delivery. Served by the workspaces-api function.

use atelier_domain::notifications::{DeliveryStatus, Notification, NotificationKind, Notifications};
use axum::{Json, Router, extract::State, routing::get};
use jiff::Timestamp;
use serde::Serialize;

use crate::{
    ApiError, Authenticated,
    extract::QueryParams,
    state::Area,
    views::{PageQuery, PageView, amount},
};

/// The notification routes.
pub fn router(state: Area<Notifications>) -> Router {
    Router::new().route("/v1/me/notifications", get(mine)).with_state(state)
}

/// One notification as the API shows it: `kind` and its own fields, then the delivery.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NotificationView {
    id: String,
    at: Timestamp,
    kind: &'static str,
    #[serde(flatten)]
    details: Details,
    delivery: DeliveryView,
}

/// The fields of each kind.
#[derive(Serialize)]
#[serde(untagged, rename_all = "camelCase")]
enum Details {
    BudgetCrossing {
        user: String,
        month: String,
        threshold: u16,
        amount: String,
        budget: String,
        currency: String,
        policy: String,
    },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeliveryView {
    channel: &'static str,
    status: DeliveryStatus,
    attempts: u32,
    sent_at: Option<Timestamp>,
    last_error: Option<String>,
}

impl From<Notification> for NotificationView {
    fn from(n: Notification) -> Self {
        let kind = n.kind.name();
        let details = match n.kind {
            NotificationKind::BudgetCrossing { user, month, threshold, amount: spent, budget, currency, policy } => {
                Details::BudgetCrossing {
                    user,
                    month,
                    threshold,
                    amount: amount(spent),
                    budget: amount(budget),
                    currency,
                    policy,
                }
            }
        };
        Self {
            id: n.id,
            at: n.at,
            kind,
            details,
            delivery: DeliveryView {
                channel: "email",
                status: n.delivery.status,
                attempts: n.delivery.attempts,
                sent_at: n.delivery.sent_at,
                last_error: n.delivery.last_error,
            },
        }
    }
}

async fn mine(
    State(s): State<Area<Notifications>>,
    Authenticated(caller): Authenticated,
    QueryParams(q): QueryParams<PageQuery>,
) -> Result<Json<PageView<NotificationView>>, ApiError> {
    let page = s.cases.mine(&caller, &q.page()?).await?;
    Ok(Json(PageView::from_page(page, NotificationView::from)))
}
