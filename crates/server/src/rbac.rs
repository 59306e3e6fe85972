//! Roles and permissions: the one table mapping a role to the actions it may take.
//!
//! Handlers never test roles; they ask for a permission through the
//! [`crate::auth::Require`] extractor, which calls [`Role::allows`] (users) or checks an
//! API key's scope, and nothing else decides.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A user's role in a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Manager,
    Operator,
    Purchasing,
    Sales,
    Viewer,
}

/// Declares [`Permission`] with its stable names, [`Permission::ALL`] and the type-level
/// permissions of [`perm`], from one list.
macro_rules! permissions {
    ($($(#[doc = $doc:literal])+ $name:ident = $text:literal,)+) => {
        /// An action a principal may be allowed to take.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum Permission {
            $($(#[doc = $doc])+ $name,)+
        }

        impl Permission {
            /// Every permission, for docs and for validating API-key scopes.
            pub const ALL: [Permission; [$(Permission::$name),+].len()] = [$(Permission::$name),+];

            /// Stable name, as stored in API-key scopes.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Permission::$name => $text,)+
                }
            }
        }

        /// Type-level permissions for [`crate::auth::Require`].
        pub mod perm {
            use super::Permission;

            /// A permission known at compile time.
            pub trait Perm: Send + Sync + 'static {
                /// The permission.
                const PERMISSION: Permission;
            }

            $(
                #[doc = concat!("Type-level [`Permission::", stringify!($name), "`].")]
                #[derive(Debug)]
                pub struct $name;
                impl Perm for $name {
                    const PERMISSION: Permission = Permission::$name;
                }
            )+
        }
    };
}

permissions! {
    /// List and read users.
    UsersRead = "users_read",
    /// Create users, change roles, disable users.
    UsersManage = "users_manage",
    /// List API keys.
    ApiKeysRead = "api_keys_read",
    /// Create and revoke API keys.
    ApiKeysManage = "api_keys_manage",
    /// Read tenant settings.
    SettingsRead = "settings_read",
    /// Change tenant settings.
    SettingsManage = "settings_manage",
    /// Read the audit log.
    AuditRead = "audit_read",
    /// Read warehouses, locations, products and lots.
    CatalogRead = "catalog_read",
    /// Create, change, deactivate and delete warehouses, locations, products and lots.
    CatalogManage = "catalog_manage",
    /// Read stock rows, movements and the low-stock list.
    StockRead = "stock_read",
    /// Record movements (receive, ship, transfer, adjust, count), register a device and
    /// push its journal.
    MovementsWrite = "movements_write",
    /// List every device of the tenant and revoke them. Not a write in the sense of the
    /// read-only rule: revoking a lost device only takes access away, and must work on
    /// a tenant whose subscription expired.
    DevicesManage = "devices_manage",
    /// Resolve the conflict inbox: force a held movement through with a reason.
    ConflictsResolve = "conflicts_resolve",
    /// Read suppliers, customers, purchase and sales orders.
    OrdersRead = "orders_read",
    /// Create and change suppliers and purchase orders (order, cancel, close).
    PurchasingManage = "purchasing_manage",
    /// Create and change customers and sales orders.
    SalesManage = "sales_manage",
    /// Import catalog data in bulk (`/v1/imports`): admins and managers.
    DataImport = "data_import",
}

impl Permission {
    /// Whether the action changes tenant data (refused when the subscription expired).
    pub fn is_write(self) -> bool {
        matches!(
            self,
            Permission::UsersManage
                | Permission::ApiKeysManage
                | Permission::SettingsManage
                | Permission::CatalogManage
                | Permission::MovementsWrite
                | Permission::ConflictsResolve
                | Permission::PurchasingManage
                | Permission::SalesManage
                | Permission::DataImport
        )
    }

    /// Parses [`Permission::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl Role {
    /// THE permission table. Every role may read settings, the catalog, stock and
    /// orders; the rest is listed here.
    pub fn allows(self, permission: Permission) -> bool {
        use Permission as P;
        if matches!(
            permission,
            P::SettingsRead | P::CatalogRead | P::StockRead | P::OrdersRead
        ) {
            return true;
        }
        match self {
            Role::Admin => true,
            Role::Manager => matches!(
                permission,
                P::UsersRead
                    | P::AuditRead
                    | P::CatalogManage
                    | P::MovementsWrite
                    | P::ConflictsResolve
                    | P::PurchasingManage
                    | P::SalesManage
                    | P::DataImport
            ),
            // Operators record what happens on the floor.
            Role::Operator => matches!(permission, P::MovementsWrite),
            // Purchasing maintains the product catalog (new SKUs, reorder levels), the
            // suppliers and the purchase orders.
            Role::Purchasing => matches!(permission, P::CatalogManage | P::PurchasingManage),
            // Sales keeps the customers and the sales orders.
            Role::Sales => matches!(permission, P::SalesManage),
            Role::Viewer => false,
        }
    }

    /// Stable name, as stored in `app_user.role`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Operator => "operator",
            Role::Purchasing => "purchasing",
            Role::Sales => "sales",
            Role::Viewer => "viewer",
        }
    }

    /// Every role, most powerful first.
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::Manager,
        Role::Operator,
        Role::Purchasing,
        Role::Sales,
        Role::Viewer,
    ];

    /// Parses [`Role::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(p));
            assert_eq!(
                serde_json::to_value(p).unwrap(),
                serde_json::Value::from(p.as_str())
            );
        }
        for r in [
            "admin",
            "manager",
            "operator",
            "purchasing",
            "sales",
            "viewer",
        ] {
            assert_eq!(Role::parse(r).unwrap().as_str(), r);
        }
    }

    #[test]
    fn admins_may_do_everything_viewers_only_read() {
        for p in Permission::ALL {
            assert!(Role::Admin.allows(p));
            assert_eq!(
                Role::Viewer.allows(p),
                !p.is_write()
                    && p != Permission::UsersRead
                    && p != Permission::ApiKeysRead
                    && p != Permission::AuditRead
                    && p != Permission::DevicesManage,
                "{p:?}"
            );
        }
        assert!(Role::Operator.allows(Permission::MovementsWrite));
        assert!(!Role::Operator.allows(Permission::CatalogManage));
        assert!(Role::Purchasing.allows(Permission::CatalogManage));
        assert!(!Role::Purchasing.allows(Permission::MovementsWrite));
        assert!(Role::Purchasing.allows(Permission::PurchasingManage));
        assert!(!Role::Purchasing.allows(Permission::SalesManage));
        assert!(Role::Sales.allows(Permission::SalesManage));
        assert!(!Role::Sales.allows(Permission::PurchasingManage));
        assert!(!Role::Operator.allows(Permission::PurchasingManage));
        assert!(Role::Manager.allows(Permission::PurchasingManage));
        assert!(Role::Viewer.allows(Permission::SettingsRead));
        assert!(!Role::Viewer.allows(Permission::AuditRead));
    }
}
