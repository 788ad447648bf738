-- Initial Heliograph schema (PostgreSQL). Times are epoch milliseconds.

-- One document per account. The unique columns are copies of fields of `data`, kept in sync
-- by the store, so lookups by any identity use an index.
CREATE TABLE accounts (
    aci     UUID   NOT NULL,
    pni     UUID   NOT NULL,
    e164    TEXT   NOT NULL,
    version BIGINT NOT NULL,
    data    JSONB  NOT NULL,
    CONSTRAINT accounts_aci_pk PRIMARY KEY (aci),
    CONSTRAINT accounts_pni_uq UNIQUE (pni),
    CONSTRAINT accounts_e164_uq UNIQUE (e164)
);

-- One-time prekeys; kind 0 = EC, 1 = KEM; identity 0 = ACI, 1 = PNI. The primary key
-- doubles as the index that finds the lowest key id of a device in `take`.
CREATE TABLE one_time_prekeys (
    aci        UUID     NOT NULL,
    identity   SMALLINT NOT NULL,
    device     SMALLINT NOT NULL,
    kind       SMALLINT NOT NULL,
    key_id     BIGINT   NOT NULL,
    public_key BYTEA    NOT NULL,
    PRIMARY KEY (aci, identity, device, kind, key_id)
);

-- Signed EC prekey (kind 0) and last-resort KEM prekey (kind 1): one of each per device.
CREATE TABLE signed_prekeys (
    aci        UUID     NOT NULL,
    identity   SMALLINT NOT NULL,
    device     SMALLINT NOT NULL,
    kind       SMALLINT NOT NULL,
    key_id     BIGINT   NOT NULL,
    public_key BYTEA    NOT NULL,
    signature  BYTEA,
    PRIMARY KEY (aci, identity, device, kind)
);

CREATE TABLE verification_sessions (
    id         BYTEA  NOT NULL PRIMARY KEY,
    expires_at BIGINT NOT NULL,
    state      JSONB  NOT NULL
);
CREATE INDEX verification_sessions_expires_at ON verification_sessions (expires_at);

-- A bigserial never hands out a value twice, so queue positions only grow.
CREATE TABLE messages (
    id               BIGSERIAL PRIMARY KEY,
    aci              UUID     NOT NULL,
    device           SMALLINT NOT NULL,
    guid             UUID     NOT NULL,
    server_timestamp BIGINT   NOT NULL,
    expires_at       BIGINT   NOT NULL,
    story            BOOLEAN  NOT NULL,
    urgent           BOOLEAN  NOT NULL,
    envelope         BYTEA    NOT NULL
);
-- Queue reads are range scans `aci = $1 AND device = $2 AND id > $3 ORDER BY id LIMIT n` on
-- this index: cost is O(log n + limit) however many messages are queued in total.
CREATE INDEX messages_queue ON messages (aci, device, id);
-- Acknowledgements delete by GUID; unique per device copy.
CREATE UNIQUE INDEX messages_guid ON messages (aci, device, guid);
CREATE INDEX messages_expires_at ON messages (expires_at);

CREATE TABLE used_tokens (
    hash       BYTEA  NOT NULL PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX used_tokens_expires_at ON used_tokens (expires_at);
