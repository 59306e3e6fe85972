//! Lots created offline (DESIGN §5.6): a device receiving goods of a lot it does not know
//! yet creates the lot itself, with an id of its own and the expiry date typed at the
//! dock, and names it in the push ([`crate::PushRequest::lots`]). The server decides
//! what each declared lot becomes with [`reconcile`]:
//!
//! 1. the declared id was mapped before (an earlier push of the same device, or a
//!    re-send) → the lot it was mapped to;
//! 2. a lot with that id exists → that lot (the device's own, created by an earlier push);
//! 3. the product already has a lot of that code (created online meanwhile, or by another
//!    device that received the same lot offline) → that lot: the printed lot code is the
//!    lot's identity, so both receipts go into one lot, and the declared id is mapped to
//!    it for later pushes;
//! 4. otherwise → a new lot, with the device's id and expiry date.
//!
//! In cases 1–3 the lot keeps its expiry date; a receipt whose device typed another one
//! is applied (the goods are there) and flagged [`Flag::LotExpiryDiffers`] so a person
//! checks the label.
//!
//! Worked example: devices A and B are offline and both receive lot `L7` of product P,
//! A typing expiry 2027-06-30 and B 2027-07-31. A pushes first: nothing of `L7` exists,
//! so A's lot is created (case 4). B pushes: its id is unknown but P has `L7` (case 3),
//! so B's receipt goes into A's lot, flagged with `recorded: 2027-07-31`,
//! `kept: 2027-06-30` \[`two_devices_receiving_one_lot_share_it`\].
//!
//! That flag tells how the receipt was declared, not how it was decided: a receipt
//! held first (its device's clock ran ahead, say) and decided again later keeps it,
//! after the flags of its new decision ([`keep_declared`]).

use chrono::NaiveDate;

use crate::{Flag, LotId, LotRecord};

/// What a declared lot becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconciled {
    /// The lot the declaring device's movements go into.
    pub lot: LotId,
    /// Whether the lot is new: the server creates it as declared.
    pub create: bool,
    /// The flag the receipts into it carry, when the device typed another expiry date
    /// than the lot keeps.
    pub flag: Option<Flag>,
}

/// What the server holds that a declared lot may match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Existing {
    /// The lot's id.
    pub id: LotId,
    /// Its expiry date.
    pub expires_on: Option<NaiveDate>,
}

/// The rule of the module docs: `mapped` is the lot the declared id was mapped to
/// before, `by_id` the lot with the declared id, `by_code` the product's lot with the
/// declared code (each if any).
pub fn reconcile(
    declared: &LotRecord,
    mapped: Option<Existing>,
    by_id: Option<Existing>,
    by_code: Option<Existing>,
) -> Reconciled {
    let Some(existing) = mapped.or(by_id).or(by_code) else {
        return Reconciled {
            lot: declared.id,
            create: true,
            flag: None,
        };
    };
    Reconciled {
        lot: existing.id,
        create: false,
        flag: (existing.expires_on != declared.expires_on).then_some(Flag::LotExpiryDiffers {
            lot: existing.id,
            recorded: declared.expires_on,
            kept: existing.expires_on,
        }),
    }
}

/// Whether `flag` tells how its movement was declared rather than how it was decided:
/// such a flag stays with a held movement that is decided again.
pub const fn is_declared(flag: &Flag) -> bool {
    matches!(flag, Flag::LotExpiryDiffers { .. })
}

/// The flags of a held movement decided again: the new decision's `decided`, then the
/// declared flags it carried `before` ([`is_declared`]) that `decided` lacks. A flag of
/// the earlier decision that is not declared is dropped: the new decision says again
/// what still holds.
pub fn keep_declared(before: &[Flag], decided: &mut Vec<Flag>) {
    for flag in before.iter().filter(|f| is_declared(f)) {
        if !decided.contains(flag) {
            decided.push(flag.clone());
        }
    }
}
