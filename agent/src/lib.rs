//! The workspace agent: the one Atelier process on a workstation. It runs as root under
//! systemd (`atelier-agent.service`), installed by the product's user data, and brings the
//! machine to what the control plane asked for through the instance's tags
//! ([ADR 0008](../../docs/adr/0008-workspace-agent.md)).
//!
//! # Shape
//!
//! A loop ([`reconcile::Agent`]) runs a list of small [`reconcile::Reconciler`]s every
//! interval, one after the other; a reconciler that fails is logged and the others still run.
//! Each is testable alone: its inputs and effects are behind traits. The first one is
//! [`mounts::MountsReconciler`]: every attached dataset (tag `atelier:dataset:<id>` =
//! `s3://<bucket>/<prefix>/`) mounted read-only at `<data root>/<id>` with Mountpoint for
//! Amazon S3, unmounted on detach, and reported in the tag `atelier:mounted:<id>` = the
//! instant it was mounted. The second is [`apps::AppsReconciler`]: each app (JupyterLab,
//! RStudio Server) probed with an HTTP `GET` on `127.0.0.1:<port>` and reported in the tag
//! `atelier:app:<app>` = `ready` | `down` (written only when it changes). Later ones
//! (activity) are added to the same list in [`setup`].
//!
//! Next to the loop runs the **workspace guard** ([`atelier_proxy::guard`]): the only port
//! the workstation opens (8443, to the gateway's security group), serving
//! `/w/<workspace id>/<app>/…` (WebSockets included) to the apps on `127.0.0.1`, and only
//! for a request that carries the gateway's signed assertion for this workspace and app.
//!
//! # Configuration (environment variables)
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `ATELIER_AGENT_DATA_ROOT` | `/data` | absolute directory the datasets are mounted under (not `/`) |
//! | `ATELIER_AGENT_INTERVAL_SECONDS` | `30` | seconds between two passes (1 to 86400) |
//! | `ATELIER_AGENT_TAGS_FROM` | `imds` | `imds`: instance metadata tags (IMDSv2); `ec2`: EC2 `DescribeTags` |
//! | `ATELIER_AGENT_INSTANCE_ID` | from IMDS | the instance's id (`i-…`), instead of `/latest/meta-data/instance-id` |
//! | `ATELIER_AGENT_MOUNT_COMMAND` | `mount-s3` | the Mountpoint for Amazon S3 command |
//! | `ATELIER_AGENT_GUARD_BIND` | `0.0.0.0:8443` | where the guard listens (`<ip>:<port>`); `off`: no guard |
//! | `ATELIER_AGENT_GATEWAY_KEY_FILE` | `/etc/atelier/gateway.pub` | the gateway's Ed25519 public key (SPKI PEM) the guard verifies with |
//! | `ATELIER_AGENT_APPS` | `jupyterlab=8888,rstudio=8787` | the apps on 127.0.0.1, `<app>=<port>,…` (`rstudio` is served with its prefix stripped); `off`: none |
//! | `ATELIER_AGENT_WORKSPACE_ID` | the `atelier:workspace` tag | the workspace id in the apps' paths and the assertions' audience |
//! | `AWS_REGION`, `AWS_ENDPOINT_URL`, … | SDK defaults | the standard AWS settings (region and credentials from the instance profile on EC2) |
//! | `RUST_LOG` | `info` | log filter |
//!
//! A bad value stops the agent with an error naming the variable.
//!
//! # Running
//!
//! `atelier-agent` loops (and serves the guard) until SIGTERM or SIGINT; `atelier-agent
//! --once` runs each reconciler once, prints a JSON summary of what it did on standard
//! output and exits 1 if any failed (no guard). With the guard on, the agent does not start
//! without a readable gateway key and a workspace id. Logs are JSON lines on standard
//! error (fields `reconciler`, `dataset`, `app`, `action`, `path`, `error`).
//!
//! **Stopping leaves the mounts in place.** SIGTERM ends the loop after the pass under way
//! and stops the guard (its open WebSocket tunnels are closed, requests under way get 10 s);
//! nothing is unmounted, so restarting or upgrading the agent never cuts a scientist's open
//! files. The next start finds the mounts in `/proc/self/mountinfo`, adopts them, and keeps
//! the instants already reported. The unit must say `KillMode=process`: Mountpoint's
//! background processes live in the agent's control group, and systemd's default would
//! kill them (and so the mounts) with it.

// Production functions stay under 80 lines (clippy.toml); tests may be longer.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]
// Every public item says what it is for.
#![warn(missing_docs)]

pub mod apps;
pub mod config;
pub mod dataset;
pub mod mounts;
pub mod reconcile;
pub mod setup;
pub mod tags;
