-- Capsules sealed on a device arrive as age files: the server keeps only those while the
-- capsule is sealed. A capsule records what its files are locked to (drand round and chain,
-- and whether the server's escrow key opens them), when the server opened them, why it
-- could not yet (the beacon has not come), and the photos it refused at opening (JSON).
ALTER TABLE capsules ADD COLUMN seal_round BIGINT;
ALTER TABLE capsules ADD COLUMN seal_chain TEXT;
ALTER TABLE capsules ADD COLUMN seal_escrow BIGINT NOT NULL DEFAULT 0;
ALTER TABLE capsules ADD COLUMN unsealed_at BIGINT;
ALTER TABLE capsules ADD COLUMN unseal_lease_until BIGINT;
ALTER TABLE capsules ADD COLUMN unseal_waiting TEXT;
ALTER TABLE capsules ADD COLUMN refused_photos TEXT;

-- The sealed files a device declared for a capsule, and whether their bytes have arrived.
CREATE TABLE sealed_files (
    capsule_id TEXT NOT NULL REFERENCES capsules(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    size       BIGINT NOT NULL,
    received   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (capsule_id, name)
);

-- Verified drand rounds, so workers (and the Lambda) read them here once one has them.
CREATE TABLE beacons (
    chain_hash TEXT NOT NULL,
    round      BIGINT NOT NULL,
    signature  TEXT NOT NULL,
    fetched_at BIGINT NOT NULL,
    PRIMARY KEY (chain_hash, round)
);

-- Every use of the escrow key, kept after the capsule is gone.
CREATE TABLE escrow_uses (
    id         TEXT PRIMARY KEY,
    capsule_id TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    used_at    BIGINT NOT NULL,
    reason     TEXT NOT NULL
);

CREATE INDEX capsules_sealed_due ON capsules (state, open_at);
