-- Issue #20: held movements are read by the row they wait on, and a movement's outcome
-- agrees with its ledger effects.

-- The row a held movement waits on (`outcome_detail.waiting_on`) as columns, so that a
-- push reads the held movements of exactly the rows it raises or counts, in the order
-- they occurred, from the time it raised them: one index range per row, instead of every
-- held movement of the product on every push (quadratic when thousands are held). Only
-- holds that wait for stock have them: a hold for a person (`outcome_detail.review`) is
-- never retried automatically, so it is not in this index. `wait_lot_id` uses the nil
-- uuid for "no lot", as stock_row.lot_id does.
alter table movement add column wait_location_id uuid, add column wait_lot_id uuid;

update movement
set wait_location_id = (outcome_detail -> 'waiting_on' ->> 'location')::uuid,
    wait_lot_id = coalesce((outcome_detail -> 'waiting_on' ->> 'lot')::uuid,
                           '00000000-0000-0000-0000-000000000000')
where outcome = 'held' and outcome_detail -> 'review' is null;

create index movement_waiting_idx
    on movement (tenant_id, product_id, wait_location_id, wait_lot_id, occurred_at, id)
    where outcome = 'held' and wait_location_id is not null;

-- One-off repair. Before this version, concurrent pushes and resolutions could leave a
-- movement `held` or `voided` although its effects were booked in the ledger (and in
-- the stock rows, which equal the ledger). The stock is right and the outcome is not:
-- such a movement did move stock, so it becomes `applied`, flagged for a person to look
-- at (`outcome_repaired` names the outcome it had), which puts it in the conflict inbox.
-- The stock rows are not touched. Kept as a function (for the owner only) so that the
-- repair can be run again and tested; returns how many movements it repaired.
create function repair_movement_outcomes() returns bigint
language sql as $$
    with repaired as (
        update movement m
        set outcome = 'applied',
            outcome_detail = null,
            wait_location_id = null,
            wait_lot_id = null,
            flags = m.flags || jsonb_build_array(
                jsonb_build_object('flag', 'outcome_repaired', 'was', m.outcome)),
            xid = pg_current_xact_id()
        where m.outcome in ('held', 'voided')
          and exists (select 1 from movement_effect e
                      where e.tenant_id = m.tenant_id and e.movement_id = m.id)
        returning 1
    )
    select count(*) from repaired
$$;
revoke all on function repair_movement_outcomes() from public;

select repair_movement_outcomes();
