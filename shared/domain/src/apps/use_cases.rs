//! The app use cases: what the API lists, the break-glass grant, and the gateway's
//! authorization of each session.

use std::sync::Arc;

use jiff::Timestamp;

use super::{AppAccessStore, AppEndpoints, AppName, BREAK_GLASS_DURATION, BreakGlass, MAX_REASON_CHARS, Standings};
use crate::catalog::Catalog;
use crate::kernel::{Caller, DomainError, Role, WorkspaceId};
use crate::workspaces::{
    Actor, Connection, Event, EventAction, State, Via, Workspace, WorkspaceStore, use_cases::visible_workspace,
};

/// The ports the app use cases run on.
#[derive(Clone)]
pub struct Apps {
    /// The workspaces (owner, state, instance).
    pub store: Arc<dyn WorkspaceStore>,
    /// Which apps each product declares.
    pub catalog: Arc<dyn Catalog>,
    /// Where machines are and which of their apps answer.
    pub endpoints: Arc<dyn AppEndpoints>,
    /// Break-glass grants and connection events.
    pub access: Arc<dyn AppAccessStore>,
    /// Whether a person still stands in the directory.
    pub standings: Arc<dyn Standings>,
    /// The gateway's base URL (`https://workspaces.example.org`); an app opens at
    /// `<gateway>/w/<workspace id>/<app>/`.
    pub gateway_url: String,
}

/// One app of a workspace, as the API lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppLink {
    /// Which app.
    pub app: AppName,
    /// Where it opens, through the gateway.
    pub url: String,
    /// True when the workspace is RUNNING and its agent reports the app answering.
    pub ready: bool,
}

/// What the gateway may connect a caller to, and on what grounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// The app.
    pub app: AppName,
    /// `host:port` of the workspace's guard.
    pub upstream: String,
    /// Owner, or admin under break-glass.
    pub via: Via,
}

/// Why a break-glass grant is asked, checked.
fn reason(value: &str) -> Result<String, DomainError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > MAX_REASON_CHARS || value.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            "reason",
            format!("must say why, in 1 to {MAX_REASON_CHARS} characters without control characters"),
        ));
    }
    Ok(value.to_owned())
}

impl Apps {
    /// The apps of workspace `id` (its owner, admins), each with its gateway URL and
    /// whether it answers now.
    pub async fn list(&self, caller: &Caller, id: &str) -> Result<Vec<AppLink>, DomainError> {
        let workspace = visible_workspace(self.store.as_ref(), caller, id).await?;
        let apps = self.declared(&workspace).await?;
        let ready = match (&workspace.state, &workspace.provisioned.instance_id) {
            (State::Running, Some(instance)) => self.endpoints.endpoint(instance).await?.map(|e| e.ready),
            _ => None,
        }
        .unwrap_or_default();
        Ok(apps
            .into_iter()
            .map(|app| AppLink {
                url: format!("{}/w/{}/{app}/", self.gateway_url.trim_end_matches('/'), workspace.id),
                ready: ready.get(app.as_str()).copied().unwrap_or(false),
                app,
            })
            .collect())
    }

    /// The apps `workspace`'s product declares (none when the product was removed).
    async fn declared(&self, workspace: &Workspace) -> Result<Vec<AppName>, DomainError> {
        Ok(self.catalog.product(&workspace.product_id).await?.map(|p| p.apps).unwrap_or_default())
    }

    /// Grants admin `caller` access to workspace `id`'s apps for [`BREAK_GLASS_DURATION`],
    /// recorded in its history with `why`. Anyone else: Forbidden.
    pub async fn break_glass(
        &self,
        caller: &Caller,
        id: &str,
        why: &str,
        now: Timestamp,
    ) -> Result<BreakGlass, DomainError> {
        if !caller.has(Role::Admin) {
            return Err(DomainError::Forbidden("break-glass access is for admins".into()));
        }
        let why = reason(why)?;
        let workspace = visible_workspace(self.store.as_ref(), caller, id).await?;
        let grant = BreakGlass {
            workspace_id: workspace.id.clone(),
            sub: caller.sub.clone(),
            username: caller.username.clone(),
            reason: why.clone(),
            granted_at: now,
            expires_at: now + BREAK_GLASS_DURATION,
        };
        let event = Event {
            at: now,
            actor: Actor::user(&caller.username),
            action: EventAction::BreakGlass,
            from: Some(workspace.state),
            to: workspace.state,
            reason: Some(why),
            connection: None,
            instance: None,
        };
        self.access.grant(&grant, &event).await.map_err(|e| match e {
            crate::kernel::StoreError::Conflict => DomainError::NotFound { kind: "workspace" },
            other => other.into(),
        })?;
        Ok(grant)
    }

