//! The audit trail: one entry per move, each hash-chained to the one before
//! it in its case, so an edited or deleted entry shows as a break.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::Row;
use uuid::Uuid;

use super::cases::CaseRecord;
use super::{Json, Scope, Store, StoreError, StoreResult, scoped};

/// The "previous hash" of a case's first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditEntry {
    pub case_id: Uuid,
    /// 1 for the opening of the case, then one more per move; equals the case version after it.
    pub seq: i64,
    #[serde(skip)]
    pub org_id: Uuid,
    /// `None` for the opening of the case.
    pub transition: Option<String>,
    pub from: Option<String>,
    pub to: String,
    pub actor: String,
    pub form: Option<Value>,
    /// `[{path, old, new}]`.
    pub changes: Value,
    /// Guard reasons or notes recorded with the move.
    pub reasons: Value,
    pub request_id: Option<String>,
    pub at: DateTime<Utc>,
    pub prev_hash: String,
    pub hash: String,
    /// How `hash` was computed; see [`entry_hash`].
    #[serde(skip)]
    pub hash_scheme: i64,
    /// Digests of the form and changes as written, kept once they are scrubbed.
    #[serde(skip)]
    pub form_digest: Option<String>,
    #[serde(skip)]
    pub changes_digest: Option<String>,
    /// The seq of the retention or erasure entry that scrubbed this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redacted_by: Option<i64>,
}

impl AuditEntry {
    /// The first entry of a new case's trail, opening it in `state`; the
    /// caller adds what was sent, then [`sealed`](Self::sealed) hashes it.
    pub fn opening(
        case_id: Uuid,
        org_id: Uuid,
        state: &str,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            case_id,
            seq: 1,
            org_id,
            transition: None,
            from: None,
            to: state.to_owned(),
            actor: actor.to_owned(),
            form: None,
            changes: Value::Array(Vec::new()),
            reasons: Value::Array(Vec::new()),
            request_id: None,
            at,
            prev_hash: GENESIS_HASH.to_owned(),
            hash: String::new(),
            hash_scheme: HASH_SCHEME,
            form_digest: None,
            changes_digest: None,
            redacted_by: None,
        }
    }

    /// The entry after `case`'s newest one, leaving it in its state; the
    /// caller says what changed, then [`sealed`](Self::sealed) hashes it.
    pub fn next(case: &CaseRecord, actor: &str, at: DateTime<Utc>) -> Self {
        Self {
            seq: case.version + 1,
            from: Some(case.state.clone()),
            prev_hash: case.audit_hash.clone(),
            ..Self::opening(case.id, case.org_id, &case.state, actor, at)
        }
    }

    /// The entry with its hash computed over everything else.
    #[must_use]
    pub fn sealed(mut self) -> Self {
        self.hash = entry_hash(&self);
        self
    }
}

/// JSON with object keys sorted, so a value hashes the same after PostgreSQL's
/// `jsonb` has reordered it.
pub fn canonical_json(value: &Value) -> String {
    let mut out = Vec::new();
    write_canonical(&mut out, value);
    String::from_utf8(out).unwrap_or_default()
}

fn write_canonical(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Object(object) => {
            let mut keys: Vec<&String> = object.keys().collect();
            keys.sort();
            out.push(b'{');
            for (index, key) in keys.into_iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                let _ = serde_json::to_writer(&mut *out, key);
                out.push(b':');
                write_canonical(out, &object[key]);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_canonical(out, item);
            }
            out.push(b']');
        }
        scalar => {
            let _ = serde_json::to_writer(&mut *out, scalar);
        }
    }
}

/// The scheme every new entry is written with.
pub const HASH_SCHEME: i64 = 2;

/// SHA-256 of a value's canonical JSON, in hex.
pub fn content_digest(value: &Value) -> String {
    let mut text = Vec::with_capacity(256);
    write_canonical(&mut text, value);
    hex(&Sha256::digest(&text))
}

