//! What a router's handlers run on: the gate every request passes (the token verifier, the
//! standing check for what can change something or read beyond one's own, the per-caller
//! limits), and the area's use cases. One type for every area, so the gate is reached the
//! same way everywhere.

use std::sync::Arc;

use atelier_domain::kernel::limits::RequestCounter;
use axum::extract::FromRef;

use crate::{JwtVerifier, standing::StandingCheck};

/// What [`crate::Authenticated`] checks: one per function, shared by its areas so the keys
/// are fetched, and each standing read, once.
#[derive(Clone)]
pub struct Gate {
    /// Verifies every request's bearer token.
    pub verifier: Arc<JwtVerifier>,
    /// The caller's current standing, for the requests [`crate::standing::needs_standing`] names.
    pub standing: Arc<StandingCheck>,
    /// Where the requests [`crate::limits::limit_for`] names are counted (the table).
    pub counter: Arc<dyn RequestCounter>,
}

/// The state of one area's router: `cases` are the use cases its handlers call.
#[derive(Clone)]
pub struct Area<T> {
    /// The function's gate.
    pub gate: Gate,
    /// The area's use cases (`Workspaces`, `Costs`, ...), cheap to clone.
    pub cases: T,
}

impl<T> Area<T> {
    /// The area running `cases` behind `gate`.
    pub fn new(gate: Gate, cases: T) -> Self {
        Self { gate, cases }
    }
}

impl<T> FromRef<Area<T>> for Gate {
    fn from_ref(area: &Area<T>) -> Self {
        area.gate.clone()
    }
}
