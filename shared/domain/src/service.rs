//! The workspace use cases the API exposes. Authorization lives here, next to the data it
//! protects: a scientist only ever reaches their own workspaces (others' answer NotFound,
//! so ids cannot be probed), admins reach all.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};

use crate::{
    Actor, Caller, Command, DomainError, Event, EventAction, Observation, ProductId, Profile, Role, State, Workspace,
    WorkspaceId, WorkspaceName, lifecycle,
    ports::{
        Catalog, IdempotencyRecord, Inserted, Page, PageRequest, PowerSwitch, ProvisionRequest, Provisioner,
        ScheduleDefaults, UserDirectory, WorkspaceFilter, WorkspaceStore,
    },
    schedule::{DEFAULT_MAX_OVERRIDE, OutsideAction, Override, Schedule},
    workspace::{Owner, Provisioned},
};

/// How long an `Idempotency-Key` is remembered.
pub const IDEMPOTENCY_TTL: SignedDuration = SignedDuration::from_hours(24);

/// A request to create a workspace, already parsed.
#[derive(Debug, Clone)]
pub struct CreateWorkspace {
    pub product_id: ProductId,
    pub name: WorkspaceName,
}

/// Whose workspaces a caller asks to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListScope {
    Own,
    All,
    Owner(String),
}

/// The ports the workspace use cases run on.
#[derive(Clone)]
pub struct Workspaces {
    pub store: Arc<dyn WorkspaceStore>,
    pub catalog: Arc<dyn Catalog>,
    pub provisioner: Arc<dyn Provisioner>,
    pub power: Arc<dyn PowerSwitch>,
    pub directory: Arc<dyn UserDirectory>,
    /// The organisation's default schedule, given to new workspaces.
    pub defaults: Arc<dyn ScheduleDefaults>,
}

impl Workspaces {
    /// The cost use cases on the same store, catalog and directory, with the cost stores
    /// (one DynamoDB table implements them all).
    pub fn costs(
        &self,
        index: Arc<dyn crate::costs::MonthIndex>,
        budgets: Arc<dyn crate::costs::BudgetStore>,
        actuals: Arc<dyn crate::costs::actuals::ActualStore>,
    ) -> crate::costs::Costs {
        crate::costs::Costs {
            store: self.store.clone(),
            catalog: self.catalog.clone(),
            directory: self.directory.clone(),
            index,
            budgets,
            actuals,
        }
    }

    /// The caller's directory profile.
    pub async fn profile(&self, caller: &Caller) -> Result<Profile, DomainError> {
        Ok(self.directory.profile(&caller.username).await?)
    }

    /// Creates a workspace and starts provisioning it. With an idempotency key, repeating the
    /// same request returns the workspace the first one created; the same key with a
    /// different request is refused.
    pub async fn create(
        &self,
        caller: &Caller,
        request: CreateWorkspace,
        idempotency_key: Option<&str>,
        now: Timestamp,
    ) -> Result<Workspace, DomainError> {
        require_scientist_or_admin(caller)?;
        let key = idempotency_key.map(parse_idempotency_key).transpose()?;
        let request_hash = fingerprint(&[request.product_id.as_str(), request.name.as_str()]);
        if let Some(key) = key
            && let Some(existing) = self.replay(caller, key, &request_hash).await?
        {
            return Ok(existing);
        }

        let product = self.catalog.product(&request.product_id).await?.ok_or_else(|| {
            DomainError::unprocessable("productId", format!("no product {} in the catalog", request.product_id))
        })?;
        let profile = self.directory.profile(&caller.username).await?;
        let schedule = self.defaults.get().await?;
        let id = WorkspaceId::generate();
        let provision_token = match key {
            Some(key) => fingerprint(&["provision", &caller.username, key]),
            None => fingerprint(&["provision", id.as_str()]),
        };
        let mut workspace = Workspace {
            id,
            name: request.name,
            owner: Owner {
                username: caller.username.clone(),
                sub: caller.sub.clone(),
                cost_centre: profile.cost_centre,
            },
            product_id: product.id.clone(),
            instance_type: product.instance_type.clone(),
            hibernation: product.hibernation,
            state: State::Provisioning,
            provisioned: Provisioned::default(),
            provision_token,
            created_at: now,
            updated_at: now,
            error: None,
            version: 1,
            schedule,
            datasets: Vec::new(),
        };
        let event = Event {
            at: now,
            actor: Actor::user(&caller.username),
            action: EventAction::Create,
            from: None,
            to: State::Provisioning,
            reason: Some(format!("product {}", product.id)),
        };
        let idempotency = key.map(|key| IdempotencyRecord {
            owner: caller.username.clone(),
            key: key.to_owned(),
            request_hash: request_hash.clone(),
            workspace_id: workspace.id.clone(),
            expires_at: now + IDEMPOTENCY_TTL,
        });
        match self.store.insert(&workspace, &event, idempotency.as_ref()).await? {
            Inserted::Created => {}
            Inserted::ActiveLimit { max } => {
                return Err(DomainError::unprocessable(
                    "workspaces",
                    format!(
                        "you already have {max} active workspaces (not terminated and not failed), the most one \
                         user may have; terminate one before creating another"
                    ),
                ));
            }
            Inserted::KeyTaken => {
                // A concurrent request with the same key won; answer with its workspace.
                let key = key.expect("a key was given when a key record was written");
                return self.replay(caller, key, &request_hash).await?.ok_or(DomainError::Concurrent);
            }
        }

        match self.provisioner.provision(ProvisionRequest { workspace: &workspace, product: &product }).await {
            Ok(provisioned) => workspace = record_provisioned(self.store.as_ref(), workspace, provisioned).await?,
            Err(err) => {
                tracing::warn!(workspace = %workspace.id, error = ?err, "provisioning could not start");
                let reason = format!("provisioning could not start: {err}");
                workspace = self
                    .apply(
                        workspace,
                        Observation::ProvisionFailed.into(),
                        Actor::user(&caller.username),
                        EventAction::Create,
                        Some(reason),
                        now,
                    )
                    .await?;
            }
        }
        Ok(workspace)
    }

