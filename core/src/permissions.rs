//! Role-based access: one table that maps each permission to the roles granted it.
//!
//! The table below is the whole role policy, read through [`allows`]. Per-tenant module
//! switches are a separate check, not part of this table.

use serde::{Deserialize, Serialize};

/// A user's role within one tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Admin,
    Kasir,
}

impl Role {
    /// Every role, from most to least privileged.
    pub const ALL: [Role; 3] = [Role::Owner, Role::Admin, Role::Kasir];

    /// Parses the lowercase API name (`owner`, `admin`, `kasir`).
    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == text)
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Kasir => "kasir",
        }
    }
}

/// An action that a route checks before it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Permission {
    /// `PATCH /v1/tenant`: name, tax, modules, sync strategies, job times.
    ManageTenantSettings,
    /// Create, change and delete users. [`may_manage_user`] further limits which ones.
    ManageUsers,
    ManageDevices,
    ReadCatalog,
    /// Create, change and delete products and categories.
    WriteCatalog,
    ManageOutlets,
    ReadCustomers,
    CreateCustomers,
    /// Change and delete customers.
    WriteCustomers,
    CreateSales,
    ReadAllSales,
    /// Read the sales the user made; another user's sale reads as not found.
    ReadOwnSales,
    VoidAnySale,
    /// Void a sale the user made, in the user's open shift.
    VoidOwnSale,
    Refund,
    ReadStock,
    /// Record purchases, transfers and stock adjustments.
    WriteStock,
    ReadFiles,
    /// Upload and delete files, product images included.
    WriteFiles,
    ManageAnyShift,
    /// Open and close the user's own shift.
    ManageOwnShift,
    ReadReports,
    /// Push and pull through either sync protocol.
    Sync,
    ResolveConflicts,
    ReadSyncLog,
    /// Start backups and restores.
    ManageBackups,
    ReadAudit,
    /// `GET /v1/tenant`.
    ReadTenant,
}

impl Permission {
    /// Every permission, in declaration order.
    pub const ALL: [Permission; 28] = [
        Permission::ManageTenantSettings,
        Permission::ManageUsers,
        Permission::ManageDevices,
        Permission::ReadCatalog,
        Permission::WriteCatalog,
        Permission::ManageOutlets,
        Permission::ReadCustomers,
        Permission::CreateCustomers,
        Permission::WriteCustomers,
        Permission::CreateSales,
        Permission::ReadAllSales,
        Permission::ReadOwnSales,
        Permission::VoidAnySale,
        Permission::VoidOwnSale,
        Permission::Refund,
        Permission::ReadStock,
        Permission::WriteStock,
        Permission::ReadFiles,
        Permission::WriteFiles,
        Permission::ManageAnyShift,
        Permission::ManageOwnShift,
        Permission::ReadReports,
        Permission::Sync,
        Permission::ResolveConflicts,
        Permission::ReadSyncLog,
        Permission::ManageBackups,
        Permission::ReadAudit,
        Permission::ReadTenant,
    ];
}

const OWNER_ONLY: &[Role] = &[Role::Owner];
const OWNER_AND_ADMIN: &[Role] = &[Role::Owner, Role::Admin];
const EVERY_ROLE: &[Role] = &[Role::Owner, Role::Admin, Role::Kasir];

/// The permission table: the roles granted each permission. A permission missing from the
/// table is granted to no role.
const GRANTS: &[(Permission, &[Role])] = &[
    (Permission::ManageTenantSettings, OWNER_ONLY),
    (Permission::ManageUsers, OWNER_AND_ADMIN),
    (Permission::ManageDevices, OWNER_AND_ADMIN),
    (Permission::ReadCatalog, EVERY_ROLE),
    (Permission::WriteCatalog, OWNER_AND_ADMIN),
    (Permission::ManageOutlets, OWNER_AND_ADMIN),
    (Permission::ReadCustomers, EVERY_ROLE),
    (Permission::CreateCustomers, EVERY_ROLE),
    (Permission::WriteCustomers, OWNER_AND_ADMIN),
    (Permission::CreateSales, EVERY_ROLE),
    (Permission::ReadAllSales, OWNER_AND_ADMIN),
    (Permission::ReadOwnSales, EVERY_ROLE),
    (Permission::VoidAnySale, OWNER_AND_ADMIN),
    (Permission::VoidOwnSale, EVERY_ROLE),
    (Permission::Refund, OWNER_AND_ADMIN),
    (Permission::ReadStock, EVERY_ROLE),
    (Permission::WriteStock, OWNER_AND_ADMIN),
    (Permission::ReadFiles, EVERY_ROLE),
    (Permission::WriteFiles, OWNER_AND_ADMIN),
    (Permission::ManageAnyShift, OWNER_AND_ADMIN),
    (Permission::ManageOwnShift, EVERY_ROLE),
    (Permission::ReadReports, OWNER_AND_ADMIN),
    (Permission::Sync, EVERY_ROLE),
    (Permission::ResolveConflicts, OWNER_AND_ADMIN),
    (Permission::ReadSyncLog, OWNER_AND_ADMIN),
    (Permission::ManageBackups, OWNER_ONLY),
    (Permission::ReadAudit, OWNER_ONLY),
    (Permission::ReadTenant, EVERY_ROLE),
];

