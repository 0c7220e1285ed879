//! A fresh PostgreSQL database per test, on the server `SIGNALS_PG_URL` names (`.ci/run`
//! starts one). Without it the test is skipped with a notice, unless `SIGNALS_REQUIRE_PG`
//! is set (CI), which makes that a failure; a server that is named but does not answer is
//! always a failure.

use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use signals_offload::PostgresBroker;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions, PgConnection};

/// The server's URL, or `None` (with a notice) when the PostgreSQL tests are not required.
pub fn server_url() -> Option<String> {
    match std::env::var("SIGNALS_PG_URL") {
        Ok(url) if url.starts_with("postgres") => Some(url),
        _ if std::env::var_os("SIGNALS_REQUIRE_PG").is_some() => {
            panic!("SIGNALS_REQUIRE_PG is set but SIGNALS_PG_URL does not name a PostgreSQL server")
        }
        _ => {
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "NOTICE: PostgreSQL broker tests skipped (set SIGNALS_PG_URL=postgres://... to run them)"
            );
            None
        }
    }
}

/// A database of its own for one test, on the server.
pub struct TestDb {
    server: PgConnectOptions,
    pub name: String,
}

impl TestDb {
    /// Creates an empty database named after `tag` (and this process), or `None` when the
    /// PostgreSQL tests are skipped.
    pub async fn create(tag: &str) -> Option<TestDb> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let url = server_url()?;
        let server = PgConnectOptions::from_str(&url)
            .unwrap_or_else(|err| panic!("SIGNALS_PG_URL={url}: {err}"));
        let name = format!(
            "signals_offload_{tag}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut conn = connect(&server).await;
        for sql in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ] {
            sqlx::raw_sql(AssertSqlSafe(sql))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|err| panic!("create database {name}: {err}"));
        }
        Some(TestDb { server, name })
    }

    /// The database `name` on the server of `SIGNALS_PG_URL` (a child process's view of
    /// its parent's database).
    pub fn named(name: String) -> TestDb {
        let url = std::env::var("SIGNALS_PG_URL").expect("SIGNALS_PG_URL");
        let server = PgConnectOptions::from_str(&url).expect("SIGNALS_PG_URL");
        TestDb { server, name }
    }

    pub fn options(&self) -> PgConnectOptions {
        self.server.clone().database(&self.name)
    }

    /// A broker on this database (migrated), polling every 25 ms.
    pub async fn broker(&self) -> PostgresBroker {
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(20))
            .connect_with(self.options())
            .await
            .unwrap_or_else(|err| panic!("connect to {}: {err}", self.name));
        PostgresBroker::from_pool(pool)
            .await
            .expect("broker set up")
            .with_poll_interval(Duration::from_millis(25))
    }

    /// Drops the database (its connections closed first).
    pub async fn drop_db(self) {
        let mut conn = connect(&self.server).await;
        sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|err| panic!("drop database {}: {err}", self.name));
    }
}

async fn connect(options: &PgConnectOptions) -> PgConnection {
    tokio::time::timeout(Duration::from_secs(20), options.connect())
        .await
        .unwrap_or_else(|_| panic!("PostgreSQL at {options:?} does not answer within 20 s"))
        .unwrap_or_else(|err| panic!("connect to PostgreSQL at {options:?}: {err}"))
}
