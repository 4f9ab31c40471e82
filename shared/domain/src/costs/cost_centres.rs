//! Cost centres as Atelier records them: dated, kept by admins, never taken from a claim the
//! user could change (docs/adr/0006-costs.md, "Cost centres").
//!
//! A person's cost centre changes from the start of a month: a month's usage is charged to
//! one cost centre per person, the one in force that month. A change may be made for the
//! current month or a later one, never for a month that is over, so a month's attribution
//! is settled once it ends; a closed month's stored lines keep the cost centre they were
//! closed with. A person with no recorded change is charged to the cost centre recorded on
//! the workspace when it was created.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use serde::Serialize;

use super::budget::known_user;
use super::month::Month;
use super::ports::{CostCentreStore, KnownUsers};
use super::use_cases::MONTH_BOUNDARY;
use crate::kernel::{Caller, DomainError, Role};

/// The longest cost centre accepted.
pub const MAX_COST_CENTRE: usize = 64;

/// One recorded change: `user` is charged to `cost_centre` from `month` on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CostCentreChange {
    /// The person (username).
    pub user: String,
    /// The first month it applies to.
    #[serde(serialize_with = "as_text")]
    pub month: Month,
    /// The cost centre.
    pub cost_centre: String,
    /// Who recorded it.
    pub actor: String,
    /// When.
    pub at: Timestamp,
}

fn as_text<S: serde::Serializer>(month: &Month, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(month)
}

/// Everybody's changes, to answer "which cost centre that month" without a read per person.
#[derive(Debug, Clone, Default)]
pub struct CostCentreBook(BTreeMap<String, Vec<CostCentreChange>>);

impl CostCentreBook {
    /// The book of `changes`, in any order.
    pub fn new(changes: Vec<CostCentreChange>) -> Self {
        let mut by_user: BTreeMap<String, Vec<CostCentreChange>> = BTreeMap::new();
        for change in changes {
            by_user.entry(change.user.clone()).or_default().push(change);
        }
        for list in by_user.values_mut() {
            list.sort_by_key(|c| c.month);
        }
        Self(by_user)
    }

    /// The cost centre in force for `user` in `month`, if any change applies by then.
    pub fn in_force(&self, user: &str, month: Month) -> Option<&str> {
        self.0.get(user)?.iter().rev().find(|c| c.month <= month).map(|c| c.cost_centre.as_str())
    }
}

/// The cost-centre use cases (admins record; admins and finance read).
#[derive(Clone)]
pub struct CostCentres {
    /// The recorded changes.
    pub store: Arc<dyn CostCentreStore>,
    /// Only real users get a cost centre.
    pub users: Arc<dyn KnownUsers>,
}

impl CostCentres {
    /// `user`'s recorded changes, oldest month first (admins and finance).
    pub async fn history(&self, caller: &Caller, user: &str) -> Result<Vec<CostCentreChange>, DomainError> {
        if !caller.has(Role::Admin) && !caller.has(Role::Finance) {
            return Err(DomainError::Forbidden("only admins and finance may see cost centres".into()));
        }
        known_user(self.users.as_ref(), user).await?;
        let mut changes = self.store.cost_centre_changes(Some(user)).await?;
        changes.sort_by_key(|c| c.month);
        Ok(changes)
    }

    /// Records that `user` is charged to `cost_centre` from `month` (`YYYY-MM`; the current
    /// month when absent) on. Admins only; 422 on `month` for a month that is over (its
    /// attribution is settled), on `costCentre` for an empty or over-long one; NotFound `user`
    /// for someone the directory does not know. Recording the same month again replaces it.
    pub async fn assign(
        &self,
        caller: &Caller,
        user: &str,
        cost_centre: &str,
        month: Option<&str>,
        now: Timestamp,
    ) -> Result<Vec<CostCentreChange>, DomainError> {
        if !caller.has(Role::Admin) {
            return Err(DomainError::Forbidden("only admins may change cost centres".into()));
        }
        let cost_centre = cost_centre.trim();
        if cost_centre.is_empty()
            || cost_centre.chars().count() > MAX_COST_CENTRE
            || cost_centre.chars().any(char::is_control)
        {
            return Err(DomainError::unprocessable(
                "costCentre",
                format!("must be 1 to {MAX_COST_CENTRE} printable characters"),
            ));
        }
        let current = Month::containing(now, &MONTH_BOUNDARY);
        let month = match month {
            Some(value) => Month::parse_field(value, "month")?,
            None => current,
        };
        if month < current {
            return Err(DomainError::unprocessable(
                "month",
                format!("{month} is over: its costs stay with the cost centre they were charged to"),
            ));
        }
        known_user(self.users.as_ref(), user).await?;
        let change = CostCentreChange {
            user: user.to_owned(),
            month,
            cost_centre: cost_centre.to_owned(),
            actor: caller.username.clone(),
            at: now,
        };
        self.store.put_cost_centre_change(&change).await?;
        let mut changes = self.store.cost_centre_changes(Some(user)).await?;
        changes.sort_by_key(|c| c.month);
        Ok(changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(user: &str, month: &str, cc: &str) -> CostCentreChange {
        CostCentreChange {
            user: user.into(),
            month: Month::parse_field(month, "month").unwrap(),
            cost_centre: cc.into(),
            actor: "ada".into(),
            at: Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn the_change_in_force_is_the_latest_one_begun() {
        let book = CostCentreBook::new(vec![change("alice", "2026-05", "CC-B"), change("alice", "2026-03", "CC-A")]);
        let m = |s| Month::parse_field(s, "month").unwrap();
        assert_eq!(book.in_force("alice", m("2026-02")), None);
        assert_eq!(book.in_force("alice", m("2026-03")), Some("CC-A"));
        assert_eq!(book.in_force("alice", m("2026-04")), Some("CC-A"));
        assert_eq!(book.in_force("alice", m("2026-05")), Some("CC-B"));
        assert_eq!(book.in_force("bob", m("2026-05")), None);
    }
}
