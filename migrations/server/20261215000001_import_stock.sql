-- Opening stock can be imported too, as counts or receipts (crate::bulk::import::stock).
alter table import_job drop constraint import_job_kind_check;
alter table import_job add constraint import_job_kind_check
    check (kind in ('products', 'locations', 'lots', 'suppliers', 'customers', 'stock'));
