//! The exported journal of a device (a file a person carries to a manager) and the rule
//! for the entries a manager uploads from it.
//!
//! A revoked device can never push again, yet its unsent entries are physical facts
//! (goods received, counted, shipped). `logiflow journal export` writes them to a
//! [`JournalFile`]; a manager uploads it to `POST /v1/devices/{id}/journal`, and each
//! entry the server does not hold yet is stored **held for review**
//! ([`HoldReview::RevokedDevice`]) by [`hold_for_review`]: never applied automatically,
//! resolved by a person (force or void) in the conflict inbox.
//!
//! The format is JSON, versioned by [`JOURNAL_FILE_FORMAT`] and
//! [`JOURNAL_FILE_VERSION`]; version 1 is:
//!
//! ```json
//! {
//!   "format": "logiflow.journal",
//!   "version": 1,
//!   "tenant": "<tenant id>",
//!   "device": "<device id>",
//!   "user": "<the replica's user id>",
//!   "server": "https://logiflow.example.com",
//!   "exported_at": "2026-12-03T18:00:00Z",
//!   "entries": [ { "movement": { … }, "base_cursor": null } ]
//! }
//! ```
//!
//! where each entry is a [`PushedMovement`], as the device would push it.

use chrono::{DateTime, NaiveDate, Utc};

use crate::replay::{Catalog, Decision, HoldReview, Outcome};
use crate::{DeviceId, Hold, Movement, Origin, PushedMovement, TenantId, UserId, validate};

/// The `format` of a journal file.
pub const JOURNAL_FILE_FORMAT: &str = "logiflow.journal";
/// The version of the journal file format written by this build (and the only one read).
pub const JOURNAL_FILE_VERSION: u32 = 1;
/// The most entries one upload request carries (a file with more is sent in pieces of
/// this size; the upload is idempotent, so a piece sent twice lands once).
pub const JOURNAL_UPLOAD_MAX: usize = crate::PUSH_BATCH_MAX;

/// A device's journal entries, exported to a file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JournalFile {
    /// Always [`JOURNAL_FILE_FORMAT`].
    pub format: String,
    /// [`JOURNAL_FILE_VERSION`] for files this build writes.
    pub version: u32,
    /// The device's tenant.
    pub tenant: TenantId,
    /// The device that recorded the entries.
    pub device: DeviceId,
    /// The user the replica was set up for.
    pub user: UserId,
    /// The server the device synced with.
    pub server: String,
    /// When the file was written (the device's clock).
    pub exported_at: DateTime<Utc>,
    /// The entries, in `device_seq` order.
    pub entries: Vec<PushedMovement>,
    /// The lots the device created offline that the entries name, declared as a push
    /// would ([`crate::PushRequest::lots`]). Absent from older files and when there are
    /// none; every piece of a file carries them all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lots: Vec<crate::LotRecord>,
}

/// Why a journal file cannot be read as one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalFileError {
    /// Not a journal file.
    #[error("not a LogiFlow journal file (format `{0}`, expected `{JOURNAL_FILE_FORMAT}`)")]
    Format(String),
    /// A version this build does not read.
    #[error(
        "journal file version {0} is not supported (this build reads version {JOURNAL_FILE_VERSION})"
    )]
    Version(u32),
    /// An entry without the file's device stamp.
    #[error("entry {index} is not stamped with the file's device")]
    Stamp {
        /// Its position in the file, from 0.
        index: usize,
    },
    /// Entries out of `device_seq` order or repeated.
    #[error("entry {index}: device_seq values must start at 1 and strictly increase")]
    Order {
        /// Its position in the file, from 0.
        index: usize,
    },
}

impl JournalFile {
    /// A file of `entries` (version [`JOURNAL_FILE_VERSION`]), declaring no lot.
    pub fn new(
        tenant: TenantId,
        device: DeviceId,
        user: UserId,
        server: impl Into<String>,
        exported_at: DateTime<Utc>,
        entries: Vec<PushedMovement>,
    ) -> Self {
        Self {
            format: JOURNAL_FILE_FORMAT.to_owned(),
            version: JOURNAL_FILE_VERSION,
            tenant,
            device,
            user,
            server: server.into(),
            exported_at,
            entries,
            lots: Vec::new(),
        }
    }

