-- Versioned profiles, usernames and username links (PostgreSQL).

-- One row per (account, profile version); every field but version and commitment is
-- client ciphertext or an avatar object key.
CREATE TABLE profiles (
    aci                  UUID  NOT NULL,
    version              TEXT NOT NULL,
    name                 BYTEA,
    about                BYTEA,
    about_emoji          BYTEA,
    avatar               TEXT,
    payment_address      BYTEA,
    phone_number_sharing BYTEA,
    commitment           BYTEA NOT NULL,
    PRIMARY KEY (aci, version)
);

-- A username hash belongs to one account at a time. state 0 = reserved, 1 = confirmed,
-- 2 = held (recently released; only the former owner may take it back). expires_at is NULL
-- exactly for confirmed rows.
CREATE TABLE usernames (
    hash       BYTEA    NOT NULL PRIMARY KEY,
    aci        UUID     NOT NULL,
    state      SMALLINT NOT NULL,
    expires_at BIGINT,
    CHECK ((state = 1) = (expires_at IS NULL))
);
CREATE INDEX usernames_aci ON usernames (aci, state);
-- At most one confirmed username per account.
CREATE UNIQUE INDEX usernames_one_confirmed ON usernames (aci) WHERE state = 1;
CREATE INDEX usernames_expires_at ON usernames (expires_at) WHERE expires_at IS NOT NULL;

-- At most one link per account; the handle is what the link URL carries.
CREATE TABLE username_links (
    handle    UUID  NOT NULL PRIMARY KEY,
    aci       UUID  NOT NULL,
    encrypted BYTEA NOT NULL,
    CONSTRAINT username_links_aci_uq UNIQUE (aci)
);
