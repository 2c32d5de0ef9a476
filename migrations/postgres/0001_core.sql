-- caseflow core tables (PostgreSQL dialect; sqlite/0001_core.sql is the same schema).

CREATE TABLE organisations (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE users (
    id             UUID PRIMARY KEY,
    org_id         UUID NOT NULL REFERENCES organisations (id),
    email          TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    roles          JSONB NOT NULL DEFAULT '[]',
    active         BOOLEAN NOT NULL DEFAULT TRUE,
    created_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX users_org ON users (org_id);

CREATE TABLE workflow_definitions (
    org_id        UUID NOT NULL REFERENCES organisations (id),
    workflow      TEXT NOT NULL,
    version       BIGINT NOT NULL,
    title         TEXT NOT NULL,
    source        TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    published_by  TEXT NOT NULL,
    published_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_id, workflow, version)
);

CREATE TABLE cases (
    id                UUID PRIMARY KEY,
    org_id            UUID NOT NULL REFERENCES organisations (id),
    workflow          TEXT NOT NULL,
    workflow_version  BIGINT NOT NULL,
    state             TEXT NOT NULL,
    data              JSONB NOT NULL,
    version           BIGINT NOT NULL,
    audit_hash        TEXT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    created_by        TEXT NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    updated_by        TEXT NOT NULL,
    closed_at         TIMESTAMPTZ,
    closed_by         TEXT,
    deleted_at        TIMESTAMPTZ,
    deleted_by        TEXT,
    legal_hold        BOOLEAN NOT NULL DEFAULT FALSE,
    FOREIGN KEY (org_id, workflow, workflow_version)
        REFERENCES workflow_definitions (org_id, workflow, version)
);
CREATE INDEX cases_org_workflow_state ON cases (org_id, workflow, state, id);
CREATE INDEX cases_org_id ON cases (org_id, id);

CREATE TABLE audit_entries (
    case_id     UUID NOT NULL REFERENCES cases (id),
    seq         BIGINT NOT NULL,
    org_id      UUID NOT NULL,
    transition  TEXT,
    from_state  TEXT,
    to_state    TEXT NOT NULL,
    actor       TEXT NOT NULL,
    form        JSONB,
    changes     JSONB NOT NULL,
    reasons     JSONB NOT NULL,
    request_id  TEXT,
    recorded_at TIMESTAMPTZ NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    PRIMARY KEY (case_id, seq)
);

CREATE TABLE outbox (
    id            UUID PRIMARY KEY,
    org_id        UUID NOT NULL,
    case_id       UUID NOT NULL,
    seq           BIGINT NOT NULL,
    kind          TEXT NOT NULL,
    payload       JSONB NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    status        TEXT NOT NULL DEFAULT 'pending',
    attempts      BIGINT NOT NULL DEFAULT 0,
    available_at  TIMESTAMPTZ NOT NULL,
    processed_at  TIMESTAMPTZ
);
CREATE INDEX outbox_pending ON outbox (status, available_at);

CREATE TABLE notifications (
    id          UUID PRIMARY KEY,
    org_id      UUID NOT NULL,
    user_id     UUID,
    case_id     UUID,
    template    TEXT NOT NULL,
    subject     TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    read_at     TIMESTAMPTZ
);
CREATE INDEX notifications_user ON notifications (org_id, user_id, created_at);