    /// Checks what the file says of itself: its format and version, every entry stamped
    /// with the file's device, `device_seq` from 1 and strictly increasing (a journal
    /// never repeats or reorders a number; gaps are allowed, the answered entries
    /// between them were left out).
    pub fn check(&self) -> Result<(), JournalFileError> {
        if self.format != JOURNAL_FILE_FORMAT {
            return Err(JournalFileError::Format(self.format.clone()));
        }
        if self.version != JOURNAL_FILE_VERSION {
            return Err(JournalFileError::Version(self.version));
        }
        let mut previous = 0;
        for (index, e) in self.entries.iter().enumerate() {
            let stamp = e
                .movement
                .device
                .filter(|s| s.device == self.device)
                .ok_or(JournalFileError::Stamp { index })?;
            if stamp.seq <= previous {
                return Err(JournalFileError::Order { index });
            }
            previous = stamp.seq;
        }
        Ok(())
    }

    /// The file cut into files of at most `max` entries each (at least one file, even
    /// when empty), to upload in bounded requests.
    pub fn pieces(&self, max: usize) -> Vec<JournalFile> {
        let max = max.max(1);
        if self.entries.is_empty() {
            return vec![self.clone()];
        }
        self.entries
            .chunks(max)
            .map(|chunk| JournalFile {
                entries: chunk.to_vec(),
                ..self.clone()
            })
            .collect()
    }
}

