//! Identifier newtypes.
//!
//! Every record's id is a UUIDv7 chosen by whoever creates the record — a device may
//! create ids offline — so ids are time-ordered and need no central counter. The core
//! never reads the clock or a random source: callers pass the time and the random bits,
//! which keeps every rule here deterministic and testable by simulation.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

/// Defines an id newtype over [`Uuid`] with the same API for every entity.
macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps an existing UUID (read from storage or the wire).
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// Builds a UUIDv7 from a Unix time in milliseconds and 10 random bytes.
            ///
            /// The caller supplies both, so the core stays free of clocks and entropy.
            pub fn new_v7(unix_ms: u64, random: [u8; 10]) -> Self {
                Self(uuid::Builder::from_unix_timestamp_millis(unix_ms, &random).into_uuid())
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }
    };
}

id_type!(
    /// A tenant: one client company of the SaaS provider.
    TenantId
);
id_type!(
    /// A person who signs in.
    UserId
);
id_type!(
    /// A registered device (desktop app or scanner station) with its own journal.
    DeviceId
);
id_type!(
    /// A warehouse.
    WarehouseId
);
id_type!(
    /// A location in a warehouse's tree (zone, aisle, rack, bin); stock lives in leaves.
    LocationId
);
id_type!(
    /// A product (SKU).
    ProductId
);
id_type!(
    /// A lot (batch) of a lot-tracked product.
    LotId
);
id_type!(
    /// A stock movement; also its position in the total order of events (see
    /// [`crate::OrderKey`]).
    MovementId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v7_ids_sort_by_time_then_random_bits() {
        let early = MovementId::new_v7(1_000, [0xff; 10]);
        let late = MovementId::new_v7(1_001, [0x00; 10]);
        assert!(early < late);
        assert_eq!(early.as_uuid().get_version_num(), 7);
        let a = MovementId::new_v7(5, [1; 10]);
        let b = MovementId::new_v7(5, [2; 10]);
        assert!(a < b);
    }

    #[test]
    fn ids_round_trip_through_text_and_json() {
        let id = ProductId::new_v7(1_700_000_000_000, [7; 10]);
        let text = id.to_string();
        assert_eq!(text.parse::<ProductId>().unwrap(), id);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<ProductId>(&json).unwrap(), id);
        assert!("not-a-uuid".parse::<ProductId>().is_err());
    }
}
