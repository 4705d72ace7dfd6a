//! Forward-only schema migrations, applied in order and recorded in `schema_migrations`.
//!
//! Every statement is idempotent (`IF NOT EXISTS`), so a second run changes nothing and two
//! processes migrating at once both succeed: whichever creates a table first, the other finds it.

use super::{Store, StoreError};

/// The migrations, in order: version, name, SQL. Compiled into the binary so that errwatch
/// migrates whatever directory it runs from.
pub const MIGRATIONS: &[(u32, &str, &str)] = &[
    (1, "0001_api_errors", include_str!("../../migrations/0001_api_errors.sql")),
    (2, "0002_correlation_lookup", include_str!("../../migrations/0002_correlation_lookup.sql")),
    (3, "0003_errors_per_minute", include_str!("../../migrations/0003_errors_per_minute.sql")),
    (4, "0004_quarantine", include_str!("../../migrations/0004_quarantine.sql")),
];

/// What a migration run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// Whether the database itself had to be created.
    pub created_database: bool,
    /// Names of the migrations applied by this run.
    pub applied: Vec<String>,
}

/// The statements of one migration file: split at `;` that ends a line, comments dropped.
pub fn statements(sql: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        let line = line.split("--").next().unwrap_or_default().trim_end();
        if line.trim().is_empty() {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if line.ends_with(';') {
            let statement = current.trim().trim_end_matches(';').trim().to_owned();
            statements.push(statement);
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        statements.push(current.trim().to_owned());
    }
    statements
}

impl Store {
    /// Creates the database when missing and applies the migrations it has not seen.
    pub async fn migrate(&self) -> Result<MigrationReport, StoreError> {
        let database = &self.settings.database;
        let existing: u64 = self
            .server
            .query("SELECT count() FROM system.databases WHERE name = ?")
            .bind(database.as_str())
            .fetch_one()
            .await
            .map_err(|e| self.error(e))?;
        let mut report = MigrationReport { created_database: existing == 0, applied: Vec::new() };
        // The name was checked to be plain when the store was made.
        self.server
            .query(&format!("CREATE DATABASE IF NOT EXISTS {database}"))
            .execute()
            .await
            .map_err(|e| self.error(e))?;
        self.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, applied_at DateTime) \
             ENGINE = ReplacingMergeTree ORDER BY version",
        )
        .await?;
        let applied: Vec<u32> = self
            .queries
            .query("SELECT DISTINCT version FROM schema_migrations ORDER BY version")
            .fetch_all()
            .await
            .map_err(|e| self.error(e))?;
        for (version, name, sql) in MIGRATIONS {
            if applied.contains(version) {
                continue;
            }
            for statement in statements(sql) {
                self.execute(&statement).await?;
            }
            self.queries
                .query("INSERT INTO schema_migrations (version, name, applied_at) SELECT ?, ?, now()")
                .bind(*version)
                .bind(*name)
                .execute()
                .await
                .map_err(|e| self.error(e))?;
            report.applied.push((*name).to_owned());
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order_and_named_after_their_files() {
        for (index, (version, name, sql)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*version as usize, index + 1);
            assert!(name.starts_with(&format!("{version:04}_")), "{name}");
            assert!(!statements(sql).is_empty(), "{name} has no statements");
        }
    }

    #[test]
    fn every_migration_file_is_listed() {
        let directory = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        let mut files: Vec<String> = std::fs::read_dir(directory)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.ends_with(".sql"))
            .collect();
        files.sort();
        let listed: Vec<String> = MIGRATIONS.iter().map(|(_, name, _)| format!("{name}.sql")).collect();
        assert_eq!(files, listed);
    }

    #[test]
    fn every_statement_is_idempotent() {
        for (_, name, sql) in MIGRATIONS {
            for statement in statements(sql) {
                assert!(statement.contains("IF NOT EXISTS"), "{name}: {statement}");
            }
        }
    }

    #[test]
    fn statements_split_at_line_ends() {
        let sql = "-- a comment\nCREATE TABLE a (x String); \n\nCREATE VIEW b AS\nSELECT 'a;b' -- trailing\nFROM a;\n";
        assert_eq!(statements(sql), ["CREATE TABLE a (x String)", "CREATE VIEW b AS\nSELECT 'a;b'\nFROM a"]);
    }
}