    async fn replay(&self, caller: &Caller, key: &str, request_hash: &str) -> Result<Option<Workspace>, DomainError> {
        let Some(record) = self.store.idempotency(&caller.username, key).await? else {
            return Ok(None);
        };
        if record.request_hash != request_hash {
            return Err(DomainError::unprocessable(
                "Idempotency-Key",
                "this key was already used with a different request body",
            ));
        }
        let workspace =
            self.store.get(&record.workspace_id).await?.ok_or(DomainError::NotFound { kind: "workspace" })?;
        Ok(Some(workspace))
    }

    /// One workspace the caller may see.
    pub async fn get(&self, caller: &Caller, id: &str) -> Result<Workspace, DomainError> {
        let id = WorkspaceId::parse(id)?;
        let workspace = self.store.get(&id).await?.ok_or(DomainError::NotFound { kind: "workspace" })?;
        if workspace.owner.username == caller.username || caller.is_admin() {
            Ok(workspace)
        } else {
            Err(DomainError::NotFound { kind: "workspace" })
        }
    }

    /// A page of the workspaces the caller may list.
    pub async fn list(
        &self,
        caller: &Caller,
        scope: ListScope,
        page: &PageRequest,
    ) -> Result<Page<Workspace>, DomainError> {
        let filter = match scope {
            ListScope::Own => WorkspaceFilter::Owner(caller.username.clone()),
            ListScope::All if caller.is_admin() => WorkspaceFilter::All,
            ListScope::Owner(owner) if caller.is_admin() || owner == caller.username => WorkspaceFilter::Owner(owner),
            ListScope::All | ListScope::Owner(_) => {
                return Err(DomainError::Forbidden("only admins may list other users' workspaces".into()));
            }
        };
        Ok(self.store.list(&filter, page).await?)
    }

    /// Starts, stops, hibernates or terminates a workspace.
    pub async fn command(
        &self,
        caller: &Caller,
        id: &str,
        command: Command,
        now: Timestamp,
    ) -> Result<Workspace, DomainError> {
        let workspace = self.get(caller, id).await?;
        if command == Command::Hibernate && !workspace.hibernation {
            return Err(DomainError::unprocessable(
                "action",
                format!("product {} does not support hibernation; stop the workspace instead", workspace.product_id),
            ));
        }
        let from = workspace.state;
        let mut workspace = workspace;
        if command == Command::Terminate {
            // The provisioning record is finished business; forgetting it means a record
            // seen while TERMINATING is always the terminate record.
            workspace.provisioned.record_id = None;
        }
        let workspace =
            self.apply(workspace, command.into(), Actor::user(&caller.username), command.into(), None, now).await?;
        // The transition is claimed; now ask AWS. If AWS refuses, state-sync observes the
        // real instance state and settles the workspace.
        match command {
            Command::Start => self.power.start(&instance_ids(&workspace)).await?,
            Command::Stop => self.power.stop(&instance_ids(&workspace), false).await?,
            Command::Hibernate => self.power.stop(&instance_ids(&workspace), true).await?,
            Command::Terminate => {
                let provisioned = match self.provisioner.terminate(&workspace).await {
                    Ok(provisioned) => provisioned,
                    Err(err) => {
                        // The termination is claimed and state-sync asks AWS again until
                        // it is under way: the request is accepted, not lost.
                        tracing::warn!(workspace = %workspace.id, error = ?err, "terminate call failed; state-sync retries");
                        return Ok(workspace);
                    }
                };
                return record_provisioned(self.store.as_ref(), workspace, provisioned).await;
            }
        }
        debug_assert_ne!(from, workspace.state);
        Ok(workspace)
    }

