//! The local AWS stack: a pinned moto server (started from the project's `.venv`) and the
//! seed that creates Atelier's table, user pool, app client, groups, users and catalog; the
//! product wired for one process by the composition root ([`local`]); and the dev server
//! ([`dev_server`]). Used by the dev server and the tests, never by a Lambda function.

// Production functions stay under 80 lines (clippy.toml); tests may be longer.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]
// Every public item says what it is for; rustdoc is the reference for the other crates.
#![warn(missing_docs)]

pub mod banner;
pub mod dev_server;
pub mod last_month;
pub mod local;
pub mod machines;
pub mod moto;
pub mod network;
pub mod seed;
pub mod template;

pub use moto::MotoServer;
pub use seed::{DevUser, Seed, Seeded, sdk_config};