/// Returns whether the permission table grants `permission` to `role`.
pub fn allows(role: Role, permission: Permission) -> bool {
    GRANTS
        .iter()
        .find(|(granted, _)| *granted == permission)
        .is_some_and(|(_, roles)| roles.contains(&role))
}

/// Returns whether `actor` may create, change or delete a user whose role is `target_role`.
///
/// An owner manages anyone. An admin manages admins and kasirs but never an owner, and so can
/// neither change an owner nor make anyone an owner. A kasir manages no user. When a change
/// moves a user to a new role, check both the user's current role and the new one.
pub fn may_manage_user(actor: Role, target_role: Role) -> bool {
    match actor {
        Role::Owner => true,
        Role::Admin => target_role != Role::Owner,
        Role::Kasir => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn role_names_round_trip() {
        for (role, name) in Role::ALL.into_iter().zip(["owner", "admin", "kasir"]) {
            assert_eq!(role.as_str(), name);
            assert_eq!(Role::parse(name), Some(role));
            assert_eq!(serde_json::to_value(role).expect("serializes"), serde_json::json!(name));
            let parsed: Role = serde_json::from_value(serde_json::json!(name)).expect("deserializes");
            assert_eq!(parsed, role);
        }
    }

    #[test]
    fn role_rejects_unknown_names() {
        for name in ["", "Owner", "ADMIN", "cashier", "kasir ", "superuser"] {
            assert_eq!(Role::parse(name), None, "name {name:?}");
        }
        assert!(serde_json::from_value::<Role>(serde_json::json!("Owner")).is_err());
    }

    #[test]
    fn table_lists_each_permission_once() {
        let listed: Vec<Permission> = GRANTS.iter().map(|(permission, _)| *permission).collect();
        let unique: HashSet<Permission> = listed.iter().copied().collect();
        assert_eq!(listed.len(), unique.len(), "a permission appears twice");
        for permission in Permission::ALL {
            assert!(unique.contains(&permission), "{permission:?} is missing");
        }
        assert_eq!(listed.len(), Permission::ALL.len());
    }

    #[test]
    fn owner_has_every_permission() {
        for permission in Permission::ALL {
            assert!(allows(Role::Owner, permission), "{permission:?}");
        }
    }

    #[test]
    fn full_permission_matrix() {
        use Permission::*;
        // (permission, admin, kasir). The owner is granted every permission.
        let expected = [
            (ManageTenantSettings, false, false),
            (ManageUsers, true, false),
            (ManageDevices, true, false),
            (ReadCatalog, true, true),
            (WriteCatalog, true, false),
            (ManageOutlets, true, false),
            (ReadCustomers, true, true),
            (CreateCustomers, true, true),
            (WriteCustomers, true, false),
            (CreateSales, true, true),
            (ReadAllSales, true, false),
            (ReadOwnSales, true, true),
            (VoidAnySale, true, false),
            (VoidOwnSale, true, true),
            (Refund, true, false),
            (ReadStock, true, true),
            (WriteStock, true, false),
            (ReadFiles, true, true),
            (WriteFiles, true, false),
            (ManageAnyShift, true, false),
            (ManageOwnShift, true, true),
            (ReadReports, true, false),
            (Sync, true, true),
            (ResolveConflicts, true, false),
            (ReadSyncLog, true, false),
            (ManageBackups, false, false),
            (ReadAudit, false, false),
            (ReadTenant, true, true),
        ];
        assert_eq!(expected.len(), Permission::ALL.len());
        for (permission, admin, kasir) in expected {
            assert!(allows(Role::Owner, permission), "owner {permission:?}");
            assert_eq!(allows(Role::Admin, permission), admin, "admin {permission:?}");
            assert_eq!(allows(Role::Kasir, permission), kasir, "kasir {permission:?}");
        }
    }

    #[test]
    fn admin_has_every_kasir_permission() {
        for permission in Permission::ALL {
            if allows(Role::Kasir, permission) {
                assert!(allows(Role::Admin, permission), "{permission:?}");
            }
        }
    }

    #[test]
    fn owner_manages_every_role() {
        for target in Role::ALL {
            assert!(may_manage_user(Role::Owner, target), "{target:?}");
        }
    }

    #[test]
    fn admin_manages_admins_and_kasirs_only() {
        assert!(!may_manage_user(Role::Admin, Role::Owner));
        assert!(may_manage_user(Role::Admin, Role::Admin));
        assert!(may_manage_user(Role::Admin, Role::Kasir));
    }

    #[test]
    fn kasir_manages_nobody() {
        for target in Role::ALL {
            assert!(!may_manage_user(Role::Kasir, target), "{target:?}");
        }
    }
}
