//! What the cost capability needs from the outside world: the month index and the closed
//! months' lines, budgets and their crossings, Cost Explorer's actuals (DynamoDB), Cost
//! Explorer itself, the directory's answer to "is this a user", and the exports bucket
//! (finished exports, downloaded with a presigned link). Adapters implement
//! them in `atelier-adapters`; `crate::testing` has one in-memory implementation of each.

use async_trait::async_trait;
use jiff::{Timestamp, civil::Date};

use super::actuals::{ActualGroup, Actuals, ComponentGroup};
use super::budget::{Budget, Crossing, Reach, Versioned};
use super::cost_centres::CostCentreChange;
use super::month::Month;
use super::rates::ExchangeRate;
use super::report::WorkspaceCost;
use crate::kernel::{Page, PageRequest, StoreError, UpstreamError};
use crate::notifications::Notification;
#[cfg(doc)]
use crate::workspaces::WorkspaceStore;
use crate::workspaces::{State, Workspace};

/// The month index ([`super::ledger`]): which workspaces may have cost something in a
/// month, and the stored lines of the months that are closed.
///
/// Its entries are written by the workspace store in the same write as each creation and
/// state change ([`WorkspaceStore::insert`], [`WorkspaceStore::update`] with an event); this
/// port adds what a month without a change needs ([`MonthIndex::add`], [`MonthIndex::seal`])
/// and a closed month's lines.
#[async_trait]
pub trait MonthIndex: Send + Sync {
    /// A page of the workspaces indexed under `month`, oldest first, each as it was at its
    /// last indexed change (name, owner, product and creation never change).
    async fn indexed(&self, month: Month, page: &PageRequest) -> Result<Page<Workspace>, StoreError>;
    /// Indexes `workspace` under `month` unless it is already there.
    async fn add(&self, month: Month, workspace: &Workspace) -> Result<(), StoreError>;
    /// True once [`super::ledger::index_month`] completed for `month`.
    async fn sealed(&self, month: Month) -> Result<bool, StoreError>;
    /// Marks `month` complete.
    async fn seal(&self, month: Month, at: Timestamp) -> Result<(), StoreError>;
    /// True once [`super::ledger::close_month`] stored every line of `month`.
    async fn closed(&self, month: Month) -> Result<bool, StoreError>;
    /// Stores lines of `month` (replacing a workspace's line stored before).
    async fn put_lines(&self, month: Month, lines: &[WorkspaceCost]) -> Result<(), StoreError>;
    /// Marks `month`'s stored lines complete.
    async fn close(&self, month: Month, at: Timestamp) -> Result<(), StoreError>;
    /// A page of a closed month's stored lines, oldest workspace first (the index order).
    async fn lines(&self, month: Month, page: &PageRequest) -> Result<Page<WorkspaceCost>, StoreError>;
    /// A page of the workspaces now in `state` whose last state change is at or after
    /// `since` (the `by-state` index, read from `since` on).
    async fn changed_since(
        &self,
        state: State,
        since: Timestamp,
        page: &PageRequest,
    ) -> Result<Page<Workspace>, StoreError>;
}

