//! The budget watch: on each scheduler tick (and the dev server's loop), compares every
//! user's month estimate with their budget, records each threshold crossed once per
//! (user, month, threshold), and under the `stop-at-100` policy stops the running
//! workspaces of users who reached 100 %, through the normal conditional transition with
//! actor `budget`. It also seals the month index once a month and closes the month before
//! ([`super::ledger`]).
//!
//! Like the scheduler, the instant comes from the caller, so a run can be replayed; a
//! second run at the same instant records nothing new (the crossings' conditional puts)
//! and finds nothing running to stop.

use std::collections::BTreeMap;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use rust_decimal::Decimal;
use serde::Serialize;

use super::budget::{BudgetBook, Crossing, Policy};
use super::ledger::{Ledger, LineSink, Scope, close_month, index_month};
use super::month::Month;
use super::ports::{BudgetStore, CostCentreStore, MonthIndex};
use super::report::WorkspaceCost;
use super::use_cases::MONTH_BOUNDARY;
use crate::catalog::Catalog;
use crate::kernel::{DomainError, all_pages};
use crate::workspaces::{
    Actor, Command, EventAction, PowerSwitch, State, Workspace, WorkspaceFilter, WorkspaceStore, transition,
};

/// The actor of everything the budget watch records.
pub const BUDGET_ACTOR: &str = "budget";

/// The ports the budget watch runs on.
pub struct BudgetWatch<'a> {
    /// The histories the totals come from, and the stops' conditional transitions.
    pub store: &'a dyn WorkspaceStore,
    /// The products' prices.
    pub catalog: &'a dyn Catalog,
    /// The month index the watch seals and closes.
    pub index: &'a dyn MonthIndex,
    /// Budgets in force; crossings are recorded here.
    pub budgets: &'a dyn BudgetStore,
    /// Stops the workspaces claimed under `stop-at-100`, one batched call per user.
    pub power: &'a dyn PowerSwitch,
    /// The cost centres a closed month's lines are stored with.
    pub cost_centres: &'a dyn CostCentreStore,
}

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WatchReport {
    /// The month of the run's instant (`YYYY-MM`), the one totalled.
    pub month: String,
    /// Workspaces carried into the month index when this run sealed it.
    pub indexed: Option<usize>,
    /// Lines stored when this run closed the previous month ([`close_month`]).
    pub closed: Option<usize>,
    /// Crossings newly recorded, as `user@threshold`.
    pub crossed: Vec<String>,
    /// Workspaces stopped under `stop-at-100`.
    pub stopped: Vec<String>,
    /// Workspaces that could not be stopped, with why.
    pub failed: Vec<(String, String)>,
}

/// One running total per user.
#[derive(Default)]
struct Totals(BTreeMap<String, (Decimal, String)>);

#[async_trait]
impl LineSink for Totals {
    async fn line(&mut self, line: WorkspaceCost) -> Result<(), DomainError> {
        let entry = self.0.entry(line.info.owner.clone()).or_insert((Decimal::ZERO, line.currency.clone()));
        entry.0 += line.total;
        Ok(())
    }
}

/// True when a tick at `at` is the first of its `every`-long slot (slots counted from the
/// Unix epoch, so whole hours start on the hour), ticks coming `tick` apart. Totalling a
/// month reads every workspace's history (about 11,000 DynamoDB queries at 1,000 users),
/// so the scheduler function does it once per slot rather than on every tick; the month
/// index is still sealed and the previous month closed on every tick ([`BudgetWatch::maintain`]).
pub fn budgets_due(at: Timestamp, every: SignedDuration, tick: SignedDuration) -> bool {
    let (every, tick) = (every.as_secs().max(1), tick.as_secs().max(1));
    every <= tick || at.as_second().rem_euclid(every) < tick
}

