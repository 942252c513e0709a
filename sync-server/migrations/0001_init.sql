-- One schema for SQLite and PostgreSQL: TEXT ids, BIGINT times in Unix milliseconds,
-- no booleans, no serial columns, so the same queries run on both.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    -- Per-user change sequence; bumped first in every write transaction so that a user's
    -- changes commit in sequence order and SQLite takes its write lock up front.
    change_seq    BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);

-- A session is a refresh-token family: one log-in on one device.
CREATE TABLE sessions (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    device_name    TEXT,
    created_at     BIGINT NOT NULL,
    last_used_at   BIGINT NOT NULL,
    revoked_at     BIGINT,
    revoked_reason TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

CREATE TABLE capsules (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title      TEXT NOT NULL,
    note       TEXT NOT NULL,
    open_at    BIGINT,
    time_zone  TEXT NOT NULL,
    recipients TEXT NOT NULL, -- JSON array of normalised addresses
    state      TEXT NOT NULL,
    version    BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    sealed_at  BIGINT,
    opened_at  BIGINT
);
CREATE INDEX capsules_user ON capsules (user_id);
CREATE INDEX capsules_due ON capsules (state, open_at);

-- Verified originals, content-addressed per user: the unit of dedupe.
CREATE TABLE blobs (
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    sha256       TEXT NOT NULL,
    size         BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    width        BIGINT NOT NULL,
    height       BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (user_id, sha256)
);

CREATE TABLE photos (
    id           TEXT PRIMARY KEY,
    capsule_id   TEXT NOT NULL REFERENCES capsules(id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    sha256       TEXT NOT NULL,
    size         BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    file_name    TEXT,
    taken_at     BIGINT,
    state        TEXT NOT NULL,
    width        BIGINT,
    height       BIGINT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX photos_capsule ON photos (capsule_id);
CREATE INDEX photos_user_sha ON photos (user_id, sha256);

-- Latest change per entity; the sync feed reads it by (user_id, seq), so a pull costs
-- what changed since the cursor, not the size of the library.
CREATE TABLE changes (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    capsule_id TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    deleted    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, kind, entity_id)
);
CREATE INDEX changes_user_seq ON changes (user_id, seq);

-- Failed log-in counters per account and per client address, in the database so that
-- every replica sees the same counts.
CREATE TABLE auth_throttle (
    key          TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    failures     BIGINT NOT NULL
);
