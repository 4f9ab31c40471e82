//! The local stack's workstations. moto runs no instances, so for every RUNNING local
//! workspace whose product serves JupyterLab, this starts what a real machine runs behind
//! its private address: the app (a real JupyterLab from the project's venv, with the
//! product's flags; or, in tests that do not need Jupyter, [`App::Echo`]), the agent's
//! guard ([`atelier_proxy::guard`], checking the gateway's signed identity) on a loopback
//! port, and the agent's app-readiness reconciler reporting `atelier:app:*` tags to moto's
//! EC2 as it does in AWS. [`LocalEndpoints`] tells the gateway where each guard listens.
//! A workspace that leaves RUNNING loses its machine (the app is killed).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use atelier_agent::{apps::AppsReconciler, reconcile::Reconciler, tags::Ec2Tags};
use atelier_domain::{
    State, UpstreamError, Workspace,
    apps::{AppEndpoints, Endpoint},
    kernel::PageRequest,
    workspaces::{WorkspaceFilter, WorkspaceStore},
};
use atelier_proxy::{
    guard::{GuardApp, GuardConfig},
    identity::GatewayPublicKey,
};
use tokio_util::sync::CancellationToken;

/// What serves JupyterLab on a local machine.
#[derive(Debug, Clone)]
pub enum App {
    /// `<venv>/bin/jupyter-lab`, as the products start it.
    Jupyter(PathBuf),
    /// An in-process stand-in: answers every HTTP request with what it received (JSON)
    /// and echoes WebSocket messages (authorisation tests).
    Echo,
}

struct Machine {
    instance: String,
    guard: String,
    shutdown: CancellationToken,
    _child: Option<tokio::process::Child>,
    readiness: AppsReconciler,
}

/// The local machines, by workspace id.
pub struct LocalMachines {
    app: App,
    key: GatewayPublicKey,
    ec2: aws_sdk_ec2::Client,
    machines: tokio::sync::Mutex<HashMap<String, Machine>>,
    /// instance id → the guard's loopback address.
    guards: Arc<Mutex<BTreeMap<String, String>>>,
    root: PathBuf,
}

impl LocalMachines {
    /// Machines serving `app`, whose guards trust `key`, reporting to moto's EC2 through `sdk`.
    pub fn new(app: App, key: GatewayPublicKey, sdk: &aws_config::SdkConfig) -> Self {
        let root = std::env::temp_dir().join(format!("atelier-machines-{}", std::process::id()));
        Self {
            app,
            key,
            ec2: aws_sdk_ec2::Client::new(sdk),
            machines: tokio::sync::Mutex::new(HashMap::new()),
            guards: Arc::default(),
            root,
        }
    }

    /// Where the gateway finds these machines: the guard's loopback address, readiness
    /// from moto's tags through `ec2`.
    pub fn endpoints(&self, ec2: Arc<dyn AppEndpoints>) -> Arc<LocalEndpoints> {
        Arc::new(LocalEndpoints { guards: self.guards.clone(), ec2 })
    }

    /// Brings the machines in line with the RUNNING workspaces in `store`, then runs each
    /// one's readiness reconciler once.
    pub async fn reconcile(&self, store: &dyn WorkspaceStore) -> Result<(), String> {
        let running = running(store).await?;
        let mut machines = self.machines.lock().await;
        let gone: Vec<String> =
            machines.keys().filter(|id| !running.iter().any(|w| w.id.as_str() == id.as_str())).cloned().collect();
        for id in gone {
            if let Some(machine) = machines.remove(&id) {
                machine.shutdown.cancel();
                self.guards.lock().expect("guards lock").remove(&machine.instance);
                tracing::info!(workspace = %id, "local machine stopped");
            }
        }
        for workspace in &running {
            let (Some(instance), false) =
                (&workspace.provisioned.instance_id, machines.contains_key(workspace.id.as_str()))
            else {
                continue;
            };
            match self.start(workspace, instance).await {
                Ok(machine) => {
                    self.guards.lock().expect("guards lock").insert(instance.clone(), machine.guard.clone());
                    machines.insert(workspace.id.to_string(), machine);
                }
                Err(e) => tracing::warn!(workspace = %workspace.id, error = %e, "local machine did not start"),
            }
        }
        for (id, machine) in machines.iter_mut() {
            if let Err(e) = machine.readiness.reconcile().await {
                tracing::warn!(workspace = %id, error = %e, "app readiness not reported");
            }
        }
        Ok(())
    }

