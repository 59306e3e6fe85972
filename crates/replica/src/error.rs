//! The replica's error type: each variant has a stable machine code and a message for
//! people, which the desktop app and the CLI show as `{code, message}`.

use logiflow_core::{CodeError, QtyError, Rejection};

/// What went wrong in a replica operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No device identity yet.
    #[error("this device is not set up yet: initialise it first")]
    NotInitialized,
    /// `init_device` on a replica that already has an identity.
    #[error("this device is already set up (device {0})")]
    AlreadyInitialized(String),
    /// The database was written by a newer `logiflow`.
    #[error(
        "the replica database has schema version {found}, newer than this program supports ({supported}): update logiflow"
    )]
    SchemaTooNew {
        /// The database's version.
        found: i64,
        /// The newest version this binary knows.
        supported: i64,
    },
    /// A typed field could not be parsed (empty code, quantity ≤ 0, …).
    #[error("{field}: {message}")]
    InvalidInput {
        /// Which field.
        field: &'static str,
        /// Why.
        message: String,
    },
    /// No product has this SKU or barcode.
    #[error("no product with {what} {value}")]
    UnknownProduct {
        /// `sku`, `barcode` or `sku or barcode`.
        what: &'static str,
        /// What was typed or scanned.
        value: String,
    },
    /// No location has this code.
    #[error("no location with code {0}")]
    UnknownLocation(String),
    /// The code names locations in several warehouses.
    #[error("location code {0} exists in several warehouses: say which warehouse")]
    AmbiguousLocation(String),
    /// The product has no lot with this code.
    #[error("product {sku} has no lot {lot}")]
    UnknownLot {
        /// The product's SKU.
        sku: String,
        /// The lot code given.
        lot: String,
    },
    /// No open purchase order, or sales order still to pick, has this number on this
    /// device.
    #[error("no open order {0} on this device: sync to pull the orders of its warehouses")]
    UnknownOrder(String),
    /// The order has no line of this product.
    #[error("order {order} has no line for {sku}")]
    NotOnOrder {
        /// The order's number.
        order: String,
        /// The product's SKU.
        sku: String,
    },
    /// The core rules refuse the movement (lot required, not a bin, …).
    #[error("{}", .0.message)]
    Rejected(Rejection),
    /// A pull page beyond [`logiflow_core::PULL_PAGE_MAX`] items.
    #[error("the pull page carries {0} items; at most {max} are allowed", max = logiflow_core::PULL_PAGE_MAX)]
    PageTooLarge(usize),
    /// A push result for a movement this journal does not hold.
    #[error("the push response names movement {0}, which is not in this journal")]
    UnknownMovement(String),
    /// The stored data does not parse (a bug or a damaged database).
    #[error("the replica holds data it cannot read: {0}")]
    Corrupt(String),
    /// SQLite failed.
    #[error("the replica database failed: {0}")]
    Storage(#[from] rusqlite::Error),
    /// The credential store failed (keyring unavailable, unreadable file).
    #[error("{0}")]
    Credentials(String),
    /// No usable credentials for the device: none stored for it, or its refresh token
    /// was refused (lost, used twice, expired): the device must be signed in again.
    #[error("{0}")]
    CredentialsInvalid(String),
    /// The server refused the tenant, email or password a person typed (it does not say
    /// which): the device's own session is not in question.
    #[error("wrong tenant, email or password")]
    WrongPassword,
    /// The server revoked this device: it may not push or pull any more.
    #[error(
        "the server revoked this device: nothing was changed; the journal is kept (an administrator revoked it): export its unsent entries (`logiflow journal export --out FILE`) for a manager to upload"
    )]
    DeviceRevoked,
    /// The tenant's subscription ended: the server is read-only for it.
    #[error(
        "the subscription has expired: the server accepts no movements; the journal is kept untouched and will be pushed after renewal"
    )]
    SubscriptionExpired,
    /// The server could not be reached, or kept failing, within the sync's time bound.
    #[error("could not reach the server: {0}")]
    Unreachable(String),
    /// The server refused a request for a reason the client cannot fix by retrying.
    #[error("the server refused the request ({status} {code}): {message}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The server's problem code.
        code: String,
        /// The server's explanation.
        message: String,
    },
    /// The server refused the action for the device's user's role (problem `forbidden`).
    #[error("{0}")]
    Forbidden(String),
    /// Another sync of this replica is running (the desktop app and a CLI at once).
    #[error("another sync of this replica is running; try again when it ends")]
    SyncBusy,
    /// The device's clock jumped since the server last answered: nothing was recorded
    /// (see `crate::clock`). Set the clock right, sync, or confirm it
    /// (`Replica::accept_clock`, `logiflow clock accept`).
    #[error("{}", .0.message())]
    ClockJumped(crate::clock::ClockJump),
    /// One line of a count failed, so none of the count was recorded.
    #[error("count line {line}: {source}; nothing of this count was recorded")]
    CountLine {
        /// The line's number, from 1.
        line: usize,
        /// Why it failed; its code is the error's code.
        source: Box<Error>,
    },
}

