-- Issue #14: `catalog_change.data` held a JSON copy of every catalog record at each write,
-- and nothing read it: a device's pull sends the record's current row, and the audit log
-- keeps each write's before and after. Dropping the column drops that cost from every
-- catalog write. (Dropping a column only marks it dropped: no table rewrite.)
alter table catalog_change drop column data;