    async fn start(&self, workspace: &Workspace, instance: &str) -> Result<Machine, String> {
        let (port, child) = match &self.app {
            App::Jupyter(venv) => {
                let port = free_port().await?;
                (port, Some(self.jupyter(venv, workspace, port)?))
            }
            App::Echo => (echo_app().await?, None),
        };
        let apps = vec![GuardApp { name: "jupyterlab".into(), port, strip_prefix: false }];
        let config = GuardConfig {
            workspace_id: workspace.id.to_string(),
            key: self.key.clone(),
            apps: apps.clone(),
            app_host: "127.0.0.1".into(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
        let guard = listener.local_addr().map_err(|e| e.to_string())?.to_string();
        let shutdown = CancellationToken::new();
        tokio::spawn(atelier_proxy::guard::serve(listener, config, shutdown.clone()));
        let tags = || Box::new(Ec2Tags::new(self.ec2.clone(), instance));
        let readiness = AppsReconciler::new(apps, Some(workspace.id.to_string()), tags(), tags());
        tracing::info!(workspace = %workspace.id, guard, app_port = port, "local machine started");
        Ok(Machine { instance: instance.to_owned(), guard, shutdown, _child: child, readiness })
    }

    fn jupyter(
        &self,
        venv: &std::path::Path,
        workspace: &Workspace,
        port: u16,
    ) -> Result<tokio::process::Child, String> {
        let dir = self.root.join(workspace.id.as_str());
        // The scientist's files in `home`, the app's log and state beside it, out of sight.
        let home = dir.join("home");
        std::fs::create_dir_all(&home).map_err(|e| format!("{}: {e}", home.display()))?;
        let log = std::fs::File::create(dir.join("jupyterlab.log")).map_err(|e| e.to_string())?;
        tokio::process::Command::new(venv.join("bin/jupyter-lab"))
            .args(["--no-browser", "--ip=127.0.0.1", &format!("--port={port}")])
            .arg(format!("--ServerApp.base_url=/w/{}/jupyterlab/", workspace.id))
            .args(["--IdentityProvider.token=", "--ServerApp.password=", "--ServerApp.allow_remote_access=True"])
            // Development machines and CI often run as root, which JupyterLab refuses otherwise.
            .arg("--ServerApp.allow_root=True")
            .arg(format!("--ServerApp.root_dir={}", home.display()))
            .env("JUPYTER_CONFIG_DIR", dir.join(".jupyter"))
            .env("JUPYTER_DATA_DIR", dir.join(".local"))
            .env("JUPYTER_RUNTIME_DIR", dir.join(".runtime"))
            .env("IPYTHONDIR", dir.join(".ipython"))
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e} (run `make venv`)", venv.join("bin/jupyter-lab").display()))
    }
}

async fn running(store: &dyn WorkspaceStore) -> Result<Vec<Workspace>, String> {
    let mut all = Vec::new();
    let mut page = PageRequest::first(100);
    loop {
        let got = store.list(&WorkspaceFilter::State(State::Running), &page).await.map_err(|e| e.to_string())?;
        all.extend(got.items);
        match got.next_token {
            Some(token) => page = PageRequest { token: Some(token), ..page },
            None => return Ok(all),
        }
    }
}

async fn free_port() -> Result<u16, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

/// The echo stand-in on a loopback port (see [`App::Echo`]).
async fn echo_app() -> Result<u16, String> {
    use axum::extract::{
        Request,
        ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection},
    };
    async fn answer(
        ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
        request: Request,
    ) -> axum::response::Response {
        use axum::response::IntoResponse;
        if let Ok(ws) = ws {
            return ws
                .on_upgrade(|mut socket| async move {
                    while let Some(Ok(message)) = socket.recv().await {
                        if socket.send(message).await.is_err() {
                            break;
                        }
                    }
                })
                .into_response();
        }
        let headers: BTreeMap<String, String> = request
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        axum::Json(serde_json::json!({ "path": request.uri().path(), "headers": headers })).into_response()
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    tokio::spawn(async move { axum::serve(listener, axum::Router::new().fallback(answer)).await });
    Ok(port)
}

/// [`AppEndpoints`] for the local machines: a workspace's guard on its loopback port, the
/// readiness its reconciler reported to moto's EC2.
pub struct LocalEndpoints {
    guards: Arc<Mutex<BTreeMap<String, String>>>,
    ec2: Arc<dyn AppEndpoints>,
}

#[async_trait]
impl AppEndpoints for LocalEndpoints {
    async fn endpoint(&self, instance_id: &str) -> Result<Option<Endpoint>, UpstreamError> {
        let Some(found) = self.ec2.endpoint(instance_id).await? else { return Ok(None) };
        let guard = self.guards.lock().expect("guards lock").get(instance_id).cloned();
        Ok(guard.map(|upstream| Endpoint { upstream, ready: found.ready }))
    }
}
