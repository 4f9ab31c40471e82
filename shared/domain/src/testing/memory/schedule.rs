//! The organisation's default schedule and the scheduler's last run.

use async_trait::async_trait;
use jiff::Timestamp;

use super::MemoryStore;
use crate::kernel::StoreError;
use crate::schedule::{Schedule, ScheduleDefaults, SchedulerRuns};

#[async_trait]
impl ScheduleDefaults for MemoryStore {
    async fn get(&self) -> Result<Schedule, StoreError> {
        Ok(self.lock().default_schedule.clone().unwrap_or_default())
    }

    /// Last writer wins, as the adapter's whole-document replace.
    async fn put(&self, schedule: &Schedule) -> Result<(), StoreError> {
        self.lock().default_schedule = Some(schedule.clone());
        Ok(())
    }
}

#[async_trait]
impl SchedulerRuns for MemoryStore {
    async fn last_run(&self) -> Result<Option<Timestamp>, StoreError> {
        Ok(self.lock().last_run)
    }

    /// Only forward: [`StoreError::Conflict`] when a run at `at` or later is recorded.
    async fn record_run(&self, at: Timestamp) -> Result<(), StoreError> {
        let mut data = self.lock();
        if data.last_run.is_some_and(|last| last >= at) {
            return Err(StoreError::Conflict);
        }
        data.last_run = Some(at);
        Ok(())
    }
}
