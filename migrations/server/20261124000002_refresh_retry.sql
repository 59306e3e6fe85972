-- A refresh whose answer was lost can be retried.
--
-- A device refreshes over links that drop: the server may rotate the token and commit
-- while the answer never arrives. Presenting the spent token again is what a thief does,
-- and it revokes the session; so a device would be signed out by a lost packet. Now the
-- client sends a random retry key with each exchange (saved beside its token before the
-- call); the server keeps its hash and the successor it issued. The same token with the
-- same key, while that successor is still unused (so the client never got it), is a
-- retry: the unused successor is deleted and a new one issued. Anything else is a reuse.
alter table refresh_token
    add column retry_key_hash bytea,
    add column successor_id uuid;
