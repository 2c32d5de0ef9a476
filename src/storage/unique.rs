//! Values no two cases of a workflow share within an organisation (an
//! invoice number): the service asks before it writes.

use uuid::Uuid;

use super::{Db, Scope, Store, StoreResult, scoped};

impl Store {
    /// Another live case of `workflow` in `org` (not `except`) whose data holds `value` at
    /// `path` (`field` or `field.subfield`).
    pub async fn value_taken(
        &self,
        org: Uuid,
        workflow: &str,
        path: &str,
        value: &str,
        except: Option<Uuid>,
    ) -> StoreResult<bool> {
        // Paths are checked by the definition checker: letters, digits, `_` and dots only.
        let field = match &self.db {
            Db::Sqlite(_) => format!("json_extract(data, '$.{path}')"),
            Db::Postgres(_) => format!("(data #>> '{{{}}}')", path.replace('.', ",")),
        };
        let sql = format!(
            "SELECT COUNT(*) FROM cases WHERE org_id = $1 AND workflow = $2 AND deleted_at IS NULL \
             AND {field} = $3 AND ($4 IS NULL OR id <> $4)"
        );
        scoped!(&self.db, Scope::Org(org), |conn| {
            let taken: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(org)
                .bind(workflow)
                .bind(value)
                .bind(except)
                .fetch_one(conn)
                .await?;
            Ok::<bool, super::StoreError>(taken > 0)
        })
    }
}
