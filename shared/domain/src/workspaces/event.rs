//! The append-only history of a workspace: who asked or saw what, when, and what it did.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Command, InstanceState, State};

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
    /// A person opened one of the workspace's apps through the gateway (`connection` says
    /// which, from where, and on what grounds; the state does not change).
    Connect,
    /// That session ended: signed out, idle, the workspace stopped, or the person lost
    /// access (`reason` says which; `connection.startedAt` when it began).
    Disconnect,
    /// An admin asked for access to someone else's workspace apps, with a reason: the
    /// audited break-glass grant the gateway requires of admins (the state does not change).
    #[serde(rename = "break-glass")]
    BreakGlass,
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
    /// For `connect` and `disconnect`: the app session it opens or closes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<Connection>,
    /// For a `sync` that follows what EC2 showed of the instance: what it showed, and where
    /// `at` comes from. On a FAILED workspace this is what its compute is billed by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<InstanceSeen>,
}

/// What state-sync saw of a workspace's instance when it recorded an event
/// (docs/adr/0003-lifecycle-and-state-sync.md, "EC2 is the truth").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceSeen {
    /// The instance (`i-...`).
    pub id: String,
    /// EC2's state of it.
    pub state: InstanceState,
    /// EC2's `StateTransitionReason`, when it gave one (`User initiated (2026-03-10 14:02:11 GMT)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transition_reason: Option<String>,
    /// Where the event's `at` comes from.
    pub time_source: TimeSource,
}

/// Where the instant of an event that follows EC2 comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimeSource {
    /// The `time` of EC2's state-change notification (EventBridge).
    Ec2Event,
    /// The date in the instance's `StateTransitionReason`.
    Ec2Reason,
    /// When state-sync looked: EC2 gave no usable instant.
    Observed,
}

/// On what grounds the gateway let someone into a workspace's app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    /// The workspace's owner (by Cognito `sub`).
    Owner,
    /// An admin holding a live break-glass grant for this workspace.
    BreakGlass,
}

/// One app session through the gateway, as the history records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    /// The app (`jupyterlab`, `rstudio`, ...).
    pub app: String,
    /// The gateway's id for the session (the same in its `connect` and `disconnect`
    /// events, and in the gateway's logs).
    pub session: String,
    /// The caller's address as the gateway saw it (the load balancer's `X-Forwarded-For`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// On what grounds the gateway let them in.
    pub via: Via,
    /// For a `disconnect`: when the session began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
}
