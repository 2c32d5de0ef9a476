//! Who may come in and what they did: API keys for machine clients, refused
//! sign-ins, the first answers to idempotent requests, and the case-read log.

use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

use super::batch::WriteOp;
use super::{Json, Scope, Store, StoreError, StoreResult, new_id, on_db, scoped, stored_time};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ApiKey {
    pub id: Uuid,
    #[serde(skip)]
    pub org_id: Uuid,
    pub name: String,
    pub roles: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub revoked_at: Option<DateTime<Utc>>,
}

macro_rules! key_from_row {
    ($row:expr) => {{
        let row = $row;
        let roles: Json = row.try_get("roles")?;
        Ok::<ApiKey, sqlx::Error>(ApiKey {
            id: row.try_get("id")?,
            org_id: row.try_get("org_id")?,
            name: row.try_get("name")?,
            roles: serde_json::from_value(roles.0).unwrap_or_default(),
            created_at: row.try_get("created_at")?,
            created_by: row.try_get("created_by")?,
            revoked_at: row.try_get("revoked_at")?,
        })
    }};
}

macro_rules! notification_from_row {
    ($row:expr) => {{
        let row = $row;
        Ok::<Notification, sqlx::Error>(Notification {
            id: row.try_get("id")?,
            case_id: row.try_get("case_id")?,
            template: row.try_get("template")?,
            subject: row.try_get("subject")?,
            body: row.try_get("body")?,
            created_at: row.try_get("created_at")?,
            read_at: row.try_get("read_at")?,
        })
    }};
}

const KEY_COLUMNS: &str = "id, org_id, name, roles, created_at, created_by, revoked_at";

/// What a request with an `Idempotency-Key` finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// The key is new: this request answers and records its answer.
    Reserved,
    /// An earlier request with this key was answered.
    Answered {
        fingerprint: String,
        status: u16,
        body: String,
    },
    /// An earlier request with this key is still being answered.
    InProgress { fingerprint: String },
}

/// One read of a case record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct CaseRead {
    #[serde(skip)]
    pub org_id: Uuid,
    #[serde(skip)]
    pub case_id: Uuid,
    pub reader: String,
    /// `case`, `history` or `list`.
    pub what: String,
    pub request_id: Option<String>,
    pub at: DateTime<Utc>,
}

/// An in-app notification.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Notification {
    pub id: Uuid,
    pub case_id: Option<Uuid>,
    pub template: String,
    pub subject: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

