//! The workspace use cases the API exposes. Authorization lives here, next to the data it
//! protects: a scientist only ever reaches their own workspaces (others' answer NotFound,
//! so ids cannot be probed), admins reach all.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};

use super::{
    Actor, Command, Event, EventAction, IdempotencyRecord, Inserted, Launch, Observation, Owner, PowerSwitch,
    ProvisionRequest, Provisioned, Provisioner, StartGate, State, Workspace, WorkspaceFilter, WorkspaceName,
    WorkspaceStore, lifecycle, record_provisioned, transition,
};
use crate::catalog::{Catalog, Product};
use crate::kernel::{Caller, DomainError, Page, PageRequest, ProductId, Profile, Role, UserDirectory, WorkspaceId};
use crate::schedule::ScheduleDefaults;

/// How long an `Idempotency-Key` is remembered.
pub const IDEMPOTENCY_TTL: SignedDuration = SignedDuration::from_hours(24);

/// A request to create a workspace, already parsed.
#[derive(Debug, Clone)]
pub struct CreateWorkspace {
    /// The product to launch; `NotFound` unless the caller may launch it
    /// ([`Product::launchable_by`]).
    pub product_id: ProductId,
    /// The new workspace's name.
    pub name: WorkspaceName,
    /// The datasets asked for at launch, as the request names them: part of what an
    /// `Idempotency-Key` binds, so that a replay with other datasets is refused.
    pub datasets: Vec<String>,
}

/// Whose workspaces a caller asks to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListScope {
    /// The caller's own.
    Own,
    /// Everybody's; admins only (`Forbidden` for anyone else).
    All,
    /// One owner's, by Cognito username: admins, or the owner themselves.
    Owner(String),
}

/// The ports the workspace use cases run on.
#[derive(Clone)]
pub struct Workspaces {
    /// Workspaces, their history and idempotency records.
    pub store: Arc<dyn WorkspaceStore>,
    /// Where a create finds its product.
    pub catalog: Arc<dyn Catalog>,
    /// Builds and tears down the AWS resources.
    pub provisioner: Arc<dyn Provisioner>,
    /// Starts and stops the machines.
    pub power: Arc<dyn PowerSwitch>,
    /// The caller's cost centre at creation, and `/v1/me`.
    pub directory: Arc<dyn UserDirectory>,
    /// The organisation's default schedule, given to new workspaces.
    pub defaults: Arc<dyn ScheduleDefaults>,
    /// Refuses a start or a create while the owner's budget says so (`stop-at-100`).
    pub gate: Arc<dyn StartGate>,
}

/// The workspace `id` as `caller` may see it: their own, or any for an admin. Anything
/// else, malformed ids included, is NotFound, so that ids cannot be probed.
pub(crate) async fn visible_workspace(
    store: &dyn WorkspaceStore,
    caller: &Caller,
    id: &str,
) -> Result<Workspace, DomainError> {
    let id = WorkspaceId::parse(id)?;
    let workspace = store.get(&id).await?.ok_or(DomainError::NotFound { kind: "workspace" })?;
    if workspace.owner.username == caller.username || caller.is_admin() {
        Ok(workspace)
    } else {
        Err(DomainError::NotFound { kind: "workspace" })
    }
}

/// The idempotency key of a create, with the fingerprint of the request it came with.
#[derive(Clone, Copy)]
struct Key<'a> {
    key: &'a str,
    request_hash: &'a str,
}