impl BudgetWatch<'_> {
    /// The month index's upkeep for instant `at`: seals the month `at` falls in when it is
    /// not yet, and closes the month before once it is over ([`close_month`]). Cheap when
    /// there is nothing to do (two `GetItem`).
    pub async fn maintain(&self, at: Timestamp) -> Result<WatchReport, DomainError> {
        let month = Month::containing(at, &MONTH_BOUNDARY);
        let ledger =
            Ledger { store: self.store, catalog: self.catalog, index: self.index, cost_centres: self.cost_centres };
        let mut report = WatchReport { month: month.to_string(), ..WatchReport::default() };
        if !self.index.sealed(month).await? {
            report.indexed = Some(index_month(&ledger, month, at).await?);
        }
        if let Some(previous) = month.previous() {
            report.closed = close_month(&ledger, previous, at).await?;
        }
        Ok(report)
    }

    /// One whole run for instant `at`: [`Self::maintain`], then every user's month total
    /// against their budget (crossings recorded, `stop-at-100` enforced).
    pub async fn run(&self, at: Timestamp) -> Result<WatchReport, DomainError> {
        let month = Month::containing(at, &MONTH_BOUNDARY);
        let ledger =
            Ledger { store: self.store, catalog: self.catalog, index: self.index, cost_centres: self.cost_centres };
        let mut report = self.maintain(at).await?;
        let book = BudgetBook::load(self.budgets).await?;
        if book.default.amount.is_none() && book.own.is_empty() {
            return Ok(report);
        }
        let mut totals = Totals::default();
        ledger.each_line(&Scope::All, month, at, &mut totals).await?;
        for (user, (spent, currency)) in &totals.0 {
            let budget = book.of(user);
            let Some(amount) = budget.amount else { continue };
            for threshold in budget.crossed(*spent) {
                let crossing = Crossing {
                    user: user.clone(),
                    month: month.to_string(),
                    threshold,
                    at,
                    actor: BUDGET_ACTOR.to_owned(),
                    spent: *spent,
                    budget: amount,
                    currency: currency.clone(),
                };
                if self.budgets.record_crossing(&crossing).await? {
                    tracing::info!(user, threshold, %spent, %amount, "budget threshold crossed");
                    report.crossed.push(format!("{user}@{threshold}"));
                }
            }
            if budget.policy == Policy::StopAt100 && budget.exhausted(*spent) {
                let reason = format!(
                    "monthly budget of {amount} {currency} reached ({} {currency} spent in {month})",
                    spent.round_dp(2)
                );
                self.stop_running(user, &reason, at, &mut report).await?;
            }
        }
        Ok(report)
    }

    /// Stops `user`'s RUNNING workspaces: the conditional transition first (actor
    /// `budget`), then one batched EC2 call for those it claimed.
    async fn stop_running(
        &self,
        user: &str,
        reason: &str,
        at: Timestamp,
        report: &mut WatchReport,
    ) -> Result<(), DomainError> {
        let filter = &WorkspaceFilter::Owner(user.to_owned());
        let running: Vec<Workspace> = all_pages(|page| async move { self.store.list(filter, &page).await })
            .await?
            .into_iter()
            .filter(|w| w.state == State::Running)
            .collect();
        let mut claimed = Vec::new();
        for workspace in running {
            let id = workspace.id.to_string();
            match transition(
                self.store,
                workspace,
                Command::Stop.into(),
                Actor::budget(),
                EventAction::Stop,
                Some(reason.to_owned()),
                at,
            )
            .await
            {
                Ok(workspace) => claimed.push(workspace),
                // Someone acted on it meanwhile: theirs is the last word until the next run.
                Err(DomainError::Concurrent | DomainError::IllegalTransition(_)) => {}
                Err(err) => report.failed.push((id, err.to_string())),
            }
        }
        let instances: Vec<String> = claimed.iter().filter_map(|w| w.provisioned.instance_id.clone()).collect();
        if !instances.is_empty()
            && let Err(err) = self.power.stop(&instances, false).await
        {
            // The workspaces stay STOPPING; state-sync reconciles them with what EC2 says.
            tracing::warn!(user, error = ?err, "budget stop failed");
            for w in &claimed {
                report.failed.push((w.id.to_string(), format!("{err}: {}", err.source)));
            }
            return Ok(());
        }
        report.stopped.extend(claimed.iter().map(|w| w.id.to_string()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    use crate::costs::budget::Budget;
    use crate::kernel::PageRequest;
    use crate::testing::{FakeEc2, MemoryStore, ProductBuilder, WorkspaceBuilder, write_history};
    use crate::{Product, WorkspaceId};

    fn t(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn product() -> Product {
        ProductBuilder::new("gpu")
            .name("GPU")
            .instance_type("g5.xlarge", 4, 16)
            .hourly("10.00")
            .no_storage_price()
            .hibernation(false)
            .build()
    }

    /// A workspace of `owner` RUNNING since `since` (then, when given, each further step).
    async fn running(store: &MemoryStore, owner: &str, since: &str, then: &[(&str, State)]) -> WorkspaceId {
        let workspace = WorkspaceBuilder::new()
            .owner(owner)
            .product(product().id.as_str(), "g5.xlarge")
            .hibernation(false)
            .instance(&format!("i-{owner}"))
            .build();
        let mut steps = vec![(t(since), State::Provisioning), (t(since), State::Running)];
        steps.extend(then.iter().map(|(at, state)| (t(at), *state)));
        write_history(store, workspace, &steps).await.expect("written").id
    }

    #[tokio::test]
    async fn crossings_are_recorded_once_and_stop_at_100_stops_only_its_users() {
        let store = MemoryStore::default();
        store.put_product(product());
        let alices = running(&store, "alice", "2026-03-01T00:00:00Z", &[]).await;
        let bobs = running(&store, "bob", "2026-03-01T00:00:00Z", &[]).await;
        let budget = |amount: &str, policy| Budget {
            amount: Some(Decimal::from_str(amount).expect("d")),
            thresholds: vec![50, 80, 100],
            policy,
        };
        store.put_user_budget("alice", &budget("100", Policy::StopAt100), None).await.expect("alice's");
        store.put_org_budget(&budget("100", Policy::Notify), None).await.expect("default");
        let ec2 = FakeEc2::default();
        let watch = BudgetWatch {
            store: &store,
            catalog: &store,
            index: &store,
            budgets: &store,
            power: &ec2,
            cost_centres: &store,
        };

        // 9 h at 10.00 = 90.00: 50 % and 80 % for both, nothing stopped.
        let report = watch.run(t("2026-03-01T09:00:00Z")).await.expect("run");
        assert_eq!(report.crossed, ["alice@50", "alice@80", "bob@50", "bob@80"]);
        assert!(report.stopped.is_empty());
        assert_eq!(report.indexed, Some(2), "the first run of the month seals its index");
        let again = watch.run(t("2026-03-01T09:05:00Z")).await.expect("run");
        assert!(again.crossed.is_empty(), "a crossing is recorded once");
        assert_eq!(again.indexed, None);

        // 10 h: 100 % for both; only alice's policy stops.
        let report = watch.run(t("2026-03-01T10:00:00Z")).await.expect("run");
        assert_eq!(report.crossed, ["alice@100", "bob@100"]);
        assert_eq!(report.stopped, [alices.to_string()]);
        assert_eq!(ec2.stopped(), ["i-alice"]);
        let alice = store.get(&alices).await.expect("get").expect("alice's");
        assert_eq!(alice.state, State::Stopping);
        assert_eq!(store.get(&bobs).await.expect("get").expect("bob's").state, State::Running);
        let history = store.events(&alices, &PageRequest::first(10)).await.expect("events");
        assert_eq!(history.items[0].actor, Actor(BUDGET_ACTOR.into()));
        assert_eq!(history.items[0].action, EventAction::Stop);
        assert!(history.items[0].reason.as_deref().unwrap_or_default().contains("monthly budget of 100 EUR reached"));

        let crossings = crate::costs::budget::crossings_of(&store, Month::new(2026, 3).expect("m"), Some("alice"))
            .await
            .expect("read");
        assert_eq!(crossings.iter().map(|c| c.threshold).collect::<Vec<_>>(), [50, 80, 100]);
        assert!(crossings.iter().all(|c| c.actor == BUDGET_ACTOR));
    }

    #[test]
    fn budgets_are_totalled_on_the_first_tick_of_each_slot() {
        let (hour, five) = (SignedDuration::from_hours(1), SignedDuration::from_mins(5));
        let due = |at: &str| budgets_due(t(at), hour, five);
        assert!(due("2026-03-02T09:00:00Z"));
        assert!(due("2026-03-02T09:04:59Z"), "a tick a little late still counts");
        assert!(!due("2026-03-02T09:05:00Z"));
        assert!(!due("2026-03-02T09:55:00Z"));
        assert!(due("2026-03-02T10:00:00Z"));
        // Twelve five-minute ticks an hour: exactly one is due.
        let start = t("2026-03-02T09:00:00Z");
        let ticks = (0..12).filter(|i| budgets_due(start + five * *i, hour, five)).count();
        assert_eq!(ticks, 1);
        assert!(budgets_due(t("2026-03-02T09:35:00Z"), five, five), "every tick when the slot is one tick");
    }

    /// Every line of the month, in order, with what the read counted.
    async fn march(store: &MemoryStore, now: &str) -> (Vec<WorkspaceCost>, crate::costs::ledger::ReadStats) {
        let ledger = Ledger { store, catalog: store, index: store, cost_centres: store };
        let mut lines = Vec::new();
        let stats =
            ledger.each_line(&Scope::All, Month::new(2026, 3).expect("m"), t(now), &mut lines).await.expect("read");
        (lines, stats)
    }

    #[tokio::test]
    async fn the_month_before_is_closed_an_hour_after_it_ends_and_then_read_from_its_lines() {
        let store = MemoryStore::default();
        store.put_product(product());
        // Created in February (so its March line starts with the month), in March, and
        // stopped in March; all keep running or stay stopped into April.
        let feb = running(&store, "alice", "2026-02-20T08:00:00Z", &[]).await;
        running(&store, "bob", "2026-03-10T12:00:00Z", &[]).await;
        running(&store, "carol", "2026-03-30T22:00:00Z", &[("2026-03-31T06:00:00Z", State::Stopped)]).await;
        let ec2 = FakeEc2::default();
        let watch = BudgetWatch {
            store: &store,
            catalog: &store,
            index: &store,
            budgets: &store,
            power: &ec2,
            cost_centres: &store,
        };
        let march_month = Month::new(2026, 3).expect("m");

        let (mut computed, stats) = march(&store, "2026-04-01T01:30:00Z").await;
        assert_eq!(computed.len(), 3);
        assert!(stats.events > 0, "an open month is read from the histories");

        // 00:30 on the 1st: March may still get its last events.
        let early = watch.run(t("2026-04-01T00:30:00Z")).await.expect("run");
        assert_eq!(early.closed, None);
        assert!(!store.closed(march_month).await.expect("closed"));
        let report = watch.run(t("2026-04-01T01:30:00Z")).await.expect("run");
        assert_eq!(report.closed, Some(3), "one stored line per workspace that cost something");
        assert!(store.closed(march_month).await.expect("closed"));
        assert_eq!(watch.run(t("2026-04-01T02:30:00Z")).await.expect("run").closed, None, "closed once");

        // Read back: the same lines, oldest workspace first (an unsealed read lists the
        // indexed ones first), without reading one event.
        let (stored, stats) = march(&store, "2026-05-15T00:00:00Z").await;
        computed
            .sort_by(|a, b| (a.info.created_at, &a.info.workspace_id).cmp(&(b.info.created_at, &b.info.workspace_id)));
        assert_eq!(stored, computed);
        assert_eq!(stats.events, 0);
        assert_eq!(stored[0].info.workspace_id, feb, "oldest workspace first");
        // 31 days of March: alice's whole month at 10.00/h.
        assert_eq!(stored[0].running_seconds, Decimal::from(31 * 24 * 3600));
        assert_eq!(stored[0].compute, Decimal::from(31 * 24 * 10));
    }
}
