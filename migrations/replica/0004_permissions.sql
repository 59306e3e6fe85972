-- What the device's user may do on the server (`/v1/me`'s permission names, a JSON
-- array), read at each sync. The app shows the conflict inbox's force and void actions
-- only to a user who may resolve conflicts, and it must know that offline too. Null
-- until the first sync after this migration. Not a secret, and the server checks the
-- permission again on every call: this only decides what the screen offers.
alter table sync_state add column permissions text;
