-- Thumbnails come from the client that uploads a photo (checked when it completes) or,
-- for a client that sends none, from a background job of the server. Their state belongs to
-- the bytes (a blob) and is copied onto each photo for the wire; photos from before this
-- migration already have the server's thumbnail.
ALTER TABLE blobs ADD COLUMN thumbnails TEXT NOT NULL DEFAULT 'ready';
ALTER TABLE photos ADD COLUMN thumbnails TEXT NOT NULL DEFAULT 'ready';
-- The client's thumbnails as declared (JSON array of kind, sha256, size) until the photo
-- completes.
ALTER TABLE photos ADD COLUMN declared_thumbnails TEXT;

-- Large originals sent in parts: one upload under way per photo, so a cut one resumes.
CREATE TABLE multipart_uploads (
    photo_id   TEXT PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    upload_id  TEXT NOT NULL,
    object_key TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    size       BIGINT NOT NULL,
    part_size  BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Thumbnails the server still has to make, claimed with a lease like deliveries, so any
-- number of workers share them and none is lost when one stops.
CREATE TABLE thumbnail_jobs (
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    sha256          TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    lease_owner     TEXT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (user_id, sha256)
);
CREATE INDEX thumbnail_jobs_due ON thumbnail_jobs (next_attempt_at);

-- Blobs from before had one 512 px thumbnail and no preview: make both again.
INSERT INTO thumbnail_jobs (user_id, sha256, attempts, next_attempt_at, created_at)
    SELECT user_id, sha256, 0, 0, created_at FROM blobs;
