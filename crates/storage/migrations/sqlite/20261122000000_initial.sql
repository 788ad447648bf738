-- Initial Heliograph schema (SQLite).
-- UUIDs are 16-byte blobs; times are epoch milliseconds; JSON documents are text.

-- One document per account. The unique columns are copies of fields of `data`, kept in sync
-- by the store, so lookups by any identity use an index.
CREATE TABLE accounts (
    aci     BLOB    NOT NULL,
    pni     BLOB    NOT NULL,
    e164    TEXT    NOT NULL,
    version INTEGER NOT NULL,
    data    TEXT    NOT NULL,
    CONSTRAINT accounts_aci_pk PRIMARY KEY (aci),
    CONSTRAINT accounts_pni_uq UNIQUE (pni),
    CONSTRAINT accounts_e164_uq UNIQUE (e164)
);

-- One-time prekeys; kind 0 = EC, 1 = KEM; identity 0 = ACI, 1 = PNI. The primary key
-- doubles as the index that finds the lowest key id of a device in `take`.
CREATE TABLE one_time_prekeys (
    aci        BLOB    NOT NULL,
    identity   INTEGER NOT NULL,
    device     INTEGER NOT NULL,
    kind       INTEGER NOT NULL,
    key_id     INTEGER NOT NULL,
    public_key BLOB    NOT NULL,
    PRIMARY KEY (aci, identity, device, kind, key_id)
) WITHOUT ROWID;

-- Signed EC prekey (kind 0) and last-resort KEM prekey (kind 1): one of each per device.
CREATE TABLE signed_prekeys (
    aci        BLOB    NOT NULL,
    identity   INTEGER NOT NULL,
    device     INTEGER NOT NULL,
    kind       INTEGER NOT NULL,
    key_id     INTEGER NOT NULL,
    public_key BLOB    NOT NULL,
    signature  BLOB,
    PRIMARY KEY (aci, identity, device, kind)
) WITHOUT ROWID;

CREATE TABLE verification_sessions (
    id         BLOB    NOT NULL PRIMARY KEY,
    expires_at INTEGER NOT NULL,
    state      TEXT    NOT NULL
);
CREATE INDEX verification_sessions_expires_at ON verification_sessions (expires_at);

-- AUTOINCREMENT so a queue position is never reused, even after the newest row is deleted.
CREATE TABLE messages (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    aci              BLOB    NOT NULL,
    device           INTEGER NOT NULL,
    guid             BLOB    NOT NULL,
    server_timestamp INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    story            INTEGER NOT NULL,
    urgent           INTEGER NOT NULL,
    envelope         BLOB    NOT NULL
);
-- Queue reads are range scans `aci = ? AND device = ? AND id > ? ORDER BY id LIMIT n` on this
-- index: cost is O(log n + limit) however many messages are queued in total.
CREATE INDEX messages_queue ON messages (aci, device, id);
-- Acknowledgements delete by GUID; unique per device copy.
CREATE UNIQUE INDEX messages_guid ON messages (aci, device, guid);
CREATE INDEX messages_expires_at ON messages (expires_at);

CREATE TABLE used_tokens (
    hash       BLOB    NOT NULL PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE INDEX used_tokens_expires_at ON used_tokens (expires_at);
