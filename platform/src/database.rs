//! The database handle: which backend a board runs on (one SQLite file, or PostgreSQL for
//! several processes), its connection pools, and the migrations that build every crate's
//! tables, one folder per database (`migrations/sqlite`, `migrations/postgres`).
//!
//! Each owner of tables (the directory, the provider, the consent service, the gateway, the
//! audit chain) keeps its own storage interface over this handle; domain code never matches on
//! the backend.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

/// Errors the storage layer reports; domain code maps them to its own errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken (for example a username that already exists).
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// The database could not be reached or answered with an error.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations could not be applied.
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The database URL names a database Renkei does not support.
    #[error("unsupported database URL {0:?}: use sqlite://FILE or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
}

/// Result of storage calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// The database URL as it may be shown (start-up lines, error messages, logs): the password,
/// if any, replaced by `***`. A URL that does not parse is shown up to its scheme only.
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => match url.split_once("://") {
            Some((scheme, _)) => format!("{scheme}://…"),
            None => "(unparsable URL)".to_owned(),
        },
    }
}

/// Maps a unique-key violation to [`StoreError::Conflict`] naming `what`, any other error to
/// [`StoreError::Database`].
pub fn conflict_as(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |error| match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
        _ => StoreError::Database(error),
    }
}

/// The SQLite schema, from `migrations/sqlite`.
pub static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

/// The PostgreSQL schema, from `migrations/postgres`.
pub static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// An open database: the backend and its connection pool. Cheap to clone.
#[derive(Clone, Debug)]
pub enum Database {
    /// One SQLite file (the embedded default).
    Sqlite(sqlx::SqlitePool),
    /// A PostgreSQL database (several processes).
    Postgres(sqlx::PgPool),
}

impl Database {
    /// Connects to `sqlite://FILE` (created if missing) or `postgres://USER@HOST/DB`.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        if url.starts_with("sqlite:") {
            Ok(Database::Sqlite(open_sqlite(url).await?))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Database::Postgres(open_postgres(url).await?))
        } else {
            Err(StoreError::UnsupportedUrl(redacted(url)))
        }
    }

    /// Connects and applies pending migrations.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let database = Self::connect(url).await?;
        database.migrate().await?;
        Ok(database)
    }

    /// Applies pending migrations (every crate's tables).
    pub async fn migrate(&self) -> StoreResult<()> {
        match self {
            Database::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
            Database::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }
}

/// Opens (creating if missing) the SQLite database at `url`, in WAL mode so that readers never
/// wait for the writer.
async fn open_sqlite(url: &str) -> StoreResult<sqlx::SqlitePool> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10))
        // 32 MiB of page cache per connection (the default 2 MiB thrashes on board-sized imports).
        .pragma("cache_size", "-32768");
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        // A local file's connection cannot go stale: no ping before each use.
        .test_before_acquire(false)
        .connect_with(options)
        .await?;
    Ok(pool)
}

/// Connects to the PostgreSQL database at `url`.
async fn open_postgres(url: &str) -> StoreResult<sqlx::PgPool> {
    let pool = PgPoolOptions::new()
        .max_connections(16)
        // sqlx pings a pooled connection before handing it out by default: a round trip for
        // every statement. A connection broken by a database restart or fail-over instead
        // fails the one statement that finds it broken, and is then dropped.
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await?;
    Ok(pool)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::redacted;

    #[test]
    fn passwords_never_leave_in_a_shown_url() {
        assert_eq!(
            redacted("postgres://renkei:s3cret@db.example.jp:5432/renkei"),
            "postgres://renkei:***@db.example.jp:5432/renkei"
        );
        assert_eq!(
            redacted("postgres://renkei@db/renkei"),
            "postgres://renkei@db/renkei"
        );
        assert_eq!(redacted("sqlite://renkei.db"), "sqlite://renkei.db");
        assert!(!redacted("postgres://a:s3cret@[bad").contains("s3cret"));
        assert!(!redacted("s3cret").contains("s3cret"));
    }

    /// The migration files of one database's folder, sorted.
    fn migrations(database: &str) -> Vec<String> {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../migrations")
            .join(database);
        let mut names: Vec<String> = std::fs::read_dir(&folder)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", folder.display()))
            .map(|entry| {
                entry
                    .expect("folder entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|name| name.ends_with(".sql"))
            .collect();
        names.sort();
        names
    }

    /// Every migration exists for both databases under the same name: a schema change written
    /// for one backend only would leave the other one behind.
    #[test]
    fn both_databases_have_the_same_migrations() {
        let sqlite = migrations("sqlite");
        let postgres = migrations("postgres");
        assert!(!sqlite.is_empty(), "no migrations found");
        let only_sqlite: Vec<_> = sqlite.iter().filter(|m| !postgres.contains(m)).collect();
        let only_postgres: Vec<_> = postgres.iter().filter(|m| !sqlite.contains(m)).collect();
        assert!(
            only_sqlite.is_empty() && only_postgres.is_empty(),
            "every migration needs a file in both folders: only in migrations/sqlite: {only_sqlite:?}; only in migrations/postgres: {only_postgres:?}"
        );
    }

    /// The embedded schemas are the folders' files (a build that missed a new file would apply
    /// an older schema).
    #[test]
    fn embedded_migrations_match_the_folders() {
        let embedded = |migrator: &sqlx::migrate::Migrator| -> Vec<String> {
            migrator
                .iter()
                .map(|m| format!("{:04}_{}.sql", m.version, m.description.replace(' ', "_")))
                .collect()
        };
        assert_eq!(embedded(&super::SQLITE_MIGRATIONS), migrations("sqlite"));
        assert_eq!(
            embedded(&super::POSTGRES_MIGRATIONS),
            migrations("postgres")
        );
    }
}