impl Error {
    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotInitialized => "not_initialized",
            Self::AlreadyInitialized(_) => "already_initialized",
            Self::SchemaTooNew { .. } => "schema_too_new",
            Self::InvalidInput { .. } => "invalid_input",
            Self::UnknownProduct { .. } => "unknown_product",
            Self::UnknownLocation(_) => "unknown_location",
            Self::AmbiguousLocation(_) => "ambiguous_location",
            Self::UnknownLot { .. } => "unknown_lot",
            Self::UnknownOrder(_) => "unknown_order",
            Self::NotOnOrder { .. } => "not_on_order",
            Self::Rejected(r) => r.code.as_str(),
            Self::PageTooLarge(_) => "page_too_large",
            Self::UnknownMovement(_) => "unknown_movement",
            Self::Corrupt(_) => "corrupt_data",
            Self::Storage(_) => "storage",
            Self::CountLine { source, .. } => source.code(),
            Self::Credentials(_) => "credential_store",
            Self::CredentialsInvalid(_) => "credentials_invalid",
            Self::WrongPassword => "wrong_password",
            Self::DeviceRevoked => "device_revoked",
            Self::SubscriptionExpired => "subscription_expired",
            Self::Unreachable(_) => "server_unreachable",
            Self::Server { .. } => "server_refused",
            Self::SyncBusy => "sync_busy",
            Self::Forbidden(_) => "forbidden",
            Self::ClockJumped(_) => "clock_jumped",
        }
    }

    /// Whether the caller can fix it by changing the input (a validation or usage error),
    /// as opposed to a failure of the machine or the data.
    pub fn is_user_error(&self) -> bool {
        if let Self::CountLine { source, .. } = self {
            return source.is_user_error();
        }
        !matches!(
            self,
            Self::SchemaTooNew { .. }
                | Self::Corrupt(_)
                | Self::Storage(_)
                | Self::Credentials(_)
                | Self::CredentialsInvalid(_)
                | Self::WrongPassword
                | Self::DeviceRevoked
                | Self::SubscriptionExpired
                | Self::Unreachable(_)
                | Self::Server { .. }
                | Self::SyncBusy
                | Self::Forbidden(_)
        )
    }

    /// Whether syncing again cannot help until a person acts (see [`NEEDS_A_PERSON`]).
    pub fn needs_person(&self) -> bool {
        needs_person(self.code())
    }

    /// The `{code, message}` object the UI shows.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code().to_owned(),
            message: self.to_string(),
        }
    }

    pub(crate) fn qty(field: &'static str, e: QtyError) -> Self {
        Self::InvalidInput {
            field,
            message: e.to_string(),
        }
    }

    pub(crate) fn code_err(field: &'static str, e: CodeError) -> Self {
        Self::InvalidInput {
            field,
            message: e.to_string(),
        }
    }

    pub(crate) fn corrupt(what: impl std::fmt::Display) -> Self {
        Self::Corrupt(what.to_string())
    }
}

/// Error codes after which syncing again cannot help until a person acts (signs in
/// again, renews the subscription, fixes the keyring, sets the device up): the desktop's
/// background loop then syncs only when asked, `logiflow sync --watch` stops, and the
/// window (which gets this list in its generated bindings) asks the person to act.
/// `signed_out` is the code a sign-out leaves as the last sync error.
pub const NEEDS_A_PERSON: &[&str] = &[
    "credentials_invalid",
    "device_revoked",
    "credential_store",
    "signed_out",
    "subscription_expired",
    "not_initialized",
];

/// Whether an error code is one of [`NEEDS_A_PERSON`]: the one answer to "will syncing
/// again help?".
pub fn needs_person(code: &str) -> bool {
    NEEDS_A_PERSON.contains(&code)
}

/// An error as the UI receives it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ErrorBody {
    /// Stable machine code, e.g. `unknown_product`.
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
}

/// The replica's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_a_person_must_fix_stops_syncing() {
        let stops = [
            Error::CredentialsInvalid("session ended".into()),
            Error::DeviceRevoked,
            Error::SubscriptionExpired,
            Error::Credentials("keyring locked".into()),
            Error::NotInitialized,
        ];
        for e in &stops {
            assert!(e.needs_person(), "{e:?}");
        }
        let heals = [
            Error::Unreachable("timeout".into()),
            Error::SyncBusy,
            Error::WrongPassword,
            Error::Forbidden("operator".into()),
        ];
        for e in &heals {
            assert!(!e.needs_person(), "{e:?}");
        }
        assert!(needs_person("signed_out"));
        // A wrong password is not the device's session ending: the UI words them apart.
        assert_ne!(
            Error::WrongPassword.code(),
            Error::CredentialsInvalid(String::new()).code()
        );
    }
}
