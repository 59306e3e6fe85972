-- Lots this device created while receiving offline (a lot code it did not know, with the
-- expiry date typed at receipt): `local = 1` until a pull carries the lot the server
-- keeps. A push declares the local lots its entries name (PushRequest.lots).
alter table lot add column local integer not null default 0;
create index lot_local on lot (product_id) where local = 1;
