//! Test doubles and fixtures, for the domain's tests, the benchmarks and the integration
//! tests (feature `test-support`; production code never enables it).
//!
//! - [`memory`]: one in-memory implementation of each port, paging like DynamoDB and
//!   keeping the side effects the ports' contracts promise (the month index written with
//!   every state change), with hooks for fault injection.
//! - [`fixtures`]: builders for workspaces and products, so that a test names only what it
//!   is about.

pub mod fixtures;
pub mod memory;

pub use fixtures::{ProductBuilder, WorkspaceBuilder};
pub use memory::MemoryStore;
