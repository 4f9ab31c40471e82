//! One module per area of the API, each with its `router()`. Which function serves which
//! area is decided once, in the composition root (`atelier-app`): the workspaces-api
//! function serves workspaces, their apps, schedules, costs, budgets, notifications, datasets and the OpenAPI
//! document; catalog-api serves the catalog; `config` exists only in the dev server (in
//! AWS the portal's configuration is a file in its bucket).

pub mod apps;
pub mod budgets;
pub mod catalog;
pub mod config;
pub mod cost_centres;
pub mod costs;
pub mod datasets;
pub mod exchange_rates;
pub mod notifications;
pub mod openapi;
pub mod schedules;
pub mod workspaces;