/// SHA-256 over the previous hash and every field of the entry except its own
/// hash. Scheme 2 takes the form and the changes by digest, so scrubbing them
/// later leaves the hash checkable from the digests kept at the scrub; scheme
/// 1 (entries written before retention existed) takes their text.
pub fn entry_hash(entry: &AuditEntry) -> String {
    let (form, changes) = if entry.hash_scheme >= 2 {
        let form = match (&entry.form_digest, &entry.form) {
            (Some(digest), _) => Value::String(digest.clone()),
            (None, Some(form)) => Value::String(content_digest(form)),
            (None, None) => Value::Null,
        };
        let changes = entry
            .changes_digest
            .clone()
            .unwrap_or_else(|| content_digest(&entry.changes));
        (form, Value::String(changes))
    } else {
        (
            entry.form.clone().unwrap_or(Value::Null),
            entry.changes.clone(),
        )
    };
    let text =
        |value: Option<&str>| value.map_or(Value::Null, |text| Value::String(text.to_owned()));
    let mut body = Vec::with_capacity(512);
    body.push(b'[');
    for (index, field) in [
        Value::String(entry.case_id.to_string()),
        Value::from(entry.seq),
        text(entry.transition.as_deref()),
        text(entry.from.as_deref()),
        Value::String(entry.to.clone()),
        Value::String(entry.actor.clone()),
    ]
    .iter()
    .enumerate()
    {
        if index > 0 {
            body.push(b',');
        }
        write_canonical(&mut body, field);
    }
    for value in [&form, &changes, &entry.reasons] {
        body.push(b',');
        write_canonical(&mut body, value);
    }
    body.push(b',');
    write_canonical(&mut body, &text(entry.request_id.as_deref()));
    body.push(b',');
    write_canonical(
        &mut body,
        &Value::String(entry.at.to_rfc3339_opts(SecondsFormat::Micros, true)),
    );
    body.push(b']');
    let mut hasher = Sha256::new();
    hasher.update(entry.prev_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(&body);
    hex(&hasher.finalize())
}

/// Lower-case hexadecimal, without a `format!` per byte.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

const SELECT: &str = "SELECT case_id, seq, org_id, transition, from_state, to_state, actor, form, changes, reasons, request_id, recorded_at, prev_hash, hash, hash_scheme, form_digest, changes_digest, redacted_by FROM audit_entries";

macro_rules! audit_from_row {
    ($row:expr) => {{
        let row = $row;
        Ok::<AuditEntry, sqlx::Error>(AuditEntry {
            case_id: row.try_get("case_id")?,
            seq: row.try_get("seq")?,
            org_id: row.try_get("org_id")?,
            transition: row.try_get("transition")?,
            from: row.try_get("from_state")?,
            to: row.try_get("to_state")?,
            actor: row.try_get("actor")?,
            form: row.try_get::<Option<Json>, _>("form")?.map(|json| json.0),
            changes: row.try_get::<Json, _>("changes")?.0,
            reasons: row.try_get::<Json, _>("reasons")?.0,
            request_id: row.try_get("request_id")?,
            at: row.try_get("recorded_at")?,
            prev_hash: row.try_get("prev_hash")?,
            hash: row.try_get("hash")?,
            hash_scheme: row.try_get("hash_scheme")?,
            form_digest: row.try_get("form_digest")?,
            changes_digest: row.try_get("changes_digest")?,
            redacted_by: row.try_get("redacted_by")?,
        })
    }};
}

/// A break in a case's chain, as `caseflow verify-audit` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    pub case_id: Uuid,
    pub seq: i64,
    pub problem: String,
}