    /// A page of a workspace's history, newest first.
    pub async fn events(&self, caller: &Caller, id: &str, page: &PageRequest) -> Result<Page<Event>, DomainError> {
        let workspace = self.get(caller, id).await?;
        Ok(self.store.events(&workspace.id, page).await?)
    }

    /// The schedule of a workspace the caller may see (its override travels separately).
    pub async fn schedule(&self, caller: &Caller, id: &str) -> Result<Schedule, DomainError> {
        Ok(self.get(caller, id).await?.schedule)
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
        const ATTEMPTS: usize = 4;
        let change = &change;
        crate::error::retry_concurrent(ATTEMPTS, || async move {
            let workspace = self.get(caller, id).await?;
            let Some((schedule, reason)) = change(&workspace)? else {
                return Ok(workspace);
            };
            self.write_schedule(workspace, schedule, caller, action, reason, now).await
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

    /// Writes `schedule` on `workspace` with a conditional write on its version and state
    /// (which does not change), and an audit event.
    async fn write_schedule(
        &self,
        workspace: Workspace,
        schedule: Schedule,
        caller: &Caller,
        action: EventAction,
        reason: String,
        now: Timestamp,
    ) -> Result<Workspace, DomainError> {
        let state = workspace.state;
        if state == State::Terminated {
            return Err(DomainError::unprocessable(
                "schedule",
                "the workspace is TERMINATED; it has no schedule any more",
            ));
        }
        let mut next = workspace;
        next.schedule = schedule;
        next.version += 1;
        // `updated_at` stays: it marks the last state change, which state-sync's grace
        // period and the by-state index are about.
        let event = Event {
            at: now,
            actor: Actor::user(&caller.username),
            action,
            from: Some(state),
            to: state,
            reason: Some(reason),
        };
        self.store.update(&next, state, Some(&event)).await?;
        Ok(next)
    }

    /// Moves `workspace` through the lifecycle table with a conditional write and an event.
    pub(crate) async fn apply(
        &self,
        workspace: Workspace,
        trigger: lifecycle::Trigger,
        actor: Actor,
        action: EventAction,
        reason: Option<String>,
        now: Timestamp,
    ) -> Result<Workspace, DomainError> {
        transition(self.store.as_ref(), workspace, trigger, actor, action, reason, now).await
    }
}

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

/// Moves `workspace` through the lifecycle table: a conditional write on its state and
/// version, with the event appended in the same transaction.
pub async fn transition(
    store: &dyn WorkspaceStore,
    workspace: Workspace,
    trigger: lifecycle::Trigger,
    actor: Actor,
    action: EventAction,
    reason: Option<String>,
    now: Timestamp,
) -> Result<Workspace, DomainError> {
    let from = workspace.state;
    let to = lifecycle::next(from, trigger)?;
    let mut next = workspace;
    next.state = to;
    next.version += 1;
    next.updated_at = now;
    if to == State::Failed {
        next.error = reason.clone();
    }
    let event = Event { at: now, actor, action, from: Some(from), to, reason };
    store.update(&next, from, Some(&event)).await?;
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

fn instance_ids(workspace: &Workspace) -> Vec<String> {
    workspace.provisioned.instance_id.iter().cloned().collect()
}

fn require_scientist_or_admin(caller: &Caller) -> Result<(), DomainError> {
    if caller.has(Role::Scientist) || caller.is_admin() {
        Ok(())
    } else {
        Err(DomainError::Forbidden("only scientists and admins may create workspaces".into()))
    }
}

fn parse_idempotency_key(key: &str) -> Result<&str, DomainError> {
    if !key.is_empty() && key.len() <= 128 && key.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(key)
    } else {
        Err(DomainError::invalid("Idempotency-Key", "must be 1-128 visible ASCII characters"))
    }
}

/// A short hex digest of `parts`, separated so that `["ab","c"]` and `["a","bc"]` differ.
fn fingerprint(parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    hash.finalize().iter().take(20).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_separate_their_parts() {
        assert_ne!(fingerprint(&["ab", "c"]), fingerprint(&["a", "bc"]));
        assert_eq!(fingerprint(&["x"]).len(), 40);
    }

    #[test]
    fn idempotency_keys_are_bounded() {
        assert!(parse_idempotency_key("b2f6c1e0-1").is_ok());
        assert!(parse_idempotency_key("").is_err());
        assert!(parse_idempotency_key("with space").is_err());
        assert!(parse_idempotency_key(&"k".repeat(129)).is_err());
    }
}
