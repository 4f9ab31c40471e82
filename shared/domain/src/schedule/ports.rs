//! What the schedule capability needs from the outside world: where the organisation's
//! default schedule and the scheduler's progress are stored (DynamoDB).

use async_trait::async_trait;
use jiff::Timestamp;

use super::Schedule;
use crate::kernel::StoreError;

/// The organisation's default schedule, which new workspaces get.
#[async_trait]
pub trait ScheduleDefaults: Send + Sync {
    /// The stored default, or [`Schedule::default`] when none was ever set.
    async fn get(&self) -> Result<Schedule, StoreError>;
    /// Replaces the default (workspaces that exist keep theirs).
    async fn put(&self, schedule: &Schedule) -> Result<(), StoreError>;
}

/// Where the scheduler remembers up to which instant it has acted.
#[async_trait]
pub trait SchedulerRuns: Send + Sync {
    /// The instant of the last recorded run, if any.
    async fn last_run(&self) -> Result<Option<Timestamp>, StoreError>;
    /// Records a run at `at`, only moving forward: [`StoreError::Conflict`] when a run at
    /// `at` or later is already recorded.
    async fn record_run(&self, at: Timestamp) -> Result<(), StoreError>;
}
