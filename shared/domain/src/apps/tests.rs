//! The app use cases on the doubles: who may open what, on what grounds, and what the
//! history keeps of it.

use std::sync::Arc;

use jiff::Timestamp;

use super::{Apps, BREAK_GLASS_DURATION, Connection, Via};
use crate::kernel::{Caller, DomainError, PageRequest};
use crate::testing::{FakeDirectory, FakeEc2, MemoryStore, ProductBuilder, WorkspaceBuilder};
use crate::workspaces::{EventAction, State, Workspace, WorkspaceStore};

struct World {
    store: Arc<MemoryStore>,
    directory: Arc<FakeDirectory>,
    ec2: Arc<FakeEc2>,
    apps: Apps,
}

fn world() -> World {
    let store = Arc::new(MemoryStore::new());
    let directory = Arc::new(FakeDirectory::default());
    let ec2 = Arc::new(FakeEc2::default());
    store.put_product(ProductBuilder::new("small-t3-large").apps(&["jupyterlab", "rstudio"]).build());
    for (user, groups) in [("alice", &["scientists"][..]), ("bob", &["scientists"]), ("ada", &["admins"])] {
        directory.set_groups(user, groups);
    }
    let apps = Apps {
        store: store.clone(),
        catalog: store.clone(),
        endpoints: ec2.clone(),
        access: store.clone(),
        standings: directory.clone(),
        gateway_url: "https://workspaces.example.org/".into(),
    };
    World { store, directory, ec2, apps }
}

fn at(s: &str) -> Timestamp {
    s.parse().expect("an RFC 3339 instant")
}

fn caller(username: &str, groups: &[&str]) -> Caller {
    Caller {
        sub: format!("sub-{username}"),
        username: username.into(),
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
    }
}

fn alice() -> Caller {
    caller("alice", &["scientists"])
}

fn ada() -> Caller {
    caller("ada", &["admins"])
}

const NOW: &str = "2026-12-01T10:00:00Z";

impl World {
    /// Alice's running workspace on `i-1`, whose agent reports JupyterLab answering.
    fn running(&self) -> Workspace {
        let workspace = WorkspaceBuilder::new().owner("alice").state(State::Running).instance("i-1").build();
        self.store.put_workspace(workspace.clone());
        self.ec2.set("i-1", crate::workspaces::InstanceState::Running);
        self.ec2.report_app("i-1", "jupyterlab", true);
        workspace
    }

    async fn authorize(&self, who: &Caller, workspace: &Workspace, app: &str) -> Result<super::Target, DomainError> {
        self.apps.authorize(who, workspace.id.as_str(), app, at(NOW)).await
    }
}

fn not_found(result: &Result<super::Target, DomainError>) -> bool {
    matches!(result, Err(DomainError::NotFound { .. }))
}

#[tokio::test]
async fn the_owner_lists_each_declared_app_with_its_url_and_readiness() {
    let w = world();
    let workspace = w.running();
    let links = w.apps.list(&alice(), workspace.id.as_str()).await.expect("listed");
    let shown: Vec<_> = links.iter().map(|l| (l.app.as_str(), l.url.as_str(), l.ready)).collect();
    let base = format!("https://workspaces.example.org/w/{}", workspace.id);
    assert_eq!(
        shown,
        [
            ("jupyterlab", format!("{base}/jupyterlab/").as_str(), true),
            ("rstudio", format!("{base}/rstudio/").as_str(), false)
        ]
    );
    let bob = caller("bob", &["scientists"]);
    assert!(matches!(w.apps.list(&bob, workspace.id.as_str()).await, Err(DomainError::NotFound { .. })));
    assert_eq!(w.apps.list(&ada(), workspace.id.as_str()).await.expect("admins list").len(), 2);
}

#[tokio::test]
async fn a_stopped_workspace_lists_no_app_as_ready() {
    let w = world();
    let mut workspace = w.running();
    workspace.state = State::Stopped;
    w.store.put_workspace(workspace.clone());
    let links = w.apps.list(&alice(), workspace.id.as_str()).await.expect("listed");
    assert!(links.iter().all(|l| !l.ready));
}

#[tokio::test]
async fn only_the_owner_by_sub_is_let_in_without_a_grant() {
    let w = world();
    let workspace = w.running();
    let target = w.authorize(&alice(), &workspace, "jupyterlab").await.expect("the owner");
    assert_eq!((target.via, target.upstream.as_str()), (Via::Owner, "i-1:8443"));
    assert!(not_found(&w.authorize(&caller("bob", &["scientists"]), &workspace, "jupyterlab").await));
    assert!(not_found(&w.authorize(&caller("finance", &["finance"]), &workspace, "jupyterlab").await));
    assert!(not_found(&w.authorize(&ada(), &workspace, "jupyterlab").await), "admins need break-glass");
    // Another person who got the username `alice` (deleted and recreated) has another sub.
    let newcomer = Caller { sub: "sub-new-alice".into(), ..alice() };
    assert!(not_found(&w.authorize(&newcomer, &workspace, "jupyterlab").await));
}

#[tokio::test]
async fn an_undeclared_or_malformed_app_or_workspace_is_not_found() {
    let w = world();
    let workspace = w.running();
    for app in ["vscode", "JupyterLab", "", "../x"] {
        assert!(not_found(&w.authorize(&alice(), &workspace, app).await), "{app:?}");
    }
    for id in ["ws-nope", "../../etc", ""] {
        assert!(not_found(&w.apps.authorize(&alice(), id, "jupyterlab", at(NOW)).await), "{id:?}");
    }
}

