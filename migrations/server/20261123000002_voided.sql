-- A manager may void a held movement (it will never apply; kept with the reason).
-- NOT VALID then VALIDATE: the check of existing rows does not block writers meanwhile.
alter table movement drop constraint movement_outcome_check;
alter table movement add constraint movement_outcome_check
    check (outcome in ('applied', 'absorbed', 'superseded', 'held', 'rejected', 'voided')) not valid;
alter table movement validate constraint movement_outcome_check;
