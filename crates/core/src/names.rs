//! The stable names of a movement's kind, outcome and review flags (and of an alert's
//! kind), as the server's SQL,
//! the API, the replica and the UI spell them: defined here once, typed, so a view
//! type carries an enum rather than a `String` (and the UI's generated declarations a
//! union). Each is the serde name of the matching variant of [`MovementKind`],
//! [`Outcome`] and [`Flag`], which the tests check.

use crate::movement::MovementKind;
use crate::replay::{Flag, Outcome};

/// Defines a name enum with its `ALL` list, `as_str`, `Display`, `FromStr`, and
/// comparisons with `&str` (so `outcome.name() == "held"` reads as before). A variant
/// may carry its own doc; its text is added to it. Paths are absolute, so other modules
/// of core use it too (`replay::RejectCode`).
macro_rules! names {
    ($(#[$doc:meta])* $name:ident { $($(#[doc = $vdoc:literal])* $variant:ident = $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            ::serde::Serialize, ::serde::Deserialize,
        )]
        pub enum $name {
            $(
                $(#[doc = $vdoc])*
                #[doc = concat!("\n\n`", $text, "`")]
                #[serde(rename = $text)]
                $variant,
            )+
        }

        impl $name {
            /// Every name, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The stable text.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::names::UnknownName;

            fn from_str(s: &str) -> Result<Self, $crate::names::UnknownName> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::names::UnknownName {
                        what: stringify!($name),
                        value: s.to_owned(),
                    }),
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::names::UnknownName;

            fn try_from(s: String) -> Result<Self, $crate::names::UnknownName> {
                s.parse()
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

pub(crate) use names;

/// A text that is none of a name enum's names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{value}`")]
pub struct UnknownName {
    pub what: &'static str,
    pub value: String,
}

names!(
    /// What a movement does: the tag of [`MovementKind`].
    KindName {
        Receive = "receive",
        Ship = "ship",
        Transfer = "transfer",
        Adjust = "adjust",
        Count = "count",
    }
);

names!(
    /// Where a movement came from (an online request or a device's journal): the name of
    /// [`crate::Origin`].
    OriginName {
        Online = "online",
        Journal = "journal",
    }
);

names!(
    /// What became of a movement: the tag of [`Outcome`].
    OutcomeName {
        Applied = "applied",
        Absorbed = "absorbed",
        Superseded = "superseded",
        Held = "held",
        Rejected = "rejected",
        Voided = "voided",
    }
);

names!(
    /// What a person should review: the tag of [`Flag`].
    FlagName {
        NegativeRow = "negative_row",
        CountVariance = "count_variance",
        ExpiredLotMoved = "expired_lot_moved",
        InactiveProduct = "inactive_product",
        InactiveLocation = "inactive_location",
        Forced = "forced",
        OutcomeRepaired = "outcome_repaired",
        DatedBeforeDevice = "dated_before_device",
        DatedLongAgo = "dated_long_ago",
        Redated = "redated",
        UnknownOrderLine = "unknown_order_line",
        OrderLineMismatch = "order_line_mismatch",
        OverReceipt = "over_receipt",
        ReceiptOrderNotOpen = "receipt_order_not_open",
        PickOtherRow = "pick_other_row",
        OverPick = "over_pick",
        LotExpiryDiffers = "lot_expiry_differs",
    }
);

names!(
    /// What an alert is about (the server raises them, the webhooks and the desktop's
    /// bell carry them); each is also the name of the event the alert is sent as.
    AlertKind {
        StockLow = "stock.low",
        LotExpiring = "lot.expiring",
        ConflictHeld = "conflict.held",
        CountVariance = "count.variance",
        DeviceSilent = "device.silent",
        WebhookDisabled = "webhook.disabled",
    }
);

impl MovementKind {
    /// The kind's name.
    pub const fn name(&self) -> KindName {
        match self {
            MovementKind::Receive { .. } => KindName::Receive,
            MovementKind::Ship { .. } => KindName::Ship,
            MovementKind::Transfer { .. } => KindName::Transfer,
            MovementKind::Adjust { .. } => KindName::Adjust,
            MovementKind::Count { .. } => KindName::Count,
        }
    }
}

impl crate::Origin {
    /// The origin's name.
    pub const fn name(self) -> OriginName {
        match self {
            crate::Origin::Online => OriginName::Online,
            crate::Origin::Journal => OriginName::Journal,
        }
    }
}

impl Outcome {
    /// The outcome's name.
    pub const fn name(&self) -> OutcomeName {
        match self {
            Self::Applied { .. } => OutcomeName::Applied,
            Self::Absorbed => OutcomeName::Absorbed,
            Self::Superseded => OutcomeName::Superseded,
            Self::Held(_) => OutcomeName::Held,
            Self::Rejected(_) => OutcomeName::Rejected,
            Self::Voided { .. } => OutcomeName::Voided,
        }
    }
}

impl Flag {
    /// The flag's name.
    pub const fn name(&self) -> FlagName {
        match self {
            Flag::NegativeRow { .. } => FlagName::NegativeRow,
            Flag::CountVariance { .. } => FlagName::CountVariance,
            Flag::ExpiredLotMoved { .. } => FlagName::ExpiredLotMoved,
            Flag::InactiveProduct => FlagName::InactiveProduct,
            Flag::InactiveLocation { .. } => FlagName::InactiveLocation,
            Flag::Forced => FlagName::Forced,
            Flag::OutcomeRepaired { .. } => FlagName::OutcomeRepaired,
            Flag::DatedBeforeDevice { .. } => FlagName::DatedBeforeDevice,
            Flag::DatedLongAgo { .. } => FlagName::DatedLongAgo,
            Flag::Redated { .. } => FlagName::Redated,
            Flag::UnknownOrderLine { .. } => FlagName::UnknownOrderLine,
            Flag::OrderLineMismatch { .. } => FlagName::OrderLineMismatch,
            Flag::OverReceipt { .. } => FlagName::OverReceipt,
            Flag::ReceiptOrderNotOpen { .. } => FlagName::ReceiptOrderNotOpen,
            Flag::PickOtherRow { .. } => FlagName::PickOtherRow,
            Flag::OverPick { .. } => FlagName::OverPick,
            Flag::LotExpiryDiffers { .. } => FlagName::LotExpiryDiffers,
        }
    }
}
