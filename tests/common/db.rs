//! Fresh databases for storage tests: always a SQLite file, and a new
//! PostgreSQL database on `TEST_POSTGRES_URL` when it is set (required under
//! `CI=true`), dropped again afterwards.

use std::sync::Arc;

use caseflow::config::Durability;
use caseflow::engine::Catalog;
use caseflow::service::Service;
use caseflow::storage::Store;
use sqlx::Connection;

pub struct TestDb {
    pub kind: &'static str,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    drop_from: Option<(String, String)>,
}

impl TestDb {
    pub async fn store(&self) -> Store {
        let store = Store::connect(&self.url, Durability::Normal)
            .await
            .expect("connect");
        store.migrate().await.expect("migrate");
        store
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.drop_from.take() else {
            return;
        };
        // Drop runs outside any runtime the test may still hold, so use a thread of our own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut connection = sqlx::PgConnection::connect(&admin).await.ok()?;
                let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut connection)
                    .await
                    .ok()
            })
        })
        .join();
    }
}

/// A fresh SQLite file, for tests about SQLite alone or about what the
/// database does not change.
pub fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    TestDb {
        kind: "sqlite",
        url: format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("caseflow.db").display()
        ),
        _dir: Some(dir),
        drop_from: None,
    }
}

/// The databases every storage test runs on.
pub async fn databases() -> Vec<TestDb> {
    let mut all = vec![sqlite()];
    match std::env::var("TEST_POSTGRES_URL") {
        Ok(admin) if !admin.is_empty() => all.push(postgres(&admin).await),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but TEST_POSTGRES_URL is not set: the PostgreSQL half of the storage tests cannot run"
            );
            eprintln!("SKIPPED on PostgreSQL: TEST_POSTGRES_URL is not set (SQLite only)");
        }
    }
    all
}

/// The ordinary role tests connect as, so row-level security binds them as
/// it binds the service in production (it does not bind superusers).
const APP_ROLE: &str = "caseflow_app";

async fn postgres(admin: &str) -> TestDb {
    let name = format!("caseflow_test_{}", uuid::Uuid::now_v7().simple());
    let mut connection = sqlx::PgConnection::connect(admin)
        .await
        .expect("connect to TEST_POSTGRES_URL");
    // Parallel tests may race to create the role; whoever loses finds it made.
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS"
    )))
    .execute(&mut connection)
    .await;
    let has_role: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(APP_ROLE)
            .fetch_one(&mut connection)
            .await
            .expect("look up the role");
    let owner = if has_role {
        format!(" OWNER {APP_ROLE}")
    } else {
        eprintln!(
            "NOTE: cannot create role {APP_ROLE}: PostgreSQL tests run as the admin user, above row-level security"
        );
        String::new()
    };
    let sql = format!("CREATE DATABASE \"{name}\"{owner}");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut connection)
        .await
        .expect("create test database");
    let base = admin.rsplit_once('/').map_or(admin, |(base, _)| base);
    let url = if has_role {
        let host = base
            .split_once('@')
            .map(|(_, host)| host)
            .or_else(|| base.split_once("://").map(|(_, host)| host))
            .unwrap_or(base);
        format!("postgres://{APP_ROLE}@{host}/{name}")
    } else {
        format!("{base}/{name}")
    };
    TestDb {
        kind: "postgres",
        url,
        _dir: None,
        drop_from: Some((admin.to_owned(), name)),
    }
}

/// Runs `sql` (binding `case`) with the row-level security scope open to
/// every organisation, as tests that inspect or tamper with rows need.
pub async fn execute_unscoped(store: &Store, sql: &'static str, case: uuid::Uuid) -> Vec<i64> {
    use sqlx::Row;
    match store.db() {
        caseflow::storage::Db::Sqlite(pool) => sqlx::query(sql)
            .bind(case)
            .fetch_all(pool)
            .await
            .expect("query")
            .iter()
            .map(|row| row.try_get(0).unwrap_or(0))
            .collect(),
        caseflow::storage::Db::Postgres(pool) => {
            let mut tx = pool.begin().await.expect("begin");
            sqlx::query("SELECT set_config('caseflow.org', 'all', true)")
                .execute(&mut *tx)
                .await
                .expect("scope");
            let rows = sqlx::query(sql)
                .bind(case)
                .fetch_all(&mut *tx)
                .await
                .expect("query");
            tx.commit().await.expect("commit");
            rows.iter().map(|row| row.try_get(0).unwrap_or(0)).collect()
        }
    }
}

/// The shipped definitions, compiled.
pub fn shipped_catalog() -> Arc<Catalog> {
    let sources =
        caseflow::home::load_sources(std::path::Path::new(env!("CARGO_MANIFEST_DIR")), None);
    let (catalog, diagnostics) = Catalog::load(&sources);
    assert!(diagnostics.iter().all(|d| !d.is_error()), "{diagnostics:?}");
    Arc::new(catalog)
}

pub fn shipped_referral() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/workflows/referral.yaml"
    ))
    .expect("referral.yaml")
}

pub fn service(store: Store) -> Arc<Service> {
    Arc::new(Service::new(
        store,
        shipped_catalog(),
        Arc::new(chrono::Utc::now),
    ))
}
