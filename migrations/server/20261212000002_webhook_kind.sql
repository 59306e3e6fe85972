-- Slack-compatible webhook endpoints (issue #17): `standard` receives the event as JSON
-- (`{"type", "timestamp", "data"}`), `slack` as a chat message (`{"text"}`,
-- `src/webhooks/slack.rs`). Both are signed, retried and logged alike.
alter table webhook_endpoint add column kind text not null default 'standard'
    check (kind in ('standard', 'slack'));
