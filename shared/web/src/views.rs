//! The shapes the API answers with that more than one area shows: a workspace, a page of
//! a list and its query, an amount of money.

use atelier_domain::{
    Command, State, Workspace,
    kernel::{MAX_PAGE_SIZE, Page, PageRequest},
    schedule::{Desired, Override, Schedule, Transition, next_transition},
    workspaces::allowed_commands,
};
use jiff::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ApiError;

/// An amount as the API shows it: a decimal string with exactly two places.
pub fn amount(value: Decimal) -> String {
    let mut value = value;
    value.rescale(2);
    value.to_string()
}

/// A workspace as the API shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceView {
    id: String,
    name: String,
    owner: String,
    product_id: String,
    instance_type: String,
    state: State,
    instance_id: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
    error: Option<String>,
    hibernation: bool,
    /// The commands the current state allows (what the portal offers).
    allowed_actions: Vec<Command>,
    /// The schedule, in its wire shape.
    schedule: Schedule,
    /// The "keep running until" override (`{"until": RFC 3339}`), or null.
    #[serde(rename = "override")]
    override_until: Option<Override>,
    /// The next change the scheduler will make, or null when there is none.
    next_transition: Option<TransitionView>,
    /// The ids of the datasets attached (mounted read-only under `/data`).
    datasets: Vec<String>,
}

/// A change of the desired state, as the API shows it: `{"at": RFC 3339, "to": "RUNNING"}`.
#[derive(Serialize)]
pub struct TransitionView {
    at: Timestamp,
    to: State,
}

impl From<Transition> for TransitionView {
    fn from(t: Transition) -> Self {
        let to = match t.to {
            Desired::Running => State::Running,
            Desired::Stopped => State::Stopped,
        };
        Self { at: t.at, to }
    }
}

impl From<Workspace> for WorkspaceView {
    /// The view as of the wall clock.
    fn from(w: Workspace) -> Self {
        Self::at(w, Timestamp::now())
    }
}

impl WorkspaceView {
    /// The view as of `now` (which decides the next transition).
    pub fn at(w: Workspace, now: Timestamp) -> Self {
        Self {
            // A workspace that is gone (or never came up) has nothing scheduled.
            next_transition: (!w.state.is_ended())
                .then(|| next_transition(&w.schedule, now).map(TransitionView::from))
                .flatten(),
            override_until: w.schedule.override_until(),
            allowed_actions: allowed_commands(w.state)
                .into_iter()
                .filter(|c| *c != Command::Hibernate || w.hibernation)
                .collect(),
            id: w.id.to_string(),
            name: w.name.as_str().to_owned(),
            owner: w.owner.username,
            product_id: w.product_id.to_string(),
            instance_type: w.instance_type,
            state: w.state,
            instance_id: w.provisioned.instance_id,
            created_at: w.created_at,
            updated_at: w.updated_at,
            error: w.error,
            hibernation: w.hibernation,
            schedule: w.schedule,
            datasets: w.datasets.iter().map(ToString::to_string).collect(),
        }
    }
}

/// A page of a list, as every list route answers it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PageView<T> {
    /// The page's items, as the route shows them.
    pub items: Vec<T>,
    /// `nextToken`: pass it back for the next page; `null` on the last one.
    pub next_token: Option<String>,
}

impl<T> PageView<T> {
    /// Maps a domain page to its view.
    pub fn from_page<U>(page: Page<U>, f: impl FnMut(U) -> T) -> Self {
        Self { items: page.items.into_iter().map(f).collect(), next_token: page.next_token }
    }
}

/// Query of list routes: `?limit=&nextToken=`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PageQuery {
    /// `limit`: 1 to 100 items, 50 when absent.
    pub limit: Option<u32>,
    /// `nextToken`: the previous page's, as it was answered.
    pub next_token: Option<String>,
}

impl PageQuery {
    /// The page asked for (default 50, at most 100 items).
    pub fn page(self) -> Result<PageRequest, ApiError> {
        let limit = self.limit.unwrap_or(50);
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            return Err(ApiError::BadRequest {
                field: Some("limit".into()),
                message: format!("limit: must be between 1 and {}", MAX_PAGE_SIZE),
            });
        }
        Ok(PageRequest { limit, token: self.next_token })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn amounts_have_two_places() {
        for (input, shown) in [("0.35", "0.35"), ("0", "0.00"), ("12", "12.00"), ("1.5", "1.50"), ("300", "300.00")] {
            assert_eq!(amount(Decimal::from_str(input).expect("decimal")), shown);
        }
    }
}
