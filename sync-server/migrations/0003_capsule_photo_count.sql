-- Photo count kept on the capsule row (maintained where photos are added and removed), so
-- reading a page of capsules needs no per-row count.
ALTER TABLE capsules ADD COLUMN photo_count BIGINT NOT NULL DEFAULT 0;
UPDATE capsules SET photo_count = (SELECT COUNT(*) FROM photos p WHERE p.capsule_id = capsules.id);
