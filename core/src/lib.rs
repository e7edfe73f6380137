//! Pure POS logic shared by the Worker, the TenantHub and native tools.
pub mod cursor;
pub mod email;
pub mod entity;
pub mod error;
pub mod files;
pub mod hlc;
pub mod merge;
pub mod money;
pub mod permissions;
pub mod receipt;
pub mod refund;
pub mod report;
pub mod sale;
pub mod shift;
pub mod stock;
pub mod token;
pub mod validate;
