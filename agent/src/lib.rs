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
//! instant it was mounted. Later ones (activity, app readiness) are added to the same list
//! in [`setup`].
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
//! | `AWS_REGION`, `AWS_ENDPOINT_URL`, … | SDK defaults | the standard AWS settings (region and credentials from the instance profile on EC2) |
//! | `RUST_LOG` | `info` | log filter |
//!
//! A bad value stops the agent with an error naming the variable.
//!
//! # Running
//!
//! `atelier-agent` loops until SIGTERM or SIGINT; `atelier-agent --once` runs each reconciler
//! once, prints a JSON summary of what it did on standard output and exits 1 if any failed.
//! Logs are JSON lines on standard error (fields `reconciler`, `dataset`, `action`, `path`,
//! `error`).
//!
//! **Stopping leaves the mounts in place.** SIGTERM ends the loop after the pass under way;
//! nothing is unmounted, so restarting or upgrading the agent never cuts a scientist's open
//! files. The next start finds the mounts in `/proc/self/mountinfo`, adopts them, and keeps
//! the instants already reported. The unit must say `KillMode=process`: Mountpoint's
//! background processes live in the agent's control group, and systemd's default would
//! kill them (and so the mounts) with it.

// Production functions stay under 80 lines (clippy.toml); tests may be longer.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]
// Every public item says what it is for.
#![warn(missing_docs)]

pub mod config;
pub mod dataset;
pub mod mounts;
pub mod reconcile;
pub mod setup;
pub mod tags;
