//! The schedule use cases the API exposes: reading and replacing a workspace's schedule,
//! its "keep running until" override, and the organisation's default schedule. A schedule
//! edit never changes the workspace's state; it is a conditional write with an audit event.

use std::sync::Arc;

use jiff::Timestamp;

use super::{DEFAULT_MAX_OVERRIDE, OutsideAction, Override, Schedule, ScheduleDefaults};
use crate::kernel::{Caller, DomainError, retry_concurrent};
use crate::workspaces::{Actor, Event, EventAction, State, Workspace, WorkspaceStore, use_cases::visible_workspace};

/// How many times an edit that lost its conditional write to state-sync or the scheduler
/// is re-read and re-applied before answering 409.
const ATTEMPTS: usize = 4;

/// The ports the schedule use cases run on.
#[derive(Clone)]
pub struct Schedules {
    /// The workspaces, whose records carry their schedule and override.
    pub store: Arc<dyn WorkspaceStore>,
    /// The organisation's default schedule.
    pub defaults: Arc<dyn ScheduleDefaults>,
}

impl Schedules {
    /// The schedule of a workspace the caller may see (its override travels separately).
    pub async fn schedule(&self, caller: &Caller, id: &str) -> Result<Schedule, DomainError> {
        Ok(visible_workspace(self.store.as_ref(), caller, id).await?.schedule)
    }

    /// Replaces a workspace's schedule, keeping its override. `outside: hibernate` is
    /// refused for a product without hibernation. The state does not change.
    pub async fn set_schedule(
        &self,
        caller: &Caller,
        id: &str,
        schedule: Schedule,
        now: Timestamp,
    ) -> Result<Workspace, DomainError> {
        self.reschedule(caller, id, EventAction::Schedule, now, |workspace| {
            if schedule.outside() == OutsideAction::Hibernate && !workspace.hibernation {
                return Err(DomainError::unprocessable(
                    "outside",
                    format!("product {} does not support hibernation; use \"stop\"", workspace.product_id),
                ));
            }
            let reason = describe(&schedule);
            Ok(Some((schedule.clone().with_override(workspace.schedule.override_until()), reason)))
        })
        .await
    }

    /// Keeps a workspace running until `until`, which must be after `now` and at most
    /// [`DEFAULT_MAX_OVERRIDE`] after it (else `Unprocessable` on `until`). The HTTP layer
    /// passes the wall clock; tests may pass any instant.
    pub async fn set_override(
        &self,
        caller: &Caller,
        id: &str,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<Workspace, DomainError> {
        self.reschedule(caller, id, EventAction::Override, now, |workspace| {
            let value = Override::new(until, now, DEFAULT_MAX_OVERRIDE)?;
            let reason = format!("keep running until {until}");
            Ok(Some((workspace.schedule.clone().with_override(Some(value)), reason)))
        })
        .await
    }

    /// Removes a workspace's override; nothing is written when it has none.
    pub async fn clear_override(&self, caller: &Caller, id: &str, now: Timestamp) -> Result<Workspace, DomainError> {
        self.reschedule(caller, id, EventAction::Override, now, |workspace| {
            Ok(workspace.schedule.override_until().map(|previous| {
                let reason = format!("override until {} removed", previous.until());
                (workspace.schedule.clone().with_override(None), reason)
            }))
        })
        .await
    }

    /// The organisation's default schedule (any signed-in user may read it).
    pub async fn default_schedule(&self) -> Result<Schedule, DomainError> {
        Ok(self.defaults.get().await?)
    }

    /// Replaces the organisation's default schedule (admins only). Existing workspaces keep
    /// their schedules; new ones get this one.
    pub async fn set_default_schedule(&self, caller: &Caller, schedule: Schedule) -> Result<Schedule, DomainError> {
        if !caller.is_admin() {
            return Err(DomainError::Forbidden("only admins may change the default schedule".into()));
        }
        let schedule = schedule.with_override(None);
        self.defaults.put(&schedule).await?;
        Ok(schedule)
    }

    /// Reads the workspace the caller may see, asks `change` for its new schedule (`None`:
    /// nothing to do) and writes it. A schedule edit commutes with the state changes that
    /// state-sync and the scheduler make concurrently, so when one of them wins the
    /// conditional write first the edit is re-read and re-applied (a few times) rather than
    /// failed back to the user.
    async fn reschedule(
        &self,
        caller: &Caller,
        id: &str,
        action: EventAction,
        now: Timestamp,
        change: impl Fn(&Workspace) -> Result<Option<(Schedule, String)>, DomainError>,
    ) -> Result<Workspace, DomainError> {
        let change = &change;
        retry_concurrent(ATTEMPTS, || async move {
            let workspace = visible_workspace(self.store.as_ref(), caller, id).await?;
            let Some((schedule, reason)) = change(&workspace)? else {
                return Ok(workspace);
            };
            let actor = Actor::user(&caller.username);
            write_schedule(self.store.as_ref(), workspace, schedule, actor, action, reason, now).await
        })
        .await
    }
}

/// Writes `schedule` on `workspace` with a conditional write on its version and state
/// (which does not change), and an audit event.
async fn write_schedule(
    store: &dyn WorkspaceStore,
    workspace: Workspace,
    schedule: Schedule,
    actor: Actor,
    action: EventAction,
    reason: String,
    now: Timestamp,
) -> Result<Workspace, DomainError> {
    let state = workspace.state;
    if state == State::Terminated {
        return Err(DomainError::unprocessable("schedule", "the workspace is TERMINATED; it has no schedule any more"));
    }
    let mut next = workspace;
    next.schedule = schedule;
    next.version += 1;
    // `updated_at` stays: it marks the last state change, which state-sync's grace
    // period and the by-state index are about.
    let event = Event {
        at: now,
        actor,
        action,
        from: Some(state),
        to: state,
        reason: Some(reason),
        connection: None,
        instance: None,
    };
    crate::workspaces::writer::append(store, &mut next, state, &event).await?;
    Ok(next)
}

/// A schedule in words, for the history.
fn describe(schedule: &Schedule) -> String {
    let outside = match schedule.outside() {
        OutsideAction::Stop => "stop",
        OutsideAction::Hibernate => "hibernate",
    };
    format!(
        "schedule set: {} window(s) in {}, {outside} outside{}",
        schedule.windows().len(),
        schedule.timezone_name(),
        if schedule.enabled() { "" } else { ", disabled" }
    )
}
