//! App readiness: whether JupyterLab and RStudio Server answer on the machine, reported in
//! the tags `atelier:app:<app>` = `ready` | `down`, so that the portal offers "open" only
//! when opening would work.
//!
//! Each pass reads the instance's tags once, probes every configured app with an HTTP `GET`
//! on `127.0.0.1:<port>` (JupyterLab: `/w/<workspace id>/jupyterlab/api/status`, under its
//! base URL; others: `/`), 2 s each, and counts any answer below 500 as ready (a 302 to a
//! login page or a 403 without a token is an app that serves). The tags that differ from
//! what was read are written in one `CreateTags`; a steady state writes nothing.
//!
//! The probes go to the app itself, not through the guard: readiness is the app's, and the
//! guard refuses whoever has no gateway assertion, the agent included.

use std::time::Duration;

use async_trait::async_trait;
use atelier_proxy::guard::GuardApp;
use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};

use crate::{
    reconcile::{Action, ActionKind, Outcome, ReconcileError, Reconciler},
    tags::{TagSource, TagWriter, Tags},
};

/// The report of one app: `atelier:app:<app>`.
pub const APP_TAG_PREFIX: &str = "atelier:app:";
/// The instance's workspace id, written by the control plane at launch.
pub const WORKSPACE_TAG: &str = "atelier:workspace";
/// The report of an app that answered.
pub const READY: &str = "ready";
/// The report of an app that did not (or answered 5xx).
pub const DOWN: &str = "down";
/// How long a probe waits for an answer.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The tag that reports `app`: `atelier:app:<app>`.
pub fn report_tag(app: &str) -> String {
    format!("{APP_TAG_PREFIX}{app}")
}

/// The path probed for `app`: JupyterLab's status API under its base URL
/// (`/w/<workspace id>/jupyterlab/api/status`), `/` for the others.
pub fn probe_path(app: &str, workspace_id: &str) -> String {
    match app {
        "jupyterlab" => format!("/w/{workspace_id}/jupyterlab/api/status"),
        _ => "/".to_owned(),
    }
}

/// Asks whether an app answers.
#[async_trait]
pub trait AppProbe: Send + Sync {
    /// True when `GET <path>` on the app's `port` gets an HTTP answer below 500 in time.
    async fn ready(&self, port: u16, path: &str) -> bool;
}

/// [`AppProbe`] over HTTP/1.1 to `host` (`127.0.0.1` on a workstation), [`PROBE_TIMEOUT`] per probe.
#[derive(Debug, Clone)]
pub struct HttpProbe {
    client: Client<HttpConnector, Empty<Bytes>>,
    host: String,
    timeout: Duration,
}

impl HttpProbe {
    /// Probes the apps listening on `host`.
    pub fn new(host: &str) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(PROBE_TIMEOUT));
        Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            host: host.to_owned(),
            timeout: PROBE_TIMEOUT,
        }
    }
}

#[async_trait]
impl AppProbe for HttpProbe {
    async fn ready(&self, port: u16, path: &str) -> bool {
        let Ok(uri) = format!("http://{}:{port}{path}", self.host).parse::<http::Uri>() else { return false };
        let answer = tokio::time::timeout(self.timeout, self.client.get(uri)).await;
        match answer {
            Ok(Ok(response)) => response.status().as_u16() < 500,
            Ok(Err(error)) => {
                tracing::debug!(port, path, error = %error, "probe: no answer");
                false
            }
            Err(_) => false,
        }
    }
}

/// Reports whether each app answers in its `atelier:app:<app>` tag.
pub struct AppsReconciler {
    apps: Vec<GuardApp>,
    workspace_id: Option<String>,
    source: Box<dyn TagSource>,
    writer: Box<dyn TagWriter>,
    probe: Box<dyn AppProbe>,
}

impl AppsReconciler {
    /// Probes `apps` on 127.0.0.1 ([`HttpProbe`]), reads the current reports from `source`
    /// and writes the changed ones with `writer`. `workspace_id` is the one in JupyterLab's
    /// base URL; `None`: taken from the `atelier:workspace` tag on each pass (JupyterLab is
    /// skipped while it is absent).
    pub fn new(
        apps: Vec<GuardApp>,
        workspace_id: Option<String>,
        source: Box<dyn TagSource>,
        writer: Box<dyn TagWriter>,
    ) -> Self {
        Self { apps, workspace_id, source, writer, probe: Box::new(HttpProbe::new("127.0.0.1")) }
    }

    /// The same, probing with `probe` (tests; an app host other than 127.0.0.1).
    pub fn with_probe(mut self, probe: Box<dyn AppProbe>) -> Self {
        self.probe = probe;
        self
    }
}

fn app_step(action: ActionKind, app: &str, error: Option<String>) -> Action {
    Action { action, dataset: None, app: Some(app.to_owned()), path: None, error }
}

#[async_trait]
impl Reconciler for AppsReconciler {
    fn name(&self) -> &'static str {
        "apps"
    }

    async fn reconcile(&mut self) -> Result<Outcome, ReconcileError> {
        let tags = self.source.read().await.map_err(ReconcileError::new)?;
        let workspace_id = self.workspace_id.clone().or_else(|| tags.get(WORKSPACE_TAG).cloned());
        let mut actions = Vec::new();
        let mut changed = Tags::new();
        for app in &self.apps {
            let path = match (&workspace_id, app.name.as_str()) {
                (None, "jupyterlab") => {
                    let error = format!(
                        "no workspace id for its base URL (tag {WORKSPACE_TAG} absent, ATELIER_AGENT_WORKSPACE_ID unset)"
                    );
                    actions.push(app_step(ActionKind::Skip, &app.name, Some(error)));
                    continue;
                }
                (id, name) => probe_path(name, id.as_deref().unwrap_or_default()),
            };
            let state = if self.probe.ready(app.port, &path).await { READY } else { DOWN };
            let key = report_tag(&app.name);
            if tags.get(&key).map(String::as_str) != Some(state) {
                changed.insert(key, state.to_owned());
            }
        }
        if changed.is_empty() {
            return Ok(Outcome { actions });
        }
        let error = self.writer.put(&changed).await.err().map(|e| e.to_string());
        for (key, state) in &changed {
            let kind = if state == READY { ActionKind::Ready } else { ActionKind::Down };
            actions.push(app_step(kind, key.strip_prefix(APP_TAG_PREFIX).unwrap_or(key), error.clone()));
        }
        Ok(Outcome { actions })
    }
}

#[cfg(test)]
mod tests;
