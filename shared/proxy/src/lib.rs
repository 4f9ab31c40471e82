//! Opening a workspace's apps (issue #17, [ADR 0009](../../../docs/adr/0009-gateway.md); ADR 0008's "The guard
//! and app readiness"): the pieces the gateway (ECS, in front of every workspace) and the
//! workspace guard (in the agent, on each workstation) share.
//!
//! | module | what it is for |
//! |---|---|
//! | [`identity`] | the gateway's signed identity assertion (an EdDSA JWT), signed by the gateway, verified by the guard |
//! | [`forward`] | one request forwarded to an upstream, bodies streamed both ways, WebSockets tunnelled |
//! | [`guard`] | the guard's router: `/w/<workspace id>/<app>/…` verified, then forwarded to the app on 127.0.0.1 |
//!
//! Path of a request: browser → ALB (TLS) → gateway ([`forward::Forwarder`], adds the
//! [`identity::IDENTITY_HEADER`]) → guard (port 8443, [`guard::router`], verifies it and
//! removes it) → app on `127.0.0.1`.

// Production functions stay under 80 lines (clippy.toml); tests may be longer.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]
// Every public item says what it is for.
#![warn(missing_docs)]

pub mod forward;
pub mod guard;
pub mod identity;
#[cfg(feature = "testing")]
pub mod testing;
