//! Sign-in tokens, kept only as hashes, each tied to one user of one organisation.

use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

use super::orgs::{User, user_from_row};
use super::{Store, StoreError, StoreResult, on_db, stored_time};

impl Store {
    pub async fn insert_token(
        &self,
        token_hash: &str,
        user: &User,
        created_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        on_db!(&self.writer, |pool| {
            sqlx::query("INSERT INTO api_tokens (token_hash, user_id, org_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(token_hash.to_owned())
                .bind(user.id)
                .bind(user.org_id)
                .bind(stored_time(created_at))
                .bind(stored_time(expires_at))
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The active user a live token belongs to; `NotFound` for an unknown,
    /// expired or revoked token, or a deactivated user.
    pub async fn user_by_token(&self, token_hash: &str, now: DateTime<Utc>) -> StoreResult<User> {
        on_db!(&self.db, |pool| {
            let row = sqlx::query(
                "SELECT u.id, u.org_id, u.email, u.password_hash, u.roles, u.active FROM api_tokens t \
                 JOIN users u ON u.id = t.user_id AND u.org_id = t.org_id \
                 WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > $2 AND u.active = $3",
            )
            .bind(token_hash.to_owned())
            .bind(stored_time(now))
            .bind(true)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound)?;
            user_from_row!(&row).map_err(StoreError::from)
        })
    }

    pub async fn revoke_token(&self, token_hash: &str, now: DateTime<Utc>) -> StoreResult<()> {
        on_db!(&self.writer, |pool| {
            sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL")
                .bind(stored_time(now))
                .bind(token_hash.to_owned())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Cases of `org` in one of `states` of `workflow`, oldest first (for inboxes).
    pub async fn cases_in_states(
        &self,
        org: Uuid,
        workflow: &str,
        states: &[String],
        limit: i64,
    ) -> StoreResult<Vec<super::CaseRecord>> {
        let mut found = Vec::new();
        for state in states {
            let filter = super::CaseFilter {
                workflow: Some(workflow.to_owned()),
                state: Some(state.clone()),
                after: None,
                limit,
            };
            found.extend(self.cases(org, &filter).await?.items);
        }
        found.sort_by_key(|case| case.id);
        Ok(found)
    }
}