impl Store {
    /// The audit trail of one case of `org`, oldest first.
    pub async fn history(&self, org: Uuid, case_id: Uuid) -> StoreResult<Vec<AuditEntry>> {
        let sql = format!("{SELECT} WHERE org_id = $1 AND case_id = $2 ORDER BY seq");
        scoped!(&self.db, Scope::Org(org), |conn| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(org)
                .bind(case_id)
                .fetch_all(conn)
                .await?;
            rows.iter()
                .map(|row| audit_from_row!(row).map_err(StoreError::from))
                .collect()
        })
    }

    /// One entry of a case's trail; `NotFound` when there is none at `seq`.
    pub async fn audit_entry(&self, org: Uuid, case_id: Uuid, seq: i64) -> StoreResult<AuditEntry> {
        let sql = format!("{SELECT} WHERE org_id = $1 AND case_id = $2 AND seq = $3");
        scoped!(&self.db, Scope::Org(org), |conn| {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(org)
                .bind(case_id)
                .bind(seq)
                .fetch_optional(conn)
                .await?
                .ok_or(StoreError::NotFound)?;
            audit_from_row!(&row).map_err(StoreError::from)
        })
    }

    /// Recomputes every chain (or one case's) and the link to each case's head.
    pub async fn verify_audit(
        &self,
        case_id: Option<Uuid>,
    ) -> StoreResult<(usize, Vec<ChainBreak>)> {
        let filter = if case_id.is_some() {
            " WHERE case_id = $1"
        } else {
            ""
        };
        let sql = format!("{SELECT}{filter} ORDER BY case_id, seq");
        let entries: Vec<AuditEntry> = scoped!(&self.db, Scope::All, |conn| {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            if let Some(id) = case_id {
                query = query.bind(id);
            }
            let rows = query.fetch_all(conn).await?;
            rows.iter()
                .map(|row| audit_from_row!(row).map_err(StoreError::from))
                .collect::<StoreResult<Vec<_>>>()?
        });
        let heads = self.case_heads(case_id).await?;
        let mut breaks = Vec::new();
        let mut previous: Option<&AuditEntry> = None;
        for entry in &entries {
            let same_case = previous.is_some_and(|p| p.case_id == entry.case_id);
            let (expected_seq, expected_prev) = match previous {
                Some(p) if same_case => (p.seq + 1, p.hash.as_str()),
                _ => (1, GENESIS_HASH),
            };
            let mut problem = |text: String| {
                breaks.push(ChainBreak {
                    case_id: entry.case_id,
                    seq: entry.seq,
                    problem: text,
                })
            };
            if entry.seq != expected_seq {
                problem(format!("entry {expected_seq} is missing"));
            }
            if entry.prev_hash != expected_prev {
                problem("does not follow from the entry before it".to_owned());
            }
            if entry_hash(entry) != entry.hash {
                problem("its content was changed after it was written".to_owned());
            }
            if let Some(text) = redaction_problem(entry, &entries) {
                problem(text);
            }
            previous = Some(entry);
        }
        for (case, version, hash) in heads {
            let last = entries.iter().rev().find(|entry| entry.case_id == case);
            match last {
                Some(last) if last.seq == version && last.hash == hash => {}
                Some(last) => breaks.push(ChainBreak {
                    case_id: case,
                    seq: last.seq,
                    problem: format!(
                        "the case is at version {version} but its trail ends at entry {}",
                        last.seq
                    ),
                }),
                None => breaks.push(ChainBreak {
                    case_id: case,
                    seq: 0,
                    problem: "the case has no audit trail".to_owned(),
                }),
            }
        }
        let cases = entries
            .iter()
            .map(|entry| entry.case_id)
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        Ok((cases, breaks))
    }

    async fn case_heads(&self, case_id: Option<Uuid>) -> StoreResult<Vec<(Uuid, i64, String)>> {
        let filter = if case_id.is_some() {
            " WHERE id = $1"
        } else {
            ""
        };
        let sql = format!("SELECT id, version, audit_hash FROM cases{filter}");
        scoped!(&self.db, Scope::All, |conn| {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            if let Some(id) = case_id {
                query = query.bind(id);
            }
            let rows = query.fetch_all(conn).await?;
            rows.iter()
                .map(|row| {
                    Ok((
                        row.try_get("id")?,
                        row.try_get("version")?,
                        row.try_get("audit_hash")?,
                    ))
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(StoreError::from)
        })
    }
}

/// The transitions under which a scrub is recorded.
pub const RETENTION_TRANSITION: &str = "retention";
pub const ERASURE_TRANSITION: &str = "erasure";
/// The transition under which a legal hold put on or lifted is recorded.
pub const LEGAL_HOLD_TRANSITION: &str = "legal_hold";

/// A scrubbed entry must name a later retention or erasure entry of its own
/// case that lists it; kept digests without one are content swapped in silence.
fn redaction_problem(entry: &AuditEntry, all: &[AuditEntry]) -> Option<String> {
    let kept_digests = entry.form_digest.is_some() || entry.changes_digest.is_some();
    let Some(by) = entry.redacted_by else {
        return kept_digests.then(|| "its content was replaced without a retention entry".into());
    };
    let recorded = all.iter().find(|other| {
        other.case_id == entry.case_id
            && other.seq == by
            && other.seq > entry.seq
            && matches!(
                other.transition.as_deref(),
                Some(RETENTION_TRANSITION | ERASURE_TRANSITION)
            )
    });
    let listed = recorded.is_some_and(|scrub| {
        scrub.reasons["redacted_entries"]
            .as_array()
            .is_some_and(|seqs| seqs.iter().any(|seq| seq.as_i64() == Some(entry.seq)))
    });
    if !listed {
        return Some(format!(
            "it is marked scrubbed by entry {by}, which does not record scrubbing it"
        ));
    }
    (entry.hash_scheme < 2).then(|| {
        "it was scrubbed but predates digest hashing, so its content cannot be checked".into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let a = json!({"b": 1, "a": {"y": [1, {"d": true, "c": null}], "x": "é\"q"}});
        assert_eq!(
            canonical_json(&a),
            r#"{"a":{"x":"é\"q","y":[1,{"c":null,"d":true}]},"b":1}"#
        );
    }

    #[test]
    fn the_hash_covers_every_field() {
        let at = chrono::DateTime::parse_from_rfc3339("2025-01-01T09:00:00.123456Z")
            .map(|t| t.with_timezone(&Utc));
        let entry = AuditEntry {
            case_id: Uuid::nil(),
            seq: 2,
            org_id: Uuid::nil(),
            transition: Some("assess".to_owned()),
            from: Some("submitted".to_owned()),
            to: "assessed".to_owned(),
            actor: "u-1".to_owned(),
            form: Some(json!({"risk_level": "low"})),
            changes: json!([{"path": "risk_level", "old": null, "new": "low"}]),
            reasons: json!([]),
            request_id: None,
            at: at.expect("time"),
            prev_hash: GENESIS_HASH.to_owned(),
            hash: String::new(),
            hash_scheme: HASH_SCHEME,
            form_digest: None,
            changes_digest: None,
            redacted_by: None,
        };
        let hash = entry_hash(&entry);
        assert_eq!(hash.len(), 64);
        let mut changed = entry.clone();
        changed.form = Some(json!({"risk_level": "high"}));
        assert_ne!(entry_hash(&changed), hash);
        let mut changed = entry.clone();
        changed.prev_hash = "1".repeat(64);
        assert_ne!(entry_hash(&changed), hash);
        let mut changed = entry;
        changed.request_id = Some("r".to_owned());
        assert_ne!(entry_hash(&changed), hash);
    }
}
