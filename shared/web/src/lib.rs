//! Atelier's HTTP layer: one router per area of the API ([`routes`]), the views more than
//! one area answers with ([`views`]), the problem+json error ([`problem`]), the verified
//! Cognito caller ([`auth`]), their current standing ([`standing`]) and per-caller limits
//! ([`limits`]), the extractors that name the bad field ([`extract`]), and the
//! `serve` that runs a router on Lambda or on a local port ([`run`]).
//!
//! Which function serves which router is wired in the composition root (`atelier-app`).

// Production functions stay under 80 lines (clippy.toml); tests may be longer.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]
// Every public item says what it is for; rustdoc is the reference for the other crates.
#![warn(missing_docs)]

pub mod auth;
pub mod extract;
pub mod limits;
pub mod problem;
pub mod routes;
pub mod run;
pub mod standing;
pub mod state;
pub mod views;

pub use auth::{Authenticated, JwtVerifier, VerifierSettings};
pub use problem::ApiError;
pub use routes::openapi;
pub use run::{finish, init_tracing, serve};
pub use standing::StandingCheck;
pub use state::{Area, Gate};
