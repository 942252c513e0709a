-- Reminders before a capsule's open date: one row per address and capsule, sent through
-- the same kind of outbox as deliveries (a lease, retries, one email each), and addresses
-- that asked for no more reminders (one-click unsubscribe).
CREATE TABLE reminders (
    id              TEXT PRIMARY KEY,
    capsule_id      TEXT NOT NULL REFERENCES capsules(id) ON DELETE CASCADE,
    recipient       TEXT NOT NULL,
    to_owner        BIGINT NOT NULL,
    show_title      BIGINT NOT NULL,
    status          TEXT NOT NULL, -- queued | sent | failed | bounced | unsubscribed
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    lease_owner     TEXT,
    last_error      TEXT,
    sent_at         BIGINT,
    created_at      BIGINT NOT NULL,
    UNIQUE (capsule_id, recipient)
);
CREATE INDEX reminders_due ON reminders (status, next_attempt_at);

CREATE TABLE unsubscribed (
    address TEXT PRIMARY KEY,
    at      BIGINT NOT NULL
);
