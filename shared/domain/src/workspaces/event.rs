//! The append-only history of a workspace: who asked or saw what, when, and what it did.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Command, State};

/// Who caused an event: a person's username, or one of Atelier's own functions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Actor(pub String);

impl Actor {
    /// The state-sync function.
    pub fn state_sync() -> Self {
        Actor("state-sync".to_owned())
    }

    /// The data-access function (revocation, workspace credentials, mounts).
    pub fn data_access() -> Self {
        Actor("data-access".to_owned())
    }

    /// A workspace's agent, reporting what it did on the machine.
    pub fn agent() -> Self {
        Actor("workspace-agent".to_owned())
    }

    /// The working-window scheduler function.
    pub fn scheduler() -> Self {
        Actor("scheduler".to_owned())
    }

    /// The budget watch (`stop-at-100`).
    pub fn budget() -> Self {
        Actor(crate::costs::watch::BUDGET_ACTOR.to_owned())
    }

    /// A person, by username.
    pub fn user(username: &str) -> Self {
        Actor(username.to_owned())
    }
}

/// What was asked or observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventAction {
    /// The workspace was created (the first event, `from` is `None`), or its provisioning
    /// could not even start (`to` is `FAILED`, `reason` says why).
    Create,
    /// A start was asked, by a person or the scheduler.
    Start,
    /// A stop was asked, by a person, the scheduler or the budget watch (actor `budget`).
    Stop,
    /// A hibernate was asked, by a person or the scheduler.
    Hibernate,
    /// A terminate was asked, by a person.
    Terminate,
    /// State-sync observed the machine or record and moved the workspace.
    Sync,
    /// The workspace's schedule was replaced (the state does not change).
    Schedule,
    /// The workspace's "keep running until" override was set or removed (the state does
    /// not change).
    Override,
}

impl From<Command> for EventAction {
    fn from(c: Command) -> Self {
        match c {
            Command::Start => EventAction::Start,
            Command::Stop => EventAction::Stop,
            Command::Hibernate => EventAction::Hibernate,
            Command::Terminate => EventAction::Terminate,
        }
    }
}

/// One entry of a workspace's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// When it happened (RFC 3339, UTC).
    pub at: Timestamp,
    /// Who did it.
    pub actor: Actor,
    /// What was asked or observed.
    pub action: EventAction,
    /// The state before; `None` for the creation event.
    pub from: Option<State>,
    /// The state after.
    pub to: State,
    /// Why, in words, when there is more to say than the action (errors, observations).
    pub reason: Option<String>,
}
