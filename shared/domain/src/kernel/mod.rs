//! The kernel: the vocabulary every capability shares, and nothing else. Identifiers,
//! errors (with whether a retry may help), pages and store errors, who is calling and what
//! the directory knows of them, money, where instants come from, and per-caller request
//! limits.
//!
//! May use: nothing else in this crate, but for the lifecycle's [`crate::workspaces::IllegalTransition`],
//! which [`DomainError`] carries. Every capability may use it.

mod caller;
mod clock;
mod error;
mod id;
pub mod limits;
mod money;
mod store;

pub use caller::{Caller, Profile, Role, UserDirectory};
pub use clock::event_instant;
pub use error::{DomainError, UpstreamError, retry_concurrent};
pub use id::{DatasetId, ProductId, WorkspaceId, random_token};
pub use money::Money;
pub use store::{MAX_PAGE_SIZE, Page, PageRequest, StoreError, all_pages};