/// Where budgets and their crossings are kept.
#[async_trait]
pub trait BudgetStore: Send + Sync {
    /// The organisation default.
    async fn org_budget(&self) -> Result<Option<Versioned<Budget>>, StoreError>;
    /// Replaces the default if its stored version is `expected` (`None`: none stored);
    /// [`StoreError::Conflict`] otherwise.
    async fn put_org_budget(&self, budget: &Budget, expected: Option<u64>) -> Result<(), StoreError>;
    /// A user's own budget.
    async fn user_budget(&self, user: &str) -> Result<Option<Versioned<Budget>>, StoreError>;
    /// Replaces a user's own budget under the same condition as [`Self::put_org_budget`].
    async fn put_user_budget(&self, user: &str, budget: &Budget, expected: Option<u64>) -> Result<(), StoreError>;
    /// Removes a user's own budget if its stored version is `expected`.
    async fn delete_user_budget(&self, user: &str, expected: u64) -> Result<(), StoreError>;
    /// A page of every user's own budget, by username, with its version.
    async fn user_budgets(&self, page: &PageRequest) -> Result<Page<(String, Versioned<Budget>)>, StoreError>;
    /// Records a crossing unless one for its (user, month, budget revision, threshold)
    /// exists, and in the same write the `notifications` it causes (each recipient's, with
    /// its delivery pending): true when this call recorded them. All or nothing, so a
    /// crossing is never recorded without its notifications nor notified twice.
    async fn record_crossing(&self, crossing: &Crossing, notifications: &[Notification]) -> Result<bool, StoreError>;
    /// True when the crossing of (`user`, `month`, `revision`, `threshold`) is recorded
    /// (one `GetItem`: the start check's shortcut).
    async fn crossed(&self, month: Month, user: &str, revision: &str, threshold: u16) -> Result<bool, StoreError>;
    /// A page of the crossings of `month`, of one user or everybody, by user then revision
    /// then threshold.
    async fn crossings(
        &self,
        month: Month,
        user: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Crossing>, StoreError>;
    /// The users the last full pass of `month` found within reach of their budget.
    async fn reach(&self, month: Month) -> Result<Option<Reach>, StoreError>;
    /// Replaces `month`'s within-reach list unless a later pass stored one
    /// ([`StoreError::Conflict`]): forward only, like the scheduler's last run.
    async fn put_reach(&self, month: Month, reach: &Reach) -> Result<(), StoreError>;
    /// True once the final evaluation of `month` (its totals up to its very end, after it
    /// ended) is recorded.
    async fn evaluated(&self, month: Month) -> Result<bool, StoreError>;
    /// Records that `month` had its final evaluation (a create: the first one stands).
    async fn mark_evaluated(&self, month: Month, at: Timestamp) -> Result<(), StoreError>;
}

/// Whether a username is one the directory knows (budgets are only set for real users).
#[async_trait]
pub trait KnownUsers: Send + Sync {
    /// True when the directory has a user `username`.
    async fn exists(&self, username: &str) -> Result<bool, UpstreamError>;
}

/// Where fetched actuals are kept.
#[async_trait]
pub trait ActualStore: Send + Sync {
    /// The stored actuals of `month` (empty when never fetched).
    async fn actuals(&self, month: Month) -> Result<Actuals, StoreError>;
    /// Replaces the stored actuals of `month`.
    async fn put_actuals(&self, month: Month, actuals: &Actuals) -> Result<(), StoreError>;
}

/// Cost Explorer.
#[async_trait]
pub trait CostSource: Send + Sync {
    /// Amortised costs (usage records) of the days `[start, end)`, grouped by the owner and workspace tags.
    async fn cost_by_tag(&self, start: Date, end: Date) -> Result<Vec<ActualGroup>, UpstreamError>;
    /// The same costs of the same days, grouped by the owner and `atelier:component` tags
    /// (the platform's share of the untagged remainder).
    async fn cost_by_component(&self, start: Date, end: Date) -> Result<Vec<ComponentGroup>, UpstreamError>;
}

/// Where the dated cost-centre changes are kept ([`super::cost_centres`]).
#[async_trait]
pub trait CostCentreStore: Send + Sync {
    /// The recorded changes of `user`, or of everybody (`None`), in any order.
    async fn cost_centre_changes(&self, user: Option<&str>) -> Result<Vec<CostCentreChange>, StoreError>;
    /// Records `change`, replacing the one recorded for the same user and month unless that
    /// one was recorded later (a retried older request never overwrites a newer decision:
    /// [`StoreError::Conflict`]).
    async fn put_cost_centre_change(&self, change: &CostCentreChange) -> Result<(), StoreError>;
}

/// Where the exchange rates' revisions are kept ([`super::rates`]).
#[async_trait]
pub trait ExchangeRateStore: Send + Sync {
    /// Every recorded revision, in any order.
    async fn exchange_rates(&self) -> Result<Vec<ExchangeRate>, StoreError>;
    /// Records `rate` unless its (from, to, day, revision) is recorded already
    /// ([`StoreError::Conflict`]): revisions are created, never replaced.
    async fn put_exchange_rate(&self, rate: &ExchangeRate) -> Result<(), StoreError>;
}

/// An object of the exports bucket as it is stored: its key and the headers a download of
/// it answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportObject {
    /// `exports/<username>/<YYYY-MM>/<random>.csv`.
    pub key: String,
    /// `text/csv; charset=utf-8`.
    pub content_type: String,
    /// `attachment; filename="atelier-costs-YYYY-MM.csv"`.
    pub content_disposition: String,
}

/// A time-limited link to a finished export object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportLink {
    /// A presigned GET: whoever holds it may download the object, without a token, until
    /// `expires_at`.
    pub url: String,
    /// When the link stops working (15 minutes after it was made, in the S3 adapter).
    pub expires_at: Timestamp,
}

/// Where finished exports are kept for download (the exports bucket, whose objects expire
/// after a day): written as a stream, so that a month of any size takes bounded memory.
#[async_trait]
pub trait ExportObjects: Send + Sync {
    /// Starts writing `object`; nothing is visible under its key before
    /// [`ExportUpload::finish`].
    async fn start(&self, object: &ExportObject) -> Result<Box<dyn ExportUpload>, UpstreamError>;
}

/// One object being written: its bytes in order, then [`ExportUpload::finish`] or
/// [`ExportUpload::abort`]. The S3 adapter gathers the bytes into parts of 8 MiB (S3 wants
/// at least 5 MiB but for the last), uploads each as it fills, and stores an object smaller
/// than one part with a single `PutObject`.
#[async_trait]
pub trait ExportUpload: Send {
    /// The object's next bytes.
    async fn part(&mut self, bytes: Vec<u8>) -> Result<(), UpstreamError>;
    /// Completes the object and answers a link to it.
    async fn finish(self: Box<Self>) -> Result<ExportLink, UpstreamError>;
    /// Gives the object up: what was uploaded of it is discarded.
    async fn abort(self: Box<Self>) -> Result<(), UpstreamError>;
}
