//! Integration tests: the real adapters and routers against a moto server the harness
//! starts itself, with real Cognito tokens.

mod actuals;
mod adapters;
mod agent;
mod authorization;
mod billing;
mod bodies;
mod budgets;
mod call_budgets;
mod catalog;
mod costs;
mod data_access;
mod datasets;
mod exports;
mod faults;
mod gateway;
mod limits;
mod local_stack;
mod openapi;
mod scheduler;
mod standing;
mod state_sync;
mod tokens;
mod wiring;
mod workspaces;
