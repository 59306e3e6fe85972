-- A held movement can now be voided by a manager on the server (outcome 'voided'): the
-- journal's outcome check gains it. SQLite cannot alter a check constraint, so the
-- journal is rebuilt with its rows, index and triggers, in this migration's transaction.
-- (DROP TABLE fires no delete trigger: the append-only rule stays intact for rows.)
create table journal_new (
    device_seq integer primary key check (device_seq > 0),
    id text not null unique,
    occurred_at_ns integer not null,
    recorded_at_ns integer not null,
    base_cursor text,
    user_id text not null,
    kind text not null,
    movement text not null,
    status text not null default 'pending' check (status in ('pending', 'pushed')),
    outcome text check (outcome in ('applied', 'absorbed', 'superseded', 'held', 'rejected', 'voided')),
    outcome_detail text,
    flagged integer not null default 0,
    settled integer not null default 0,
    pushed_at_ns integer
) strict;

insert into journal_new
    (device_seq, id, occurred_at_ns, recorded_at_ns, base_cursor, user_id, kind, movement,
     status, outcome, outcome_detail, flagged, settled, pushed_at_ns)
select device_seq, id, occurred_at_ns, recorded_at_ns, base_cursor, user_id, kind, movement,
       status, outcome, outcome_detail, flagged, settled, pushed_at_ns
from journal;

drop table journal;
alter table journal_new rename to journal;

create index journal_unsettled on journal (settled, device_seq);

create trigger journal_no_delete before delete on journal
begin
    select raise(abort, 'the journal is append-only');
end;

create trigger journal_movement_immutable
before update of device_seq, id, occurred_at_ns, recorded_at_ns, base_cursor, user_id, kind, movement
on journal
begin
    select raise(abort, 'a recorded movement never changes');
end;
