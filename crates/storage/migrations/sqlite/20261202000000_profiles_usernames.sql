-- Versioned profiles, usernames and username links (SQLite).

-- One row per (account, profile version); every field but version and commitment is
-- client ciphertext or an avatar object key.
CREATE TABLE profiles (
    aci                  BLOB NOT NULL,
    version              TEXT NOT NULL,
    name                 BLOB,
    about                BLOB,
    about_emoji          BLOB,
    avatar               TEXT,
    payment_address      BLOB,
    phone_number_sharing BLOB,
    commitment           BLOB NOT NULL,
    PRIMARY KEY (aci, version)
) WITHOUT ROWID;

-- A username hash belongs to one account at a time. state 0 = reserved, 1 = confirmed,
-- 2 = held (recently released; only the former owner may take it back). expires_at is NULL
-- exactly for confirmed rows.
CREATE TABLE usernames (
    hash       BLOB    NOT NULL PRIMARY KEY,
    aci        BLOB    NOT NULL,
    state      INTEGER NOT NULL,
    expires_at INTEGER,
    CHECK ((state = 1) = (expires_at IS NULL))
);
CREATE INDEX usernames_aci ON usernames (aci, state);
-- At most one confirmed username per account.
CREATE UNIQUE INDEX usernames_one_confirmed ON usernames (aci) WHERE state = 1;
CREATE INDEX usernames_expires_at ON usernames (expires_at) WHERE expires_at IS NOT NULL;

-- At most one link per account; the handle is what the link URL carries.
CREATE TABLE username_links (
    handle    BLOB NOT NULL PRIMARY KEY,
    aci       BLOB NOT NULL,
    encrypted BLOB NOT NULL,
    CONSTRAINT username_links_aci_uq UNIQUE (aci)
);