#[tokio::test]
async fn a_workspace_or_machine_that_is_not_running_is_refused_on_state() {
    let w = world();
    let mut workspace = w.running();
    w.ec2.set("i-1", crate::workspaces::InstanceState::Stopped);
    let refused = w.authorize(&alice(), &workspace, "jupyterlab").await;
    assert!(matches!(refused, Err(DomainError::Unprocessable { ref field, .. }) if field == "state"), "{refused:?}");
    workspace.state = State::Stopped;
    w.store.put_workspace(workspace.clone());
    let refused = w.authorize(&alice(), &workspace, "jupyterlab").await;
    assert!(
        matches!(refused, Err(DomainError::Unprocessable { ref message, .. }) if message.contains("STOPPED")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_disabled_or_deleted_owner_loses_access_at_the_next_check() {
    let w = world();
    let workspace = w.running();
    w.directory.disable("alice");
    assert!(matches!(w.authorize(&alice(), &workspace, "jupyterlab").await, Err(DomainError::Forbidden(_))));
    w.directory.forget("alice");
    assert!(matches!(w.authorize(&alice(), &workspace, "jupyterlab").await, Err(DomainError::Forbidden(_))));
}

#[tokio::test]
async fn break_glass_lets_an_admin_in_for_an_hour_and_is_in_the_history() {
    let w = world();
    let workspace = w.running();
    let grant = w.apps.break_glass(&ada(), workspace.id.as_str(), "  ticket INC-42: kernel hangs  ", at(NOW)).await;
    let grant = grant.expect("granted");
    assert_eq!(
        (grant.reason.as_str(), grant.expires_at),
        ("ticket INC-42: kernel hangs", at(NOW) + BREAK_GLASS_DURATION)
    );
    assert_eq!(w.authorize(&ada(), &workspace, "jupyterlab").await.expect("under break-glass").via, Via::BreakGlass);
    let later = at(NOW) + BREAK_GLASS_DURATION;
    assert!(not_found(&w.apps.authorize(&ada(), workspace.id.as_str(), "jupyterlab", later).await), "expired");
    let events = w.store.events(&workspace.id, &PageRequest::first(10)).await.expect("history").items;
    let event = events.iter().find(|e| e.action == EventAction::BreakGlass).expect("a break-glass event");
    assert_eq!((event.actor.0.as_str(), event.reason.as_deref()), ("ada", Some("ticket INC-42: kernel hangs")));
    assert_eq!((event.from, event.to), (Some(State::Running), State::Running));
}

#[tokio::test]
async fn break_glass_is_for_admins_with_a_reason_and_ends_with_their_role() {
    let w = world();
    let workspace = w.running();
    let bob = caller("bob", &["scientists"]);
    assert!(matches!(
        w.apps.break_glass(&bob, workspace.id.as_str(), "curious", at(NOW)).await,
        Err(DomainError::Forbidden(_))
    ));
    for reason in ["", "   ", "a\u{7}b", &"x".repeat(501)] {
        let refused = w.apps.break_glass(&ada(), workspace.id.as_str(), reason, at(NOW)).await;
        assert!(matches!(refused, Err(DomainError::Invalid { ref field, .. }) if field == "reason"), "{reason:?}");
    }
    let refused = w.apps.break_glass(&ada(), "ws-unknown", "INC-1", at(NOW)).await;
    assert!(matches!(refused, Err(DomainError::NotFound { .. })));
    w.apps.break_glass(&ada(), workspace.id.as_str(), "INC-1", at(NOW)).await.expect("granted");
    w.directory.set_groups("ada", &["scientists"]);
    let refused = w.authorize(&ada(), &workspace, "jupyterlab").await;
    assert!(matches!(refused, Err(DomainError::Forbidden(_))), "removed from admins: {refused:?}");
}

#[tokio::test]
async fn a_session_is_one_connect_and_one_disconnect_event_written_once() {
    let w = world();
    let workspace = w.running();
    let target = w.authorize(&alice(), &workspace, "jupyterlab").await.expect("the owner");
    let opened = Connection {
        app: "jupyterlab".into(),
        session: "s-1".into(),
        source: Some("10.1.2.3".into()),
        via: Via::Owner,
        started_at: None,
    };
    for _ in 0..2 {
        w.apps.record(&alice(), &target, opened.clone(), None, at(NOW)).await.expect("recorded");
    }
    let closed = Connection { started_at: Some(at(NOW)), ..opened.clone() };
    let end = at("2026-12-01T11:00:00Z");
    w.apps.record(&alice(), &target, closed, Some("signed out".into()), end).await.expect("recorded");
    let events = w.store.events(&workspace.id, &PageRequest::first(10)).await.expect("history").items;
    let actions: Vec<_> = events.iter().map(|e| e.action).collect();
    assert_eq!(actions, [EventAction::Disconnect, EventAction::Connect]);
    assert_eq!(events[1].connection.as_ref(), Some(&opened));
    assert_eq!(events[0].reason.as_deref(), Some("signed out"));
    assert_eq!(events[0].connection.as_ref().and_then(|c| c.started_at), Some(at(NOW)));
}
