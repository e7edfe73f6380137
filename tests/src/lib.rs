//! Harness for the Kasir Edge integration tests and the bakery demo.
//!
//! [`server::server`] starts one `wrangler dev` per test binary, [`client::Api`]
//! speaks the HTTP contract, and [`fixtures`] builds tenants, logins and
//! records through it. [`bakery_catalog`] and [`pos_log`] feed the
//! `kasir-demo` binary.

pub mod bakery_catalog;
pub mod client;
pub mod dev_vars;
pub mod fixtures;
pub mod pos_log;
pub mod server;

pub use client::{Api, ApiRequest, ApiResponse};
pub use fixtures::{
    create_product, create_user, create_user_session, hlc_now, login, login_owner, new_id, provision_tenant,
    provision_tenant_with, session_from, try_login, unique_code, Session, TenantFixture, UserFixture,
};
pub use server::{server, TestServer};