/// The decision on an entry uploaded from a revoked device's journal: checked by
/// [`validate`] as a journal fact (a structural error rejects it, with its code, like a
/// push would), otherwise **held for review** with `review`, never applied: a person
/// decides whether what a device nobody trusts any more recorded happened. The hold
/// waits on the movement's first row; `needed` is the change the movement asks of that
/// row, `at_time` is 0 (no stock was checked).
pub fn hold_for_review(
    m: &Movement,
    catalog: &impl Catalog,
    on_date: NaiveDate,
    review: HoldReview,
) -> Decision {
    match validate(m, Origin::Journal, catalog, on_date) {
        Err(rejection) => Decision {
            outcome: Outcome::Rejected(rejection),
            flags: Vec::new(),
            updates: Vec::new(),
            wakes: Vec::new(),
        },
        Ok(flags) => {
            // Every movement touches at least one row; `sides` is never empty.
            let first = m.sides().into_iter().next();
            let (waiting_on, needed) = match first {
                Some(side) => (side.key, side.delta.abs()),
                None => (
                    crate::StockKey {
                        product: m.product,
                        location: crate::LocationId::from_uuid(uuid::Uuid::nil()),
                        lot: m.lot,
                    },
                    0,
                ),
            };
            Decision {
                outcome: Outcome::Held(Hold {
                    waiting_on,
                    needed,
                    at_time: 0,
                    review: Some(review),
                }),
                flags,
                updates: Vec::new(),
                wakes: Vec::new(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::{LocationFacts, LotFacts, ProductFacts};
    use crate::{
        DeviceStamp, LocationId, LotId, MovementId, MovementKind, PositiveQty, ProductId,
        WarehouseId,
    };
    use uuid::Uuid;

    struct Known(ProductId);

    impl Catalog for Known {
        fn product(&self, id: ProductId) -> Option<ProductFacts> {
            (id == self.0).then_some(ProductFacts {
                active: true,
                lot_tracked: false,
            })
        }
        fn lot(&self, _: LotId) -> Option<LotFacts> {
            None
        }
        fn order_line(&self, _: crate::LineRef) -> Option<crate::OrderLineFacts> {
            None
        }
        fn location(&self, _: LocationId) -> Option<LocationFacts> {
            Some(LocationFacts {
                warehouse: WarehouseId::from_uuid(Uuid::from_u128(9)),
                active: true,
                is_leaf: true,
            })
        }
    }

    fn device() -> DeviceId {
        DeviceId::from_uuid(Uuid::from_u128(7))
    }

    fn entry(seq: u64, product: u128, stamp: DeviceId) -> PushedMovement {
        PushedMovement {
            movement: Movement {
                id: MovementId::from_uuid(Uuid::from_u128(1000 + u128::from(seq))),
                occurred_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
                product: ProductId::from_uuid(Uuid::from_u128(product)),
                lot: None,
                kind: MovementKind::Receive {
                    to: LocationId::from_uuid(Uuid::from_u128(3)),
                    qty: PositiveQty::new(4).unwrap(),
                },
                user: UserId::from_uuid(Uuid::from_u128(2)),
                device: Some(DeviceStamp { device: stamp, seq }),
                reference: None,
            },
            base_cursor: None,
        }
    }

    fn file(entries: Vec<PushedMovement>) -> JournalFile {
        JournalFile::new(
            TenantId::from_uuid(Uuid::from_u128(1)),
            device(),
            UserId::from_uuid(Uuid::from_u128(2)),
            "http://x",
            DateTime::from_timestamp(1_700_000_100, 0).unwrap(),
            entries,
        )
    }

    #[test]
    fn a_file_checks_its_format_version_stamps_and_order() {
        let other = DeviceId::from_uuid(Uuid::from_u128(8));
        assert_eq!(
            file(vec![entry(1, 5, device()), entry(3, 5, device())]).check(),
            Ok(())
        );
        let cases: Vec<(JournalFile, JournalFileError)> = vec![
            (
                JournalFile {
                    format: "zip".into(),
                    ..file(vec![])
                },
                JournalFileError::Format("zip".into()),
            ),
            (
                JournalFile {
                    version: 2,
                    ..file(vec![])
                },
                JournalFileError::Version(2),
            ),
            (
                file(vec![entry(1, 5, device()), entry(2, 5, other)]),
                JournalFileError::Stamp { index: 1 },
            ),
            (
                file(vec![entry(2, 5, device()), entry(2, 5, device())]),
                JournalFileError::Order { index: 1 },
            ),
            (
                file(vec![entry(0, 5, device())]),
                JournalFileError::Order { index: 0 },
            ),
        ];
        for (f, expected) in cases {
            assert_eq!(f.check(), Err(expected));
        }
        // The JSON names its format and version.
        let text = serde_json::to_value(file(vec![])).unwrap();
        assert_eq!(text["format"], "logiflow.journal");
        assert_eq!(text["version"], 1);
    }

    #[test]
    fn pieces_keep_every_entry_in_order_within_the_bound() {
        let f = file((1..=5).map(|s| entry(s, 5, device())).collect());
        let pieces = f.pieces(2);
        assert_eq!(
            pieces.iter().map(|p| p.entries.len()).collect::<Vec<_>>(),
            [2, 2, 1]
        );
        let all: Vec<_> = pieces.into_iter().flat_map(|p| p.entries).collect();
        assert_eq!(all, f.entries);
        assert_eq!(file(vec![]).pieces(2).len(), 1);
    }

    #[test]
    fn an_uploaded_entry_is_held_for_review_or_rejected_never_applied() {
        let review = HoldReview::RevokedDevice {
            uploaded_at: DateTime::from_timestamp(1_700_000_200, 0).unwrap(),
        };
        let catalog = Known(ProductId::from_uuid(Uuid::from_u128(5)));
        let day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let held = hold_for_review(&entry(1, 5, device()).movement, &catalog, day, review);
        match held.outcome {
            Outcome::Held(h) => {
                assert_eq!(h.review, Some(review));
                assert!(!h.is_retryable());
                assert_eq!(h.needed, 4);
            }
            other => panic!("{other:?}"),
        }
        let unknown = hold_for_review(&entry(1, 6, device()).movement, &catalog, day, review);
        assert!(
            matches!(unknown.outcome, Outcome::Rejected(r) if r.code == crate::RejectCode::UnknownProduct)
        );
    }
}
