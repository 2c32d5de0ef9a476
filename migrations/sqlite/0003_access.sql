-- Keys for machine clients (a referral portal posting referrals): only a
-- SHA-256 of each key is kept; a key acts with its own roles.
CREATE TABLE api_keys (
    id          BLOB PRIMARY KEY,
    org_id      BLOB NOT NULL REFERENCES organisations (id),
    name        TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,
    roles       TEXT NOT NULL DEFAULT '[]',
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    revoked_at  TEXT,
    UNIQUE (org_id, name)
);

-- Refused sign-ins, kept to slow down guessing and for alerts.
CREATE TABLE sign_in_failures (
    email  TEXT NOT NULL,
    at     TEXT NOT NULL
);
CREATE INDEX sign_in_failures_email ON sign_in_failures (email, at);

-- The first answer to a request sent with an Idempotency-Key; `status` is
-- NULL while the first request is still being answered.
CREATE TABLE idempotency_keys (
    org_id       BLOB NOT NULL,
    key          TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    status       INTEGER,
    body         TEXT,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (org_id, key)
);

-- Who read which case record, when: regulators ask for access logs.
CREATE TABLE case_reads (
    org_id      BLOB NOT NULL,
    case_id     BLOB NOT NULL,
    reader      TEXT NOT NULL,
    what        TEXT NOT NULL,
    request_id  TEXT,
    at          TEXT NOT NULL
);
CREATE INDEX case_reads_case ON case_reads (org_id, case_id, at);
