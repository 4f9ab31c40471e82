//! The start check of `stop-at-100` (docs/adr/0006-costs.md, "Budgets that hold"): a
//! person's start or create, and the scheduler's start, are refused while the owner's
//! month estimate is at or past their budget under that policy. Without the check a user
//! who presses Start after each budget stop keeps overrunning (about 54 % over ten working
//! days with an hourly watch).
//!
//! Reads, in order, stopping as soon as the answer is known: the owner's rule (one
//! `GetItem`, two without an own budget); under `stop-at-100` with an amount, the recorded
//! 100 % crossing of that rule (one `GetItem`); without one, the owner's month so far (their
//! workspaces, one `Query` a page, and the histories of those alive in the month). Nothing
//! else, and never another user's data: the read is bounded by the owner's workspaces.

use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use rust_decimal::Decimal;

use super::budget::{Policy, Rule};
use super::ledger::{Ledger, LineSink, Scope};
use super::month::Month;
use super::ports::{BudgetStore, MonthIndex};
use super::report::WorkspaceCost;
use super::use_cases::{DEFAULT_CURRENCY, MONTH_BOUNDARY};
use crate::catalog::Catalog;
use crate::kernel::DomainError;
use crate::schedule::ScheduleDefaults;
use crate::workspaces::{StartGate, WorkspaceStore};

/// The budget's start check, on the ports it reads.
#[derive(Clone)]
pub struct BudgetGate {
    /// The owner's workspaces and their histories.
    pub store: Arc<dyn WorkspaceStore>,
    /// The products' prices.
    pub catalog: Arc<dyn Catalog>,
    /// The month index (only for its closed-month shortcut; an owner's read never uses it).
    pub index: Arc<dyn MonthIndex>,
    /// The rules and their recorded crossings.
    pub budgets: Arc<dyn BudgetStore>,
    /// The organisation's zone (its default schedule's), for saying until when; read only
    /// when a start is refused.
    pub defaults: Arc<dyn ScheduleDefaults>,
}

/// A month total, whatever the lines.
#[derive(Default)]
pub(crate) struct Total {
    pub(crate) spent: Decimal,
    pub(crate) currency: Option<String>,
}

#[async_trait]
impl LineSink for Total {
    async fn line(&mut self, line: WorkspaceCost) -> Result<(), DomainError> {
        self.spent += line.total;
        self.currency.get_or_insert(line.currency);
        Ok(())
    }
}

/// The month estimate of `owner` in `month` up to `now` (their own few workspaces).
pub(crate) async fn owner_total(
    ledger: &Ledger<'_>,
    owner: &str,
    month: Month,
    now: Timestamp,
) -> Result<Total, DomainError> {
    let mut total = Total::default();
    ledger.each_line(&Scope::Owner(owner.to_owned()), month, now, &mut total).await?;
    Ok(total)
}

impl BudgetGate {
    /// Why `owner` may not start compute at `now`, if they may not (see [`StartGate`]).
    pub async fn check(&self, owner: &str, now: Timestamp) -> Result<Option<String>, DomainError> {
        let rule = Rule::load(self.budgets.as_ref(), owner).await?;
        let Some(amount) = rule.budget.amount else { return Ok(None) };
        if rule.budget.policy != Policy::StopAt100 {
            return Ok(None);
        }
        let month = Month::containing(now, &MONTH_BOUNDARY);
        // The watch's record is enough when it exists: a month's estimate only grows.
        let recorded =
            rule.budget.thresholds.contains(&100) && self.budgets.crossed(month, owner, &rule.revision, 100).await?;
        let (spent, currency) = if recorded {
            (None, DEFAULT_CURRENCY.to_owned())
        } else {
            let ledger = Ledger::new(self.store.as_ref(), self.catalog.as_ref(), self.index.as_ref(), None);
            let total = owner_total(&ledger, owner, month, now).await?;
            if !rule.budget.exhausted(total.spent) {
                return Ok(None);
            }
            (Some(total.spent), total.currency.unwrap_or_else(|| DEFAULT_CURRENCY.to_owned()))
        };
        let zone = match self.defaults.get().await {
            Ok(schedule) => schedule.timezone().clone(),
            Err(err) => {
                tracing::warn!(error = ?err, "no default schedule for the organisation's zone; saying until in UTC");
                TimeZone::UTC
            }
        };
        Ok(Some(refusal_message(amount, spent, &currency, month, &zone)))
    }
}

/// "The monthly budget … is used up …; starts are refused until …": what the owner (and
/// the workspace's history, for the scheduler's starts) is told.
pub fn refusal_message(
    amount: Decimal,
    spent: Option<Decimal>,
    currency: &str,
    month: Month,
    zone: &TimeZone,
) -> String {
    let spent = match spent {
        Some(spent) => format!("{spent:.2} {currency} estimated"),
        None => "100 % reached".to_owned(),
    };
    let until = match month.end(&MONTH_BOUNDARY) {
        Some(end) => {
            let local = end.to_zoned(zone.clone());
            let name = zone.iana_name().unwrap_or("UTC");
            format!("until {} {name} ({end}), when the next month begins,", local.strftime("%Y-%m-%d %H:%M"))
        }
        None => "until the next month begins".to_owned(),
    };
    format!(
        "the monthly budget of {amount:.2} {currency} for {month} is used up ({spent}) and its policy is \
         stop-at-100: starts are refused {until} or until an admin raises the budget"
    )
}

#[async_trait]
impl StartGate for BudgetGate {
    async fn refusal(&self, owner: &str, now: Timestamp) -> Result<Option<String>, DomainError> {
        self.check(owner, now).await
    }
}
