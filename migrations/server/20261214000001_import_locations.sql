-- Locations, lots, suppliers and customers can be imported too (crate::bulk::import).
alter table import_job drop constraint import_job_kind_check;
alter table import_job add constraint import_job_kind_check
    check (kind in ('products', 'locations', 'lots', 'suppliers', 'customers'));
