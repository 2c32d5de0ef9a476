-- Retention and erasure scrub personal data from cases and from the forms and
-- changes kept in their audit trail, yet the trail must still verify.
--
-- hash_scheme 2 hashes an entry over SHA-256 digests of its form and changes
-- rather than over their text. Scrubbing an entry stores those digests first
-- (form_digest, changes_digest) and names the retention entry that did it
-- (redacted_by, a seq later in the same chain), so the chain still checks and
-- the scrub is itself on the record. Entries written before this migration
-- keep scheme 1 (hash over the raw text).
ALTER TABLE audit_entries ADD COLUMN hash_scheme INTEGER NOT NULL DEFAULT 1;
ALTER TABLE audit_entries ADD COLUMN form_digest TEXT;
ALTER TABLE audit_entries ADD COLUMN changes_digest TEXT;
ALTER TABLE audit_entries ADD COLUMN redacted_by INTEGER;

ALTER TABLE cases ADD COLUMN legal_hold_reason TEXT;
ALTER TABLE cases ADD COLUMN anonymised_at TEXT;
ALTER TABLE cases ADD COLUMN financial_scrubbed_at TEXT;

-- What the nightly sweep looks for: closed cases not yet fully retired.
CREATE INDEX cases_closed ON cases (closed_at) WHERE closed_at IS NOT NULL AND deleted_at IS NULL;
