//! Which function serves which routes, decided once: the routers the API functions run
//! are built here, and the dev server and the tests serve the very same ones.

use atelier_web::{Area, routes};
use axum::Router;

use crate::Root;

#[cfg(feature = "workspaces-api")]
impl Root {
    /// The workspaces-api function's router, as deployed: `/v1/me`, workspaces, their apps, schedules,
    /// costs, budgets, notifications, datasets and `/v1/openapi.json`, with the problem+json fallbacks and
    /// the body limit.
    pub fn workspaces_api(&self) -> Router {
        atelier_web::finish(self.workspaces_routes())
    }

    fn workspaces_routes(&self) -> Router {
        let gate = self.gate();
        let datasets = self.datasets();
        let workspaces =
            routes::workspaces::WorkspaceCases { workspaces: self.workspaces(), datasets: datasets.clone() };
        Router::new()
            .merge(routes::workspaces::router(Area::new(gate.clone(), workspaces)))
            .merge(routes::apps::router(Area::new(gate.clone(), self.apps())))
            .merge(routes::schedules::router(Area::new(gate.clone(), self.schedules())))
            .merge(routes::costs::router(Area::new(gate.clone(), self.costs())))
            .merge(routes::budgets::router(Area::new(gate.clone(), self.budgets())))
            .merge(routes::cost_centres::router(Area::new(gate.clone(), self.cost_centres())))
            .merge(routes::exchange_rates::router(Area::new(gate.clone(), self.exchange_rates())))
            .merge(routes::notifications::router(Area::new(gate.clone(), self.notifications())))
            .merge(routes::datasets::router(Area::new(gate.clone(), datasets)))
            .merge(routes::openapi::router())
    }
}

#[cfg(feature = "catalog-api")]
impl Root {
    /// The catalog-api function's router, as deployed: `/v1/products` and the admins'
    /// publishing, editing, pricing and unpublishing.
    pub fn catalog_api(&self) -> Router {
        atelier_web::finish(self.catalog_routes())
    }

    fn catalog_routes(&self) -> Router {
        routes::catalog::router(Area::new(self.gate(), self.catalog_cases()))
    }
}

#[cfg(all(feature = "workspaces-api", feature = "catalog-api"))]
impl Root {
    /// Both API functions' routes in one router, as API Gateway routes them to the two
    /// functions (the dev server, the tests).
    pub fn api(&self) -> Router {
        atelier_web::finish(self.api_routes())
    }

    /// [`Root::api`] before the fallbacks and the body limit, for a server that adds routes
    /// of its own and then finishes the whole (the dev server).
    pub fn api_routes(&self) -> Router {
        self.workspaces_routes().merge(self.catalog_routes())
    }
}
