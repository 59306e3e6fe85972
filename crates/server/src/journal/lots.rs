//! Lots a device created while receiving offline (`logiflow_core::lots`, DESIGN §5.6).
//! Before a push's movements are decided, each lot the push declares and a movement
//! names is created with the device's id, or mapped to the lot the server keeps for that
//! product and code (`lot_alias`, so later pushes naming the device's id reach it too),
//! as `logiflow_core::lots::reconcile` decides. The movements are then decided with the
//! lot the server keeps, and a receipt whose device typed another expiry date than that
//! lot keeps is flagged `lot_expiry_differs`.
//!
//! For a push this runs in a transaction of its own, committed before the push's rounds
//! (`super::declare_lots`, once the session is known to be the device's): it locks
//! the declared lots' products (in id order, so declarations of the same lot by two
//! devices pushing at once run one after the other and the second finds the first's
//! lot) and nothing else, so it cannot deadlock with the rounds' stock row locks. Should
//! the push then fail, the lots stay: they are what the device declared, and its next
//! push finds them. A lot of a product that is unknown or not lot-tracked is not
//! created; core's `validate` then rejects the movements naming it.
//!
//! The flag is a fact of the declaration: a receipt held first (its device's clock ran
//! ahead) keeps it when it is retried or forced later ([`keep_declared_flags`]).
//!
//! Creating a lot this way needs no catalog permission: it is part of a receipt, which
//! the device's user may record. Each created lot is audited (`lot.create`, by that
//! user) and pulled by the other devices like any catalog change.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use logiflow_core::lots::{Existing, keep_declared, reconcile};
use logiflow_core::{
    Decision, Flag, LotId, LotRecord, Movement, MovementId, MovementKind, PushedMovement,
};
use uuid::Uuid;

use crate::access::Principal;
use crate::db::TenantTx;
use crate::error::ApiResult;
use crate::store;
use crate::store::catalog_change::{Entity, Write};

/// What the declared lots became: the lot each declared id goes into, where that is
/// another lot, and the flag a receipt into it carries.
#[derive(Debug, Default)]
pub struct Declared {
    mapped: HashMap<LotId, LotId>,
    flags: HashMap<LotId, Flag>,
}

impl Declared {
    /// `movements` with the lots the server keeps (as they are, not copied, when no
    /// declared lot went into another: nearly every push), and the flags of the
    /// receipts among them, by movement.
    pub fn apply<'a>(
        &self,
        movements: &'a [PushedMovement],
    ) -> (Cow<'a, [PushedMovement]>, HashMap<MovementId, Flag>) {
        let flags = movements
            .iter()
            .filter(|p| matches!(p.movement.kind, MovementKind::Receive { .. }))
            .filter_map(|p| Some((p.movement.id, self.flags.get(&p.movement.lot?)?.clone())))
            .collect();
        if self.mapped.is_empty() {
            return (Cow::Borrowed(movements), flags);
        }
        let movements = movements
            .iter()
            .map(|p| {
                let mut p = p.clone();
                if let Some(kept) = p.movement.lot.and_then(|lot| self.mapped.get(&lot)) {
                    p.movement.lot = Some(*kept);
                }
                p
            })
            .collect();
        (Cow::Owned(movements), flags)
    }
}

fn existing(id: Option<Uuid>, expires_on: Option<chrono::NaiveDate>) -> Option<Existing> {
    id.map(|id| Existing {
        id: LotId::from_uuid(id),
        expires_on,
    })
}

/// Creates `lot` as the device declared it, audited and in the catalog feed.
async fn create(tx: &mut TenantTx, principal: &Principal, lot: &LotRecord) -> ApiResult<()> {
    let row = store::lots::insert_with_id(
        tx,
        lot.id.as_uuid(),
        lot.product.as_uuid(),
        lot.code.as_str(),
        lot.expires_on,
    )
    .await?;
    store::catalog_change::record(
        tx,
        principal,
        Write {
            entity: Entity::Lot,
            id: row.id,
            warehouse_id: None,
            action: "lot.create",
            before: None,
            after: Some(&row),
        },
    )
    .await
}

