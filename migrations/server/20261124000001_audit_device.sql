-- The device a write was made from. A device signs in through a session of its own
-- (`session.device_id`), as its user: the actor columns name the person, this names the
-- device, so an audited write made from a desktop app (a manager forcing or voiding a
-- held movement from its conflict inbox) says both who and from where. Null for writes
-- through a person's own session, an API key or the platform CLI.
-- No foreign key: an audit row outlives what it names, as actor_id does.
alter table audit_log add column device_id uuid;
