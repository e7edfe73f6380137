//! Pure POS logic shared by the Worker, the TenantHub and native tools.
pub mod entity;
pub mod error;
pub mod validate;
pub mod money;
pub mod sale;
pub mod permissions;
pub mod token;
pub mod cursor;
