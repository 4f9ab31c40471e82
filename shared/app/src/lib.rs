//! The composition root: settings → adapters → use cases → routers and jobs, in one place.
//! Every Lambda `main.rs`, the dev server and the tests build their product here, so the
//! tests run exactly the wiring that is deployed.
//!
//! - [`settings`]: the variables each function reads, declared once, read once.
//! - [`Root`]: the adapters (built on first use and shared), the use cases and the jobs on
//!   them, with [`Overrides`] for tests that inject a faulty port.
//! - `Root::workspaces_api`, `Root::catalog_api`: the routers the API functions serve;
//!   `Root::api`: both, as API Gateway routes them (feature `web`).
//! - [`job`]: the runner of the scheduled functions (feature `job`).
//!
//! Cargo features, one per function (`workspaces-api`, `catalog-api`, `state-sync`,
//! `scheduler`, `cost-actuals`, and `gateway` for the gateway service), enable only the
//! adapters that function needs, so each binary links only its SDK crates; `all` is for the
//! dev server, the tests and benchmarks.

// Production functions stay under 80 lines (clippy.toml); tests may be longer.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]
// Every public item says what it is for; rustdoc is the reference for the other crates.
#![warn(missing_docs)]

#[cfg(any(feature = "workspaces-api", feature = "catalog-api"))]
mod api;
#[cfg(feature = "job")]
pub mod job;
mod root;
pub mod settings;

pub use root::{Overrides, Root};
pub use settings::{Function, Settings, SettingsError};

/// Why a function could not start.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The root of `function`, configured from the environment: its settings, and the AWS
/// configuration Lambda gives it (region and credentials in variables).
pub fn from_env(function: &Function) -> Result<Root, Error> {
    let settings = Settings::from_env(function)?;
    let sdk = atelier_adapters::lambda_config::from_env(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))?;
    Ok(Root::new(sdk, settings))
}

#[cfg(feature = "web")]
pub use atelier_web::{init_tracing, serve};
