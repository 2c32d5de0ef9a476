//! Finding existing client records, so intake links a referral to the person
//! the service already knows instead of registering them twice.
//!
//! Client records are cases of the `client` workflow; the search reads their
//! data (`name`, `preferred_name`, `date_of_birth`, `identifiers.*`), within
//! one organisation.

use sqlx::Row;
use uuid::Uuid;

use super::cases::{COLUMNS, CaseRecord, case_from_row};
use super::{Db, Json, Scope, Store, StoreError, StoreResult, scoped};

/// What intake knows about the person; every criterion given must match.
#[derive(Debug, Clone, Default)]
pub struct ClientQuery {
    /// The workflow whose cases are client records.
    pub workflow: String,
    /// Part of the name or preferred name, any case.
    pub name: Option<String>,
    /// `YYYY-MM-DD`.
    pub date_of_birth: Option<String>,
    /// An NHI, NDIS or National Insurance number, spaces and case ignored.
    pub identifier: Option<String>,
    pub limit: i64,
}

/// `%text%` for LIKE, with the user's own `%` and `_` taken literally.
fn contains_pattern(text: &str) -> String {
    let escaped = text
        .trim()
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

fn normalise_identifier(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_uppercase)
        .collect()
}

impl Store {
    /// Client records of `org` matching `query`, merged records left out, oldest first.
    pub async fn find_clients(
        &self,
        org: Uuid,
        query: &ClientQuery,
    ) -> StoreResult<Vec<CaseRecord>> {
        // The same question in each dialect's JSON functions.
        let field = |path: &str| match &self.db {
            Db::Sqlite(_) => format!("json_extract(data, '$.{path}')"),
            Db::Postgres(_) => format!("(data #>> '{{{}}}')", path.replace('.', ",")),
        };
        let normalised = |path: &str| format!("upper(replace({}, ' ', ''))", field(path));
        let sql = format!(
            "SELECT {COLUMNS} FROM cases WHERE org_id = $1 AND deleted_at IS NULL \
             AND workflow = $2 AND state <> 'merged' \
             AND ($3 IS NULL OR lower({name}) LIKE $3 ESCAPE '\\' OR lower({preferred}) LIKE $3 ESCAPE '\\') \
             AND ($4 IS NULL OR {born} = $4) \
             AND ($5 IS NULL OR {nhi} = $5 OR {ndis} = $5 OR {ni} = $5) \
             ORDER BY id LIMIT $6",
            name = field("name"),
            preferred = field("preferred_name"),
            born = field("date_of_birth"),
            nhi = normalised("identifiers.nhi"),
            ndis = normalised("identifiers.ndis_number"),
            ni = normalised("identifiers.ni_number"),
        );
        let name = query.name.as_deref().map(contains_pattern);
        let born = query.date_of_birth.as_deref().map(|d| d.trim().to_owned());
        let identifier = query.identifier.as_deref().map(normalise_identifier);
        scoped!(&self.db, Scope::Org(org), |conn| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(org)
                .bind(query.workflow.clone())
                .bind(name)
                .bind(born)
                .bind(identifier)
                .bind(query.limit.clamp(1, 100))
                .fetch_all(conn)
                .await?;
            rows.iter()
                .map(|row| case_from_row!(row).map_err(StoreError::from))
                .collect::<StoreResult<Vec<_>>>()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_is_taken_literally() {
        assert_eq!(contains_pattern(" Aroha_N% "), "%aroha\\_n\\%%");
        assert_eq!(normalise_identifier("zzz 0016"), "ZZZ0016");
    }
}
