//! The lifecycle's one writer: every state change of a workspace, whoever decides it (a
//! person through the API, state-sync, the scheduler, the budget watch), goes through
//! [`transition`], which checks the move against the table ([`super::lifecycle`]) and
//! writes it conditionally on the version and state it was decided on, with its event in
//! the same write. [`record_provisioned`] records what the provisioner learnt, without a
//! state change.

use jiff::Timestamp;

use super::{
    Actor, Event, EventAction, InstanceSeen, Provisioned, State, Trigger, Workspace, WorkspaceStore, lifecycle,
};
use crate::kernel::{DomainError, StoreError};

/// Records what the provisioner now knows of `workspace`'s AWS resources: a conditional
/// write on its version and (unchanged) state, with no event and no new `updated_at`, which
/// marks state changes only. Nothing is written when nothing changed.
pub async fn record_provisioned(
    store: &dyn WorkspaceStore,
    workspace: Workspace,
    provisioned: Provisioned,
) -> Result<Workspace, DomainError> {
    if provisioned == workspace.provisioned {
        return Ok(workspace);
    }
    let state = workspace.state;
    let mut next = workspace;
    next.provisioned = provisioned;
    next.version += 1;
    store.update(&next, state, None).await?;
    Ok(next)
}

/// Writes `next` conditionally on its version and `expected_state` with `event` appended
/// in the same write, after folding the event into the workspace's cost usage
/// ([`crate::costs::aggregate::record`]). Every write with an event goes through here, so
/// the usage on the item always matches its history.
pub async fn append(
    store: &dyn WorkspaceStore,
    next: &mut Workspace,
    expected_state: State,
    event: &Event,
) -> Result<(), StoreError> {
    crate::costs::aggregate::record(next, event);
    store.update(next, expected_state, Some(event)).await
}

/// Appends an event to `workspace`'s history that leaves its state as it is (an action
/// taken on its machine while the lifecycle has no transition for it, such as a budget stop
/// of a FAILED workspace's running instance): a conditional write on its state and version.
/// `updated_at` stays, as it marks the last state change.
pub async fn record_event(
    store: &dyn WorkspaceStore,
    workspace: Workspace,
    actor: Actor,
    action: EventAction,
    reason: String,
    at: Timestamp,
) -> Result<Workspace, DomainError> {
    let state = workspace.state;
    let mut next = workspace;
    next.version += 1;
    let event = Event {
        at,
        actor,
        action,
        from: Some(state),
        to: state,
        reason: Some(reason),
        connection: None,
        instance: None,
    };
    append(store, &mut next, state, &event).await?;
    Ok(next)
}

/// Moves `workspace` through the lifecycle table: a conditional write on its state and
/// version, with the event appended in the same transaction.
pub async fn transition(
    store: &dyn WorkspaceStore,
    workspace: Workspace,
    trigger: Trigger,
    actor: Actor,
    action: EventAction,
    reason: Option<String>,
    now: Timestamp,
) -> Result<Workspace, DomainError> {
    transition_seen(store, workspace, trigger, actor, action, reason, None, now).await
}

/// [`transition`], with what EC2 showed of the instance recorded in the event (and, on a
/// FAILED workspace, on the workspace: its compute is billed by it). A row of the table
/// that stays in its state (FAILED observing its instance) keeps `updated_at` and `error`:
/// the state did not change.
#[allow(clippy::too_many_arguments)]
pub async fn transition_seen(
    store: &dyn WorkspaceStore,
    workspace: Workspace,
    trigger: Trigger,
    actor: Actor,
    action: EventAction,
    reason: Option<String>,
    instance: Option<InstanceSeen>,
    at: Timestamp,
) -> Result<Workspace, DomainError> {
    let from = workspace.state;
    let to = lifecycle::next(from, trigger)?;
    let mut next = workspace;
    next.state = to;
    next.version += 1;
    if to != from {
        next.updated_at = at;
        if to == State::Failed {
            next.error = reason.clone();
        }
    }
    next.instance_seen = match (to, &instance) {
        (State::Failed, Some(seen)) => Some(seen.state),
        (State::Failed, None) if from == State::Failed => next.instance_seen,
        _ => None,
    };
    let event = Event { at, actor, action, from: Some(from), to, reason, connection: None, instance };
    append(store, &mut next, from, &event).await?;
    Ok(next)
}
