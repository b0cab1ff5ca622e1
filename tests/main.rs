//! The integration suite, as one test binary (one link, one process start per run): black-box tests over real
//! HTTP against the real router, each scenario on SQLite and on PostgreSQL (`backend_tests!`), with real SMTP,
//! object storage and databases on loopback. The harness is `common/`.

#[macro_use]
mod common;

mod admin_profiles;
mod auth;
mod avatars;
mod catalog;
mod cli;
mod community;
mod connections;
mod cors;
mod health;
mod http_api;
mod layers;
mod live;
mod mail_jobs;
mod mailbox_owner;
mod migrations;
mod moderation;
mod openapi_contract;
mod payments;
mod posters;
mod refresh_cookie;
mod refunds;
mod response_cache;
mod schema_snapshots;
mod search;
mod shared_limits;
mod shop;
mod storefront;
mod stripe;
mod transactions;
mod viewer;
mod worker;
mod write_limits;
