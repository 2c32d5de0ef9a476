-- caseflow core tables (SQLite dialect; postgres/0001_core.sql is the same schema).
-- UUIDs are 16-byte BLOBs (UUIDv7: byte order is time order), times are RFC 3339
-- text in UTC, JSON is text.

CREATE TABLE organisations (
    id          BLOB PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);

CREATE TABLE users (
    id             BLOB PRIMARY KEY,
    org_id         BLOB NOT NULL REFERENCES organisations (id),
    email          TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    roles          TEXT NOT NULL DEFAULT '[]',
    active         INTEGER NOT NULL DEFAULT 1,
    created_at     TEXT NOT NULL
);
CREATE INDEX users_org ON users (org_id);

CREATE TABLE workflow_definitions (
    org_id        BLOB NOT NULL REFERENCES organisations (id),
    workflow      TEXT NOT NULL,
    version       INTEGER NOT NULL,
    title         TEXT NOT NULL,
    source        TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    published_by  TEXT NOT NULL,
    published_at  TEXT NOT NULL,
    PRIMARY KEY (org_id, workflow, version)
);

CREATE TABLE cases (
    id                BLOB PRIMARY KEY,
    org_id            BLOB NOT NULL REFERENCES organisations (id),
    workflow          TEXT NOT NULL,
    workflow_version  INTEGER NOT NULL,
    state             TEXT NOT NULL,
    data              TEXT NOT NULL,
    version           INTEGER NOT NULL,
    audit_hash        TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    created_by        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    updated_by        TEXT NOT NULL,
    closed_at         TEXT,
    closed_by         TEXT,
    deleted_at        TEXT,
    deleted_by        TEXT,
    legal_hold        INTEGER NOT NULL DEFAULT 0,
    FOREIGN KEY (org_id, workflow, workflow_version)
        REFERENCES workflow_definitions (org_id, workflow, version)
);
CREATE INDEX cases_org_workflow_state ON cases (org_id, workflow, state, id);
CREATE INDEX cases_org_id ON cases (org_id, id);

CREATE TABLE audit_entries (
    case_id     BLOB NOT NULL REFERENCES cases (id),
    seq         INTEGER NOT NULL,
    org_id      BLOB NOT NULL,
    transition  TEXT,
    from_state  TEXT,
    to_state    TEXT NOT NULL,
    actor       TEXT NOT NULL,
    form        TEXT,
    changes     TEXT NOT NULL,
    reasons     TEXT NOT NULL,
    request_id  TEXT,
    recorded_at TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    PRIMARY KEY (case_id, seq)
);

CREATE TABLE outbox (
    id            BLOB PRIMARY KEY,
    org_id        BLOB NOT NULL,
    case_id       BLOB NOT NULL,
    seq           INTEGER NOT NULL,
    kind          TEXT NOT NULL,
    payload       TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'pending',
    attempts      INTEGER NOT NULL DEFAULT 0,
    available_at  TEXT NOT NULL,
    processed_at  TEXT
);
CREATE INDEX outbox_pending ON outbox (status, available_at);

CREATE TABLE notifications (
    id          BLOB PRIMARY KEY,
    org_id      BLOB NOT NULL,
    user_id     BLOB,
    case_id     BLOB,
    template    TEXT NOT NULL,
    subject     TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    read_at     TEXT
);
CREATE INDEX notifications_user ON notifications (org_id, user_id, created_at);
