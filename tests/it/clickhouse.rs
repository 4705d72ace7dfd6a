//! A fresh ClickHouse database for each test, on the server the test command started
//! (`ERRWATCH_CLICKHOUSE_URL`, else the private instance of scripts/clickhouse.sh).

use std::sync::atomic::{AtomicU32, Ordering};

use errwatch::store::{InsertCompression, Settings, Store};

pub fn url() -> String {
    std::env::var("ERRWATCH_CLICKHOUSE_URL").unwrap_or_else(|_| "http://127.0.0.1:18123".to_owned())
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// A database that exists for one test and is dropped after it.
pub struct TestDatabase {
    pub name: String,
}

impl TestDatabase {
    /// A new, empty database named after the test; nothing is created on the server yet.
    pub fn new(test: &str) -> TestDatabase {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!("errwatch_test_{test}_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        TestDatabase { name }
    }

    pub fn settings(&self) -> Settings {
        self.settings_at(&url())
    }

    pub fn settings_at(&self, url: &str) -> Settings {
        Settings {
            url: url.to_owned(),
            database: self.name.clone(),
            user: std::env::var("ERRWATCH_CLICKHOUSE_USER").ok(),
            password: std::env::var("ERRWATCH_CLICKHOUSE_PASSWORD").ok(),
            compression: InsertCompression::Auto,
        }
    }

    pub fn store(&self) -> Store {
        Store::new(self.settings()).unwrap()
    }

    /// A migrated store.
    pub async fn migrated(&self) -> Store {
        let store = self.store();
        store.migrate().await.unwrap_or_else(|error| panic!("migrate on {}: {error}", url()));
        store
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop may run inside a runtime; a thread of its own keeps it out of that one.
        let _ = std::thread::spawn(move || {
            runtime().block_on(async {
                let client = clickhouse::Client::default().with_url(url()).with_validation(false);
                client.query(&format!("DROP DATABASE IF EXISTS {name}")).execute().await
            })
        })
        .join();
    }
}

/// Runs one query returning one value, for checks.
pub async fn scalar<T>(store_settings: &Settings, sql: &str) -> T
where
    T: clickhouse::RowOwned + clickhouse::RowRead,
{
    let mut found = rows::<T>(store_settings, &format!("{sql} LIMIT 1")).await;
    found.pop().unwrap_or_else(|| panic!("{sql}: no row"))
}

/// Runs one query, for checks: a plain client of the test's own, not errwatch's store.
pub async fn rows<T>(store_settings: &Settings, sql: &str) -> Vec<T>
where
    T: clickhouse::RowOwned + clickhouse::RowRead,
{
    clickhouse::Client::default()
        .with_url(&store_settings.url)
        .with_database(&store_settings.database)
        .with_validation(false)
        .query(sql)
        .fetch_all::<T>()
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
}

/// Runs a Python `script` that uses chdb (current ClickHouse, in process) with `input` on its
/// standard input, and returns what it printed.
pub fn run_chdb(script: &str, input: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "chdb failed (is chdb-core installed?): {}{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Migrates the database, inserts `rows`, and waits until the per-minute roll-up (filled by a
/// materialized view, a moment after the insert) holds every one of them.
pub fn store_rows(database: &TestDatabase, rows: &[errwatch::store::ErrorRow]) {
    runtime().block_on(async {
        let store = database.migrated().await;
        store.insert(rows).await.unwrap();
    });
    let settings = database.settings();
    crate::process::wait_until("the roll-up to hold every row", std::time::Duration::from_secs(60), || {
        runtime().block_on(scalar::<u64>(&settings, "SELECT sum(events) FROM api_errors_per_minute"))
            == rows.len() as u64
    });
}
