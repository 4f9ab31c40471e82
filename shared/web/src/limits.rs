//! Which routes count against a per-caller limit ([`atelier_domain::kernel::limits`]), in
//! one table: the extractor every route takes ([`crate::Authenticated`]) counts the request
//! once the caller is verified, and answers 429 with `Retry-After` past the limit. The
//! OpenAPI document lists 429 on exactly these operations (tests/integration/openapi.rs).

use atelier_domain::kernel::limits::{Limit, REPORTS};
use http::Method;

/// The limit `method` on the route template `route` (`/v1/costs/users`) counts against.
pub fn limit_for(method: &Method, route: &str) -> Option<&'static Limit> {
    match (method, route) {
        (&Method::GET, "/v1/costs/users" | "/v1/costs/export.csv" | "/v1/datasets/access.csv")
        | (&Method::POST, "/v1/costs/exports") => Some(&REPORTS),
        _ => None,
    }
}
