//! Route handlers, one file per resource.

pub mod admin;
pub mod backups;
pub mod catalog;
pub mod devices;
pub mod files;
pub mod jobs;
pub mod reports;
pub mod sales;
pub mod session;
pub mod shifts;
pub mod stock;
pub mod sync;
pub mod tenant;
pub mod users;
pub mod watermelon;