impl Workspaces {
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
        // The key binds the whole request: product, name and datasets, in the order given.
        let mut parts = vec![request.product_id.as_str(), request.name.as_str()];
        parts.extend(request.datasets.iter().map(String::as_str));
        let request_hash = fingerprint(&parts);
        let key = key.map(|key| Key { key, request_hash: &request_hash });
        if let Some(key) = key
            && let Some(existing) = self.replay(caller, key).await?
        {
            return Ok(existing);
        }
        // A product the caller may not launch (unpublished, or shared with none of their
        // groups) is answered exactly as one that does not exist.
        let product = match self.catalog.product(&request.product_id).await? {
            Some(p) if p.launchable_by(caller) => p,
            _ => return Err(DomainError::NotFound { kind: "product" }),
        };
        // A new workspace's machine runs (and bills) as soon as it is provisioned: a create
        // is a start for the budget.
        self.may_start(&caller.username, now).await?;
        let workspace = self.new_workspace(&caller.username, &caller.sub, request.name, &product, now).await?;
        if let Some(replayed) = self.insert(caller, &workspace, key, now).await? {
            return Ok(replayed);
        }
        self.start_provisioning(caller, workspace, &product, now).await
    }

    /// The workspace a create makes, before anything is written: in `PROVISIONING`, with
    /// the owner's cost centre and the organisation's default schedule.
    pub(super) async fn new_workspace(
        &self,
        username: &str,
        sub: &str,
        name: WorkspaceName,
        product: &Product,
        now: Timestamp,
    ) -> Result<Workspace, DomainError> {
        let profile = self.directory.profile(username).await?;
        let schedule = self.defaults.get().await?;
        let id = WorkspaceId::generate();
        // Derived from the workspace: a retried provisioning of this workspace never
        // launches twice, and two workspaces never share a launch. (Two requests with one
        // Idempotency-Key make one workspace: the loser of the insert provisions nothing.)
        let provision_token = fingerprint(&["provision", id.as_str()]);
        let launch = Launch {
            product_version: product.version,
            provisioning_artifact_id: product
                .service_catalog
                .as_ref()
                .and_then(|sc| sc.provisioning_artifact_id.clone()),
            price_version: crate::costs::PriceBook::for_product(product)?.at(now).map(|v| v.effective_from),
            volume_gib: product.volume_gib,
            provisioned_volume_gib: None,
        };
        Ok(Workspace {
            id,
            name,
            owner: Owner { username: username.to_owned(), sub: sub.to_owned(), cost_centre: profile.cost_centre },
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
            launch: Some(launch),
            instance_seen: None,
            // The creation event's (`insert` writes it at `now`).
            usage: Some(crate::costs::MonthUsage::created(now)),
        })
    }

    /// Writes the new workspace, its creation event and its idempotency record. `Some` when
    /// a concurrent request with the same key won: its workspace is the answer.
    async fn insert(
        &self,
        caller: &Caller,
        workspace: &Workspace,
        key: Option<Key<'_>>,
        now: Timestamp,
    ) -> Result<Option<Workspace>, DomainError> {
        let event = Event {
            at: now,
            actor: Actor::user(&caller.username),
            action: EventAction::Create,
            from: None,
            to: State::Provisioning,
            reason: Some(format!("product {}", workspace.product_id)),
            connection: None,
            instance: None,
        };
        let record = key.map(|key| IdempotencyRecord {
            owner: caller.username.clone(),
            key: key.key.to_owned(),
            request_hash: key.request_hash.to_owned(),
            workspace_id: workspace.id.clone(),
            expires_at: now + IDEMPOTENCY_TTL,
        });
        match self.store.insert(workspace, &event, record.as_ref()).await? {
            Inserted::Created => Ok(None),
            Inserted::ActiveLimit { max } => Err(DomainError::unprocessable(
                "workspaces",
                format!(
                    "you already have {max} active workspaces (not terminated and not failed), the most one user \
                     may have; terminate one before creating another"
                ),
            )),
            Inserted::KeyTaken => {
                let key = key.expect("a key was given when a key record was written");
                Ok(Some(self.replay(caller, key).await?.ok_or(DomainError::Concurrent)?))
            }
        }
    }

    /// Asks the provisioner for the workspace's resources and records the handle; when it
    /// cannot even start, the workspace is FAILED with the reason.
    async fn start_provisioning(
        &self,
        caller: &Caller,
        workspace: Workspace,
        product: &Product,
        now: Timestamp,
    ) -> Result<Workspace, DomainError> {
        match self.provisioner.provision(ProvisionRequest { workspace: &workspace, product }).await {
            Ok(provisioned) => record_provisioned(self.store.as_ref(), workspace, provisioned).await,
            Err(err) => {
                tracing::warn!(workspace = %workspace.id, error = ?err, "provisioning could not start");
                let reason = format!("provisioning could not start: {err}");
                let actor = Actor::user(&caller.username);
                let trigger = Observation::ProvisionFailed.into();
                transition(self.store.as_ref(), workspace, trigger, actor, EventAction::Create, Some(reason), now).await
            }
        }
    }

    async fn replay(&self, caller: &Caller, key: Key<'_>) -> Result<Option<Workspace>, DomainError> {
        let Some(record) = self.store.idempotency(&caller.username, key.key).await? else {
            return Ok(None);
        };
        if record.request_hash != key.request_hash {
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
        visible_workspace(self.store.as_ref(), caller, id).await
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

    /// Starts, stops, hibernates or terminates a workspace: the transition is claimed with a
    /// conditional write first, then AWS is asked. If AWS refuses, state-sync observes the
    /// real instance and settles the workspace.
    pub async fn command(
        &self,
        caller: &Caller,
        id: &str,
        command: Command,
        now: Timestamp,
    ) -> Result<Workspace, DomainError> {
        let mut workspace = self.get(caller, id).await?;
        if command == Command::Hibernate && !workspace.hibernation {
            return Err(DomainError::unprocessable(
                "action",
                format!("product {} does not support hibernation; stop the workspace instead", workspace.product_id),
            ));
        }
        if command == Command::Terminate {
            // The provisioning record is finished business; forgetting it means a record
            // seen while TERMINATING is always the terminate record.
            workspace.provisioned.record_id = None;
        }
        if command == Command::Start {
            // An illegal start stays a 409, before the budget is even read.
            lifecycle::next(workspace.state, command)?;
            self.may_start(&workspace.owner.username, now).await?;
        }
        let actor = Actor::user(&caller.username);
        let workspace =
            transition(self.store.as_ref(), workspace, command.into(), actor, command.into(), None, now).await?;
        match command {
            Command::Start => self.power.start(&instance_ids(&workspace)).await?,
            Command::Stop => self.power.stop(&instance_ids(&workspace), false).await?,
            Command::Hibernate => self.power.stop(&instance_ids(&workspace), true).await?,
            Command::Terminate => return self.terminate(workspace).await,
        }
        Ok(workspace)
    }

    /// Refuses (422 on `budget`) when the owner may not start compute now.
    async fn may_start(&self, owner: &str, now: Timestamp) -> Result<(), DomainError> {
        match self.gate.refusal(owner, now).await? {
            None => Ok(()),
            Some(why) => Err(DomainError::unprocessable("budget", why)),
        }
    }

    /// Asks the provisioner to tear a claimed termination down and records the handle.
    async fn terminate(&self, workspace: Workspace) -> Result<Workspace, DomainError> {
        match self.provisioner.terminate(&workspace).await {
            Ok(provisioned) => record_provisioned(self.store.as_ref(), workspace, provisioned).await,
            Err(err) => {
                // The termination is claimed and state-sync asks AWS again until it is
                // under way: the request is accepted, not lost.
                tracing::warn!(workspace = %workspace.id, error = ?err, "terminate call failed; state-sync retries");
                Ok(workspace)
            }
        }
    }

    /// A page of a workspace's history, newest first.
    pub async fn events(&self, caller: &Caller, id: &str, page: &PageRequest) -> Result<Page<Event>, DomainError> {
        let workspace = self.get(caller, id).await?;
        Ok(self.store.events(&workspace.id, page).await?)
    }
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