/// Creates or maps the lots of `lots` that `movements` name (see the module docs), in
/// the caller's transaction, which must hold no stock row lock (the products are
/// locked here) and must have checked that the caller may declare them (the device's
/// own session, or a manager uploading a revoked device's journal).
pub async fn declare(
    tx: &mut TenantTx,
    principal: &Principal,
    lots: &[LotRecord],
    movements: &[PushedMovement],
) -> ApiResult<Declared> {
    let named: std::collections::BTreeSet<LotId> =
        movements.iter().filter_map(|p| p.movement.lot).collect();
    // One declaration per id, in id order; those no movement names are ignored.
    let declared: BTreeMap<LotId, &LotRecord> = lots
        .iter()
        .filter(|l| named.contains(&l.id))
        .map(|l| (l.id, l))
        .collect();
    if declared.is_empty() {
        return Ok(Declared::default());
    }
    let mut products: Vec<Uuid> = declared.values().map(|l| l.product.as_uuid()).collect();
    products.sort();
    products.dedup();
    let tracked = store::products::lot_tracked_for_update(tx, &products).await?;
    let declared: Vec<&LotRecord> = declared
        .into_values()
        .filter(|l| tracked.contains(&l.product.as_uuid()))
        .collect();
    let matches = store::lots::declared_matches(
        tx,
        &declared.iter().map(|l| l.id.as_uuid()).collect::<Vec<_>>(),
        &declared
            .iter()
            .map(|l| l.product.as_uuid())
            .collect::<Vec<_>>(),
        &declared
            .iter()
            .map(|l| l.code.to_string())
            .collect::<Vec<_>>(),
    )
    .await?;
    let matches: HashMap<Uuid, store::lots::DeclaredMatch> =
        matches.into_iter().map(|m| (m.id, m)).collect();

    let mut out = Declared::default();
    // Lots created by this declaration, by product and code: a second declared id of
    // the same code (one device should never send one) goes into the first.
    let mut created: HashMap<(Uuid, String), Existing> = HashMap::new();
    let mut aliases: (Vec<Uuid>, Vec<Uuid>) = (Vec::new(), Vec::new());
    for lot in declared {
        let m = matches.get(&lot.id.as_uuid());
        let same_code = created
            .get(&(lot.product.as_uuid(), lot.code.to_string()))
            .copied();
        let r = reconcile(
            lot,
            m.and_then(|m| existing(m.mapped, m.mapped_expires_on)),
            m.and_then(|m| existing(m.by_id, m.by_id_expires_on)),
            same_code.or_else(|| m.and_then(|m| existing(m.by_code, m.by_code_expires_on))),
        );
        if r.create {
            create(tx, principal, lot).await?;
            created.insert(
                (lot.product.as_uuid(), lot.code.to_string()),
                Existing {
                    id: lot.id,
                    expires_on: lot.expires_on,
                },
            );
        } else if r.lot != lot.id {
            aliases.0.push(lot.id.as_uuid());
            aliases.1.push(r.lot.as_uuid());
            out.mapped.insert(lot.id, r.lot);
        }
        if let Some(flag) = r.flag {
            out.flags.insert(lot.id, flag);
        }
    }
    store::lots::insert_aliases(tx, &aliases.0, &aliases.1).await?;
    Ok(out)
}

/// Held movements decided again (those of `decided` that are not new) keep the flags
/// they were declared with (`logiflow_core::lots::keep_declared`), read from what is
/// stored: one statement, none when every movement is new.
pub(crate) async fn keep_declared_flags(
    tx: &mut TenantTx,
    decided: &mut [(Movement, Decision, bool)],
) -> ApiResult<()> {
    let ids: Vec<Uuid> = decided
        .iter()
        .filter(|(_, _, is_new)| !is_new)
        .map(|(m, _, _)| m.id.as_uuid())
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let stored = store::movements::flags_of(tx, &ids).await?;
    for (m, d, is_new) in decided.iter_mut() {
        if let Some(before) = stored.get(&m.id.as_uuid()).filter(|_| !*is_new) {
            keep_declared(before, &mut d.flags);
        }
    }
    Ok(())
}
