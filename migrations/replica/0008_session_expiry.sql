-- When the device's session ends unless it is refreshed before (the refresh token's
-- expiry, as the server announced it with the last token pair): status shows it and the
-- app warns some days before. Not a secret: only a time. Null until the next token pair.
alter table sync_state add column session_expires_at_ns integer;
