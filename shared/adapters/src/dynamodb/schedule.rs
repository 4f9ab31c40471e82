//! [`ScheduleDefaults`] and [`SchedulerRuns`] on the table: the organisation's default
//! schedule (`CONFIG#schedule`) and the scheduler's last run (`SCHEDULER#state`), one item
//! each.

use async_trait::async_trait;
use atelier_domain::{
    kernel::StoreError,
    schedule::{Schedule, ScheduleDefaults, SchedulerRuns},
};
use aws_sdk_dynamodb::types::AttributeValue;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{
    Table,
    items::{corrupt, decode_schedule, encode_schedule, from_item},
    keys::{CONFIG_SK, DEFAULT_SCHEDULE_PK, SCHEDULER_PK, SCHEDULER_SK},
    writes::Condition,
};

/// The organisation's default schedule: its wire JSON.
#[derive(Serialize, Deserialize)]
struct ScheduleItem {
    pk: String,
    sk: String,
    schedule: String,
}

/// Up to which instant the scheduler has acted.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SchedulerItem {
    pk: String,
    sk: String,
    /// Microseconds since the epoch (a number, for the `lastRun < :at` condition).
    last_run: i64,
    /// The same instant, readable.
    last_run_at: Timestamp,
}

#[async_trait]
impl ScheduleDefaults for Table {
    async fn get(&self) -> Result<Schedule, StoreError> {
        let item = self.get_item(DEFAULT_SCHEDULE_PK.into(), CONFIG_SK.into()).await?;
        match item {
            Some(item) => decode_schedule(&from_item::<ScheduleItem>(item)?.schedule),
            None => Ok(Schedule::default()),
        }
    }

    async fn put(&self, schedule: &Schedule) -> Result<(), StoreError> {
        let item =
            ScheduleItem { pk: DEFAULT_SCHEDULE_PK.into(), sk: CONFIG_SK.into(), schedule: encode_schedule(schedule)? };
        // A whole-document replace by an admin (PUT semantics, no read-modify-write), so
        // there is no lost update for a version condition to catch: last writer wins.
        self.replace_item(&item).await
    }
}

#[async_trait]
impl SchedulerRuns for Table {
    async fn last_run(&self) -> Result<Option<Timestamp>, StoreError> {
        let item = self.get_item(SCHEDULER_PK.into(), SCHEDULER_SK.into()).await?;
        let Some(item) = item else { return Ok(None) };
        let item: SchedulerItem = from_item(item)?;
        Timestamp::from_microsecond(item.last_run).map(Some).map_err(|e| corrupt("scheduler last run", e))
    }

    async fn record_run(&self, at: Timestamp) -> Result<(), StoreError> {
        let item = SchedulerItem {
            pk: SCHEDULER_PK.into(),
            sk: SCHEDULER_SK.into(),
            last_run: at.as_microsecond(),
            last_run_at: at,
        };
        // Forward only: a run at or before the recorded one is a conflict the scheduler ignores.
        let forward = Condition::new("attribute_not_exists(pk) OR lastRun < :at")
            .value(":at", AttributeValue::N(at.as_microsecond().to_string()));
        self.put_item_if(&item, forward).await
    }
}
