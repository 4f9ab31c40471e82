//! The scheduled jobs, as every runner calls them: the Lambda functions (`functions/*`),
//! the dev server's timers and its replay route, and the tests all run these entries, so
//! that each job does its steps in one order everywhere.
//!
//! | job | Lambda function | steps, in order |
//! |---|---|---|
//! | [`StateSyncJob`] | `state-sync` (every minute, and on EC2 state changes) | state-sync pass; for an EC2 state-change event, the one instance's workspace |
//! | [`data_access`] | `data-access` (every minute) | revocation, workspace credentials, mounts ([`DataAccessPass`]) |
//! | [`SchedulerJob`] | `scheduler` (every 5 minutes) | scheduler tick, then the budget watch (everybody's totals once per `budget_every`, those within reach on the other ticks, upkeep and e-mails every tick) |
//! | [`cost_actuals`] | `cost-actuals` (daily) | Cost Explorer's closed days of the month, stored |
//!
//! Each takes its instant from the caller (a scheduled event's `time`, or the wall clock),
//! never from inside, so any run can be replayed.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::costs::actuals::{self, FetchReport};
use crate::costs::watch::budgets_due;
use crate::costs::{ActualStore, BudgetWatch, CostSource, WatchReport};
use crate::datasets::{DataAccessPass, DataAccessReport, Datasets};
use crate::kernel::DomainError;
use crate::schedule::{Scheduler, SchedulerReport};
use crate::workspaces::{InstanceChange, StateSync, SyncReport};

/// The rate of the scheduler function's EventBridge rule (`infra/template.yaml`:
/// `rate(5 minutes)`).
pub const SCHEDULER_TICK: SignedDuration = SignedDuration::from_mins(5);

/// What the state-sync function runs on each tick.
pub struct StateSyncJob<'a> {
    /// The workspaces' pass.
    pub sync: StateSync<'a>,
}

/// What one state-sync tick did (the function's answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateSyncOutcome {
    /// Workspaces looked at.
    pub examined: usize,
    /// Workspaces moved to another state.
    pub settled: usize,
    /// Of those, the ones moved to FAILED.
    pub failed_workspaces: usize,
    /// FAILED workspaces seen still holding an instance or a provisioned product (they cost
    /// money until terminated).
    pub failed_with_resources: usize,
    /// Workspaces whose check failed, with why (retried on the next tick).
    pub failed: Vec<(String, String)>,
}

impl StateSyncOutcome {
    /// The `FailedWorkspaces` metric of the tick: the workspaces it made FAILED and the
    /// FAILED ones still costing money, so that the alarm stays raised while any does.
    pub fn failed_workspaces_metric(&self) -> usize {
        self.failed_workspaces + self.failed_with_resources
    }
}

impl From<SyncReport> for StateSyncOutcome {
    fn from(report: SyncReport) -> Self {
        let SyncReport { examined, settled, failed_workspaces, failed_with_resources, failed } = report;
        Self { examined, settled, failed_workspaces, failed_with_resources, failed }
    }
}

impl StateSyncJob<'_> {
    /// The state-sync pass at `now`.
    pub async fn run(&self, now: Timestamp) -> Result<StateSyncOutcome, DomainError> {
        Ok(self.sync.run(now).await?.into())
    }

    /// What the function runs on `event`: the one instance of an EC2 state-change
    /// notification, or (the scheduled tick, or any other event) the full pass.
    pub async fn on_event(&self, event: &serde_json::Value, now: Timestamp) -> Result<StateSyncOutcome, DomainError> {
        match InstanceChange::from_event(event)? {
            Some(change) => Ok(self.sync.on_instance_change(&change, now).await?.into()),
            None => self.run(now).await,
        }
    }
}

/// What the data-access function runs on each tick: the revocation, credentials and
/// mounts pass at `now`. Its own job, so that revocation never waits on state-sync (nor
/// fails with it).
pub async fn data_access(datasets: &Datasets, now: Timestamp) -> Result<DataAccessReport, DomainError> {
    DataAccessPass { datasets }.run(now).await
}

/// What the scheduler function runs on each tick.
pub struct SchedulerJob<'a> {
    /// The working-window tick, first.
    pub scheduler: Scheduler<'a>,
    /// The budget watch, second, so that its stops have the last word.
    pub watch: BudgetWatch<'a>,
    /// How often the budget watch totals the month against budgets
    /// (`ATELIER_BUDGET_EVERY_MINUTES`); at most one tick means every tick.
    pub budget_every: SignedDuration,
    /// How far apart ticks come ([`SCHEDULER_TICK`] in AWS).
    pub tick: SignedDuration,
}

/// What one scheduler tick did (the function's answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchedulerOutcome {
    /// What the working-window tick started, stopped and skipped.
    pub scheduler: SchedulerReport,
    /// What the budget watch did: everybody's totals on a due tick, those within reach otherwise.
    pub budget: WatchReport,
}

impl SchedulerJob<'_> {
    /// The scheduler at `at`, then the budget watch: after the scheduler, so that its stops
    /// have the last word (the scheduler's starts already ask the budget). The watch totals
    /// everybody on the first tick of each `budget_every` slot and, on the others, the
    /// users the last full pass found within reach.
    pub async fn run(&self, at: Timestamp) -> Result<SchedulerOutcome, DomainError> {
        let scheduler = self.scheduler.run(at).await?;
        let budget = if budgets_due(at, self.budget_every, self.tick) {
            self.watch.run(at).await?
        } else {
            self.watch.tick(at).await?
        };
        Ok(SchedulerOutcome { scheduler, budget })
    }
}

/// What the cost-actuals function runs each day: Cost Explorer's closed days of the month
/// of `at` (and of the month before, early in a month), stored for the reports.
pub async fn cost_actuals(
    source: &dyn CostSource,
    store: &dyn ActualStore,
    at: Timestamp,
) -> Result<FetchReport, DomainError> {
    actuals::fetch(source, store, at).await
}
