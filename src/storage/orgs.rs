//! Organisations and their users.

use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

use super::{Json, Store, StoreError, StoreResult, new_id, on_db, stored_time};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    pub org_id: Uuid,
    pub email: String,
    pub password_hash: String,
    pub roles: Vec<String>,
    pub active: bool,
}

macro_rules! user_from_row {
    ($row:expr) => {{
        let row = $row;
        let roles: $crate::storage::Json = row.try_get("roles")?;
        Ok::<User, sqlx::Error>(User {
            id: row.try_get("id")?,
            org_id: row.try_get("org_id")?,
            email: row.try_get("email")?,
            password_hash: row.try_get("password_hash")?,
            roles: serde_json::from_value(roles.0).unwrap_or_default(),
            active: row.try_get("active")?,
        })
    }};
}
pub(super) use user_from_row;

impl Store {
    pub async fn create_org(&self, name: &str, at: DateTime<Utc>) -> StoreResult<Organisation> {
        let org = Organisation {
            id: new_id(),
            name: name.to_owned(),
        };
        on_db!(&self.writer, |pool| {
            sqlx::query("INSERT INTO organisations (id, name, created_at) VALUES ($1, $2, $3)")
                .bind(org.id)
                .bind(org.name.clone())
                .bind(stored_time(at))
                .execute(pool)
                .await
                .map_err(|error| {
                    StoreError::from_write(error, "an organisation with this name exists")
                })?;
        });
        Ok(org)
    }

    pub async fn org_by_name(&self, name: &str) -> StoreResult<Organisation> {
        on_db!(&self.db, |pool| {
            let row = sqlx::query("SELECT id, name FROM organisations WHERE name = $1")
                .bind(name.to_owned())
                .fetch_optional(pool)
                .await?
                .ok_or(StoreError::NotFound)?;
            Ok(Organisation {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
            })
        })
    }

    pub async fn orgs(&self) -> StoreResult<Vec<Organisation>> {
        on_db!(&self.db, |pool| {
            let rows = sqlx::query("SELECT id, name FROM organisations ORDER BY name")
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| {
                    Ok(Organisation {
                        id: row.try_get("id")?,
                        name: row.try_get("name")?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(StoreError::from)
        })
    }

    pub async fn create_user(
        &self,
        org: Uuid,
        email: &str,
        password_hash: &str,
        roles: &[String],
        at: DateTime<Utc>,
    ) -> StoreResult<User> {
        let user = User {
            id: new_id(),
            org_id: org,
            email: email.to_owned(),
            password_hash: password_hash.to_owned(),
            roles: roles.to_vec(),
            active: true,
        };
        on_db!(&self.writer, |pool| {
            sqlx::query("INSERT INTO users (id, org_id, email, password_hash, roles, active, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(user.id)
                .bind(org)
                .bind(user.email.clone())
                .bind(user.password_hash.clone())
                .bind(Json::from(serde_json::json!(roles)))
                .bind(true)
                .bind(stored_time(at))
                .execute(pool)
                .await
                .map_err(|error| StoreError::from_write(error, "a user with this e-mail exists"))?;
        });
        Ok(user)
    }

    /// Users sign in by e-mail, which is unique across organisations.
    pub async fn user_by_email(&self, email: &str) -> StoreResult<User> {
        on_db!(&self.db, |pool| {
            let row = sqlx::query("SELECT id, org_id, email, password_hash, roles, active FROM users WHERE email = $1")
                .bind(email.to_owned())
                .fetch_optional(pool)
                .await?
                .ok_or(StoreError::NotFound)?;
            user_from_row!(&row).map_err(StoreError::from)
        })
    }

    pub async fn count_users(&self, org: Uuid) -> StoreResult<i64> {
        on_db!(&self.db, |pool| {
            let row = sqlx::query("SELECT COUNT(*) AS n FROM users WHERE org_id = $1")
                .bind(org)
                .fetch_one(pool)
                .await?;
            Ok(row.try_get("n")?)
        })
    }

    pub async fn users(&self, org: Uuid) -> StoreResult<Vec<User>> {
        on_db!(&self.db, |pool| {
            let rows = sqlx::query("SELECT id, org_id, email, password_hash, roles, active FROM users WHERE org_id = $1 ORDER BY email")
                .bind(org)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| user_from_row!(row).map_err(StoreError::from))
                .collect()
        })
    }

    /// Changes a user's roles or deactivates them; `NotFound` outside `org`.
    pub async fn update_user(
        &self,
        org: Uuid,
        id: Uuid,
        roles: &[String],
        active: bool,
    ) -> StoreResult<()> {
        let changed = on_db!(&self.writer, |pool| {
            sqlx::query("UPDATE users SET roles = $1, active = $2 WHERE org_id = $3 AND id = $4")
                .bind(Json::from(serde_json::json!(roles)))
                .bind(active)
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
}
