-- Sign-in tokens: only a SHA-256 of each token is kept.
CREATE TABLE api_tokens (
    token_hash  TEXT PRIMARY KEY,
    user_id     BLOB NOT NULL REFERENCES users (id),
    org_id      BLOB NOT NULL REFERENCES organisations (id),
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    revoked_at  TEXT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);
