//! Atelier's HTTP layer: one router per function, the problem+json error, the verified
//! Cognito caller, and the `run` that serves a router on Lambda or on a local port.

pub mod auth;
pub mod budgets;
pub mod catalog;
pub mod config;
pub mod costs;
pub mod datasets;
pub mod extract;
pub mod openapi;
pub mod problem;
pub mod run;
pub mod workspaces;

pub use auth::{Authenticated, JwtVerifier, VerifierSettings};
pub use problem::ApiError;
pub use run::{init_tracing, run};