impl Store {
    pub async fn create_api_key(
        &self,
        org: Uuid,
        name: &str,
        key_hash: &str,
        roles: &[String],
        created_by: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<ApiKey> {
        let key = ApiKey {
            id: new_id(),
            org_id: org,
            name: name.to_owned(),
            roles: roles.to_vec(),
            created_at: stored_time(at),
            created_by: created_by.to_owned(),
            revoked_at: None,
        };
        on_db!(&self.writer, |pool| {
            sqlx::query("INSERT INTO api_keys (id, org_id, name, key_hash, roles, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(key.id)
                .bind(org)
                .bind(key.name.clone())
                .bind(key_hash.to_owned())
                .bind(Json::from(serde_json::json!(roles)))
                .bind(key.created_at)
                .bind(key.created_by.clone())
                .execute(pool)
                .await
                .map_err(|error| StoreError::from_write(error, "an API key with this name exists"))?;
        });
        Ok(key)
    }

    pub async fn api_keys(&self, org: Uuid) -> StoreResult<Vec<ApiKey>> {
        on_db!(&self.db, |pool| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE org_id = $1 ORDER BY name"
            )))
            .bind(org)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| key_from_row!(row).map_err(StoreError::from))
                .collect()
        })
    }

    /// The live key with this hash; `NotFound` when unknown or revoked.
    pub async fn api_key_by_hash(&self, key_hash: &str) -> StoreResult<ApiKey> {
        on_db!(&self.db, |pool| {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL"
            )))
            .bind(key_hash.to_owned())
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound)?;
            key_from_row!(&row).map_err(StoreError::from)
        })
    }

    /// Revokes a key of `org`; `NotFound` when it has none by that id.
    pub async fn revoke_api_key(&self, org: Uuid, id: Uuid, at: DateTime<Utc>) -> StoreResult<()> {
        let changed = on_db!(&self.writer, |pool| {
            sqlx::query("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE org_id = $2 AND id = $3")
                .bind(stored_time(at))
                .bind(org)
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn record_sign_in_failure(&self, email: &str, at: DateTime<Utc>) -> StoreResult<()> {
        on_db!(&self.writer, |pool| {
            sqlx::query("INSERT INTO sign_in_failures (email, at) VALUES ($1, $2)")
                .bind(email.to_owned())
                .bind(stored_time(at))
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Refused sign-ins for `email` since `since`, across every process.
    pub async fn sign_in_failures(&self, email: &str, since: DateTime<Utc>) -> StoreResult<i64> {
        on_db!(&self.db, |pool| {
            let row = sqlx::query(
                "SELECT COUNT(*) AS n FROM sign_in_failures WHERE email = $1 AND at > $2",
            )
            .bind(email.to_owned())
            .bind(stored_time(since))
            .fetch_one(pool)
            .await?;
            Ok(row.try_get::<i64, _>("n")?)
        })
    }

    /// Claims `key` for a request, or says what an earlier one with it found.
    /// A claim older than `stale_before` that never got its answer (the
    /// process died) is taken over.
    pub async fn reserve_idempotency_key(
        &self,
        org: Uuid,
        key: &str,
        fingerprint: &str,
        at: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> StoreResult<Reservation> {
        on_db!(&self.writer, |pool| {
            let inserted = sqlx::query("INSERT INTO idempotency_keys (org_id, key, fingerprint, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
                .bind(org)
                .bind(key.to_owned())
                .bind(fingerprint.to_owned())
                .bind(stored_time(at))
                .execute(pool)
                .await?
                .rows_affected();
            if inserted == 1 {
                return Ok(Reservation::Reserved);
            }
            let taken_over = sqlx::query("UPDATE idempotency_keys SET fingerprint = $1, created_at = $2 WHERE org_id = $3 AND key = $4 AND status IS NULL AND created_at < $5")
                .bind(fingerprint.to_owned())
                .bind(stored_time(at))
                .bind(org)
                .bind(key.to_owned())
                .bind(stored_time(stale_before))
                .execute(pool)
                .await?
                .rows_affected();
            if taken_over == 1 {
                return Ok(Reservation::Reserved);
            }
            let row = sqlx::query("SELECT fingerprint, status, body FROM idempotency_keys WHERE org_id = $1 AND key = $2")
                .bind(org)
                .bind(key.to_owned())
                .fetch_one(pool)
                .await?;
            let fingerprint: String = row.try_get("fingerprint")?;
            let status: Option<i32> = row.try_get("status")?;
            Ok(match status {
                Some(status) => Reservation::Answered {
                    fingerprint,
                    status: u16::try_from(status).unwrap_or(500),
                    body: row
                        .try_get::<Option<String>, _>("body")?
                        .unwrap_or_default(),
                },
                None => Reservation::InProgress { fingerprint },
            })
        })
    }

    pub async fn answer_idempotency_key(
        &self,
        org: Uuid,
        key: &str,
        status: u16,
        body: &str,
    ) -> StoreResult<()> {
        on_db!(&self.writer, |pool| {
            sqlx::query(
                "UPDATE idempotency_keys SET status = $1, body = $2 WHERE org_id = $3 AND key = $4",
            )
            .bind(i32::from(status))
            .bind(body.to_owned())
            .bind(org)
            .bind(key.to_owned())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Frees a key whose request failed on our side, so a retry runs again.
    pub async fn release_idempotency_key(&self, org: Uuid, key: &str) -> StoreResult<()> {
        on_db!(&self.writer, |pool| {
            sqlx::query(
                "DELETE FROM idempotency_keys WHERE org_id = $1 AND key = $2 AND status IS NULL",
            )
            .bind(org)
            .bind(key.to_owned())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Queues reads for the access log. They are written with the next group
    /// commit, or within a moment on their own; the reader does not wait.
    pub async fn log_case_reads(&self, reads: Vec<CaseRead>) {
        if !reads.is_empty() {
            self.batch.log_reads(reads).await;
        }
    }

    /// Waits until the reads logged so far are written, so a look at the log sees them.
    pub async fn flush_case_reads(&self) {
        self.batch.flush().await;
    }

    /// Who read a case of `org`, newest first.
    pub async fn case_reads(
        &self,
        org: Uuid,
        case: Uuid,
        limit: i64,
    ) -> StoreResult<Vec<CaseRead>> {
        scoped!(&self.db, Scope::Org(org), |conn| {
            let rows = sqlx::query("SELECT org_id, case_id, reader, what, request_id, at FROM case_reads WHERE org_id = $1 AND case_id = $2 ORDER BY at DESC LIMIT $3")
                .bind(org)
                .bind(case)
                .bind(limit.clamp(1, 1000))
                .fetch_all(conn)
                .await?;
            rows.iter()
                .map(|row| {
                    Ok(CaseRead {
                        org_id: row.try_get("org_id")?,
                        case_id: row.try_get("case_id")?,
                        reader: row.try_get("reader")?,
                        what: row.try_get("what")?,
                        request_id: row.try_get("request_id")?,
                        at: row.try_get("at")?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(StoreError::from)
        })
    }

    /// The in-app notifications of a user, newest first.
    pub async fn notifications(
        &self,
        org: Uuid,
        user: Uuid,
        unread_only: bool,
        limit: i64,
    ) -> StoreResult<Vec<Notification>> {
        scoped!(&self.db, Scope::Org(org), |conn| {
            let rows = sqlx::query("SELECT id, case_id, template, subject, body, created_at, read_at FROM notifications \
                 WHERE org_id = $1 AND user_id = $2 AND ($3 = FALSE OR read_at IS NULL) ORDER BY created_at DESC LIMIT $4")
                .bind(org)
                .bind(user)
                .bind(unread_only)
                .bind(limit.clamp(1, 500))
                .fetch_all(conn)
                .await?;
            rows.iter()
                .map(|row| notification_from_row!(row))
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(StoreError::from)
        })
    }

    /// Every notification about a case of `org`, oldest first (for exports).
    pub async fn case_notifications(
        &self,
        org: Uuid,
        case: Uuid,
    ) -> StoreResult<Vec<Notification>> {
        scoped!(&self.db, Scope::Org(org), |conn| {
            let rows = sqlx::query("SELECT id, case_id, template, subject, body, created_at, read_at FROM notifications \
                 WHERE org_id = $1 AND case_id = $2 ORDER BY created_at")
                .bind(org)
                .bind(case)
                .fetch_all(conn)
                .await?;
            rows.iter()
                .map(|row| notification_from_row!(row))
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(StoreError::from)
        })
    }

    /// Marks a notification of this user read; `NotFound` when it is not theirs.
    pub async fn mark_notification_read(
        &self,
        org: Uuid,
        user: Uuid,
        id: Uuid,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let changed = scoped!(&self.writer, Scope::Org(org), |conn| {
            sqlx::query("UPDATE notifications SET read_at = COALESCE(read_at, $1) WHERE org_id = $2 AND user_id = $3 AND id = $4")
                .bind(stored_time(at))
                .bind(org)
                .bind(user)
                .bind(id)
                .execute(conn)
                .await?
                .rows_affected()
        });
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Writes a notification once: the same id again (a retried job) is
    /// ignored. It goes through the group commit, as one more row of its next
    /// batch: on SQLite a transaction of its own took the one write connection
    /// from the moves, once per recipient (BENCHMARKS.md, session 9).
    pub async fn insert_notification(
        &self,
        org: Uuid,
        user: Uuid,
        notification: &Notification,
    ) -> StoreResult<()> {
        let mut notification = notification.clone();
        notification.created_at = stored_time(notification.created_at);
        notification.read_at = notification.read_at.map(stored_time);
        self.batch
            .write(WriteOp::Notify(Box::new(Delivery {
                org_id: org,
                user_id: user,
                notification,
            })))
            .await
    }
}

/// An in-app notification on its way to one user.
pub(super) struct Delivery {
    pub org_id: Uuid,
    pub user_id: Uuid,
    pub notification: Notification,
}
