//! What a router's handlers run on: the token verifier every route needs, and the area's
//! use cases. One type for every area, so the verifier is reached the same way everywhere.

use std::sync::Arc;

use axum::extract::FromRef;

use crate::JwtVerifier;

/// The state of one area's router: `cases` are the use cases its handlers call.
#[derive(Clone)]
pub struct Area<T> {
    /// Verifies every request's bearer token ([`crate::Authenticated`]); one per function,
    /// shared by its areas so the keys are fetched once.
    pub verifier: Arc<JwtVerifier>,
    /// The area's use cases (`Workspaces`, `Costs`, ...), cheap to clone.
    pub cases: T,
}

impl<T> Area<T> {
    /// The area running `cases`, verifying tokens with `verifier`.
    pub fn new(verifier: Arc<JwtVerifier>, cases: T) -> Self {
        Self { verifier, cases }
    }
}

impl<T> FromRef<Area<T>> for Arc<JwtVerifier> {
    fn from_ref(area: &Area<T>) -> Self {
        area.verifier.clone()
    }
}