    /// Whether `caller` may use `app` on workspace `id` at `now`, and where it is. Asked
    /// when a session opens and again at least every [`super::RECHECK`] while it lasts.
    ///
    /// NotFound unless the caller is the owner (by `sub`) or an admin with a live grant,
    /// and the product declares the app; Forbidden once the directory no longer has the
    /// caller as they were (disabled, deleted, recreated, or no longer an admin for a
    /// break-glass session); Unprocessable on `state` while the workspace or its machine is
    /// not running.
    pub async fn authorize(&self, caller: &Caller, id: &str, app: &str, now: Timestamp) -> Result<Target, DomainError> {
        let not_found = || DomainError::NotFound { kind: "workspace" };
        let id = WorkspaceId::parse(id).map_err(|_| not_found())?;
        let workspace = self.store.get(&id).await?.ok_or_else(not_found)?;
        let via = self.grounds(caller, &workspace, now).await?;
        let app = AppName::parse("app", app).map_err(|_| DomainError::NotFound { kind: "app" })?;
        if !self.declared(&workspace).await?.contains(&app) {
            return Err(DomainError::NotFound { kind: "app" });
        }
        let not_running = |what: &str| DomainError::Unprocessable {
            field: "state".into(),
            message: format!("{what}; start the workspace from the portal, then open the app again"),
        };
        if workspace.state != State::Running {
            return Err(not_running(&format!("the workspace is {}", workspace.state)));
        }
        let instance =
            workspace.provisioned.instance_id.as_deref().ok_or_else(|| not_running("the workspace has no machine"))?;
        let endpoint =
            self.endpoints.endpoint(instance).await?.ok_or_else(|| not_running("its machine is not running"))?;
        Ok(Target { workspace_id: workspace.id, app, upstream: endpoint.upstream, via })
    }

    /// On what grounds `caller` reaches `workspace`, checked against the directory now.
    async fn grounds(&self, caller: &Caller, workspace: &Workspace, now: Timestamp) -> Result<Via, DomainError> {
        let via = if workspace.owner.sub == caller.sub {
            Via::Owner
        } else if caller.is_admin() && self.access.live_grant(&workspace.id, &caller.sub, now).await?.is_some() {
            Via::BreakGlass
        } else {
            return Err(DomainError::NotFound { kind: "workspace" });
        };
        let standing = self.standings.standing(&caller.username).await?;
        if !standing.active || standing.sub.as_deref() != Some(caller.sub.as_str()) {
            return Err(DomainError::Forbidden("this account is disabled or no longer exists".into()));
        }
        let still_admin = standing.groups.iter().any(|g| Role::from_group(g) == Some(Role::Admin));
        if via == Via::BreakGlass && !still_admin {
            return Err(DomainError::Forbidden("break-glass access needs the admins group".into()));
        }
        Ok(via)
    }

    /// Records that `caller` opened (`started_at` is `None`) or closed a session on
    /// `target`, in the workspace's history; `reason` says why a session closed.
    pub async fn record(
        &self,
        caller: &Caller,
        target: &Target,
        connection: Connection,
        reason: Option<String>,
        now: Timestamp,
    ) -> Result<(), DomainError> {
        let workspace =
            self.store.get(&target.workspace_id).await?.ok_or(DomainError::NotFound { kind: "workspace" })?;
        let (action, suffix) = if connection.started_at.is_some() {
            (EventAction::Disconnect, "end")
        } else {
            (EventAction::Connect, "start")
        };
        let key = format!("{}#{suffix}", connection.session);
        let event = Event {
            at: now,
            actor: Actor::user(&caller.username),
            action,
            from: Some(workspace.state),
            to: workspace.state,
            reason,
            connection: Some(connection),
            instance: None,
        };
        Ok(self.access.record(&target.workspace_id, &key, &event).await?)
    }
}
