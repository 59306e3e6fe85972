-- Device pulls (DESIGN §5.5): "what committed after this snapshot", by transaction id.
-- A pull reads a range of `xid` from the oldest transaction its cursor had not seen,
-- so each feed needs an index leading with the tenant and the transaction id.

-- Ledger effects, for the movement effects and stock rows of a device's scope.
create index movement_effect_xid_idx on movement_effect (tenant_id, xid);

-- A device's own movements whose outcome was decided or changed (held → applied by a
-- retry, forced, voided): `movement.xid` moves to the deciding transaction.
create index movement_device_xid_idx on movement (tenant_id, device_id, xid)
    where device_id is not null;
