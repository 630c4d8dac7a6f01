//! The consent service's storage interface, on the same database as the identity provider
//! (one migration sequence in `migrations/`), with one body of portable SQL for SQLite and
//! PostgreSQL.

use std::sync::Arc;

use async_trait::async_trait;
pub use renkei_directory::{Placement, Pupil};
use renkei_platform::sql::{POSTGRES_NOW_MS, SQLITE_NOW_MS};
use renkei_platform::{Database, StoreResult};

use crate::category::Category;
use crate::error::{Error, Result};
use crate::policy::{Basis, Policy, PolicyInput};
use crate::record::ConsentRecord;

/// What the consent service stores and looks up.
#[async_trait]
pub trait ConsentStore: Send + Sync + 'static {
    /// Whether an app with this client id is registered.
    async fn client_exists(&self, client_id: &str) -> StoreResult<bool>;
    /// One data category.
    async fn category(&self, id: &str) -> StoreResult<Option<Category>>;
    /// Every data category, most sensitive first.
    async fn categories(&self) -> StoreResult<Vec<Category>>;
    /// Adds an administrator's category.
    async fn insert_category(&self, category: &Category, now: i64) -> StoreResult<()>;
    /// The latest version of the policy for (app, category), in force or not.
    async fn latest_policy(&self, client_id: &str, category_id: &str) -> Result<Option<Policy>>;
    /// Stores the next version of the policy for (app, category).
    async fn insert_policy(&self, input: &PolicyInput, now: i64) -> Result<Policy>;
    /// The latest version for (app, category), if it is in force at `now`.
    async fn current_policy(
        &self,
        client_id: &str,
        category_id: &str,
        now: i64,
    ) -> Result<Option<Policy>>;
    /// The latest version of every policy (of one app, if given).
    async fn policies(&self, client_id: Option<&str>) -> Result<Vec<Policy>>;
    /// Every version of an app's policies, by category, newest first: their history.
    async fn policy_versions(&self, client_id: &str) -> Result<Vec<Policy>>;
    /// Appends a consent record.
    async fn append_consent(&self, record: &ConsentRecord) -> StoreResult<()>;
    /// Consent records, oldest first (of one child and/or one app, if given).
    async fn consents(
        &self,
        student_id: Option<&str>,
        client_id: Option<&str>,
    ) -> StoreResult<Vec<ConsentRecord>>;
    /// Consent records of one app and category, oldest first.
    async fn consents_for(
        &self,
        client_id: &str,
        category_id: &str,
    ) -> StoreResult<Vec<ConsentRecord>>;
    /// Capability root keys, newest first.
    async fn capability_keys(&self) -> StoreResult<Vec<CapabilityKeyRow>>;
    /// Adds a signing key (the next id) and retires the others; returns its id.
    async fn insert_capability_key(&self, private_key: &[u8], now: i64) -> StoreResult<i64>;
    /// Records a minted capability token.
    async fn record_capability(&self, token: &CapabilityRow) -> StoreResult<()>;
    /// Revokes the unexpired tokens of an app (carrying `category`, if given), and refuses any
    /// whose exchange started before this moment but is recorded later; returns how many were
    /// revoked.
    async fn revoke_capabilities(
        &self,
        client_id: &str,
        category_id: Option<&str>,
        now: i64,
    ) -> StoreResult<u64>;
    /// [`ConsentStore::revoke_capabilities`] for the tokens an app got for one person
    /// (`subject`: their account id) only.
    async fn revoke_capabilities_of(
        &self,
        client_id: &str,
        subject: &str,
        now: i64,
    ) -> StoreResult<u64>;
    /// Revokes every unexpired token of every app, and refuses any whose exchange started
    /// before this moment but is recorded later (the roster they were minted on changed);
    /// returns how many were revoked.
    async fn revoke_all_capabilities(&self, now: i64) -> StoreResult<u64>;
    /// Whether a token was minted here and is not revoked.
    async fn capability_usable(&self, revocation_id: &str) -> StoreResult<bool>;
    /// Revocation ids of every unexpired token that [`ConsentStore::capability_usable`]
    /// refuses: revoked ones, and ones whose exchange started before a revocation mark but
    /// were recorded after it (the published list must refuse what the gateway refuses).
    async fn revoked_capabilities(&self, now: i64) -> StoreResult<Vec<String>>;
    /// The database's clock, in Unix milliseconds: the start of an exchange and a revocation
    /// mark are both timed by it, so that processes whose clocks differ still order them.
    async fn clock_ms(&self) -> StoreResult<i64>;
}

/// A stored capability root key.
#[derive(Clone, sqlx::FromRow)]
pub struct CapabilityKeyRow {
    /// The root key id.
    pub id: i64,
    /// Ed25519 private key bytes.
    pub private_key: Vec<u8>,
    /// When it was created (published at once, signing [`ACTIVATION_DELAY`] later).
    ///
    /// [`ACTIVATION_DELAY`]: crate::capability::keys::ACTIVATION_DELAY
    pub created_at: i64,
    /// When it stopped signing.
    pub retired_at: Option<i64>,
}

/// A minted capability token as recorded for revocation.
#[derive(Clone, Debug)]
pub struct CapabilityRow {
    /// Hex of the authority block's revocation id.
    pub revocation_id: String,
    /// The app.
    pub client_id: String,
    /// Granted categories.
    pub categories: Vec<String>,
    /// The user (or the app) it speaks for.
    pub subject: String,
    /// When the exchange that minted it started, in milliseconds of the database's clock
    /// ([`ConsentStore::clock_ms`]).
    pub issued_at_ms: i64,
    /// Expiry.
    pub expires_at: i64,
}

/// The consent storage on an open database.
pub fn open(database: &Database) -> Arc<dyn ConsentStore> {
    match database {
        Database::Sqlite(pool) => Arc::new(SqliteConsentStore { pool: pool.clone() }),
        Database::Postgres(pool) => Arc::new(PostgresConsentStore { pool: pool.clone() }),
    }
}

/// A policy version as stored.
#[derive(sqlx::FromRow)]
struct PolicyRow {
    #[sqlx(default)]
    revoked_at: Option<i64>,
    client_id: String,
    category_id: String,
    version: i64,
    basis: String,
    scopes: String,
    purpose_ja: Option<String>,
    purpose_en: Option<String>,
    valid_until: Option<i64>,
    justification: Option<String>,
    created_at: i64,
    created_by: String,
}

impl PolicyRow {
    fn into_policy(self) -> Result<Policy> {
        Ok(Policy {
            basis: Basis::parse(&self.basis)?,
            reach: serde_json::from_str(&self.scopes)
                .map_err(|e| Error::Invalid(format!("stored policy has unreadable scopes: {e}")))?,
            client_id: self.client_id,
            category_id: self.category_id,
            version: self.version,
            purpose_ja: self.purpose_ja,
            purpose_en: self.purpose_en,
            valid_until: self.valid_until,
            justification: self.justification,
            created_at: self.created_at,
            created_by: self.created_by,
        })
    }
}

const POLICY_COLUMNS: &str = "client_id, category_id, version, basis, scopes, purpose_ja, purpose_en, valid_until, \
                              justification, created_at, created_by";

struct SqliteConsentStore {
    pool: sqlx::SqlitePool,
}

struct PostgresConsentStore {
    pool: sqlx::PgPool,
}

/// A token `t` whose exchange started at or before a revocation mark that applies to it:
/// refused, though it may have been recorded after the revocation itself (a mark and a start in
/// the same millisecond are not ordered, so the token is refused).
const MARKED: &str = "EXISTS (SELECT 1 FROM capability_revocations r WHERE r.client_id = t.client_id AND r.at >= t.issued_at \
     AND (r.category_id IS NULL OR (' ' || t.categories || ' ') LIKE ('% ' || r.category_id || ' %')) \
     AND (r.subject IS NULL OR r.subject = t.subject))";

/// Implements [`ConsentStore`] for a store with a `pool` of database `$db`, whose clock in
/// milliseconds is the SQL expression `$now_ms`.
macro_rules! consent_store {
    ($store:ty, $db:ty, $now_ms:expr) => {
        #[async_trait]
        impl ConsentStore for $store {
            async fn client_exists(&self, client_id: &str) -> StoreResult<bool> {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM clients WHERE id = $1").bind(client_id).fetch_one(&self.pool).await?;
                Ok(n > 0)
            }

            async fn category(&self, id: &str) -> StoreResult<Option<Category>> {
                Ok(sqlx::query_as::<$db, Category>(
                    "SELECT id, name_ja, name_en, description_ja, description_en, sensitivity FROM data_categories WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn categories(&self) -> StoreResult<Vec<Category>> {
                Ok(sqlx::query_as::<$db, Category>(
                    "SELECT id, name_ja, name_en, description_ja, description_en, sensitivity FROM data_categories ORDER BY sensitivity, id",
                )
                .fetch_all(&self.pool)
                .await?)
            }

            async fn insert_category(&self, category: &Category, now: i64) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO data_categories (id, name_ja, name_en, description_ja, description_en, sensitivity, builtin, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, FALSE, $7)",
                )
                .bind(&category.id)
                .bind(&category.name_ja)
                .bind(&category.name_en)
                .bind(&category.description_ja)
                .bind(&category.description_en)
                .bind(category.sensitivity)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn latest_policy(&self, client_id: &str, category_id: &str) -> Result<Option<Policy>> {
                let row = sqlx::query_as::<$db, PolicyRow>(&format!(
                    "SELECT {POLICY_COLUMNS} FROM consent_policies WHERE client_id = $1 AND category_id = $2 \
                     ORDER BY version DESC LIMIT 1"
                ))
                .bind(client_id)
                .bind(category_id)
                .fetch_optional(&self.pool)
                .await?;
                row.map(PolicyRow::into_policy).transpose()
            }

            async fn insert_policy(&self, input: &PolicyInput, now: i64) -> Result<Policy> {
                let scopes = serde_json::to_string(&input.reach).map_err(|e| Error::Invalid(e.to_string()))?;
                // One statement picks the next version and inserts it, so that two administrators
                // cannot create the same version.
                let row: PolicyRow = sqlx::query_as::<$db, PolicyRow>(&format!(
                    "INSERT INTO consent_policies ({POLICY_COLUMNS}) \
                     SELECT $1, $2, COALESCE(MAX(version), 0) + 1, $3, $4, $5, $6, $7, $8, $9, $10 \
                     FROM consent_policies WHERE client_id = $1 AND category_id = $2 RETURNING {POLICY_COLUMNS}"
                ))
                .bind(&input.client_id)
                .bind(&input.category_id)
                .bind(input.basis.as_str())
                .bind(&scopes)
                .bind(&input.purpose_ja)
                .bind(&input.purpose_en)
                .bind(input.valid_until)
                .bind(&input.justification)
                .bind(now)
                .bind(&input.by)
                .fetch_one(&self.pool)
                .await
                .map_err(|error| match &error {
                    sqlx::Error::Database(db) if db.is_unique_violation() => Error::Invalid(
                        "another administrator changed this policy at the same moment; look at `renkei policy list` and try again".into(),
                    ),
                    _ => Error::from(error),
                })?;
                row.into_policy()
            }

            async fn current_policy(&self, client_id: &str, category_id: &str, now: i64) -> Result<Option<Policy>> {
                let row = sqlx::query_as::<$db, PolicyRow>(&format!(
                    "SELECT {POLICY_COLUMNS}, revoked_at FROM consent_policies WHERE client_id = $1 AND category_id = $2 \
                     ORDER BY version DESC LIMIT 1"
                ))
                .bind(client_id)
                .bind(category_id)
                .fetch_optional(&self.pool)
                .await?;
                // The newest version decides: a revoked or expired one means no policy is in force
                // (an older version does not come back).
                match row {
                    Some(row) if row.revoked_at.is_none() && row.valid_until.is_none_or(|until| until > now) => {
                        Ok(Some(row.into_policy()?))
                    }
                    _ => Ok(None),
                }
            }

            async fn policies(&self, client_id: Option<&str>) -> Result<Vec<Policy>> {
                let rows = sqlx::query_as::<$db, PolicyRow>(&format!(
                    "SELECT {POLICY_COLUMNS} FROM consent_policies p WHERE version = \
                     (SELECT MAX(version) FROM consent_policies q WHERE q.client_id = p.client_id AND q.category_id = p.category_id) \
                     AND ($1 IS NULL OR client_id = $1) ORDER BY client_id, category_id"
                ))
                .bind(client_id)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(PolicyRow::into_policy).collect()
            }

            async fn policy_versions(&self, client_id: &str) -> Result<Vec<Policy>> {
                let rows = sqlx::query_as::<$db, PolicyRow>(&format!(
                    "SELECT {POLICY_COLUMNS} FROM consent_policies p WHERE client_id = $1 ORDER BY category_id, version DESC"
                ))
                .bind(client_id)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(PolicyRow::into_policy).collect()
            }

            async fn append_consent(&self, record: &ConsentRecord) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO consent_records (id, seq, student_id, client_id, category_id, policy_version, action, by_user_id, by_role, at, until, paper_from) \
                     SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 FROM consent_records",
                )
                .bind(&record.id)
                .bind(&record.student_id)
                .bind(&record.client_id)
                .bind(&record.category_id)
                .bind(record.policy_version)
                .bind(&record.action)
                .bind(&record.by_user_id)
                .bind(&record.by_role)
                .bind(record.at)
                .bind(record.until)
                .bind(&record.paper_from)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn consents(&self, student_id: Option<&str>, client_id: Option<&str>) -> StoreResult<Vec<ConsentRecord>> {
                Ok(sqlx::query_as::<$db, ConsentRecord>(
                    "SELECT id, student_id, client_id, category_id, policy_version, action, by_user_id, by_role, at, until, paper_from \
                     FROM consent_records WHERE ($1 IS NULL OR student_id = $1) AND ($2 IS NULL OR client_id = $2) \
                     ORDER BY seq",
                )
                .bind(student_id)
                .bind(client_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn consents_for(&self, client_id: &str, category_id: &str) -> StoreResult<Vec<ConsentRecord>> {
                Ok(sqlx::query_as::<$db, ConsentRecord>(
                    "SELECT id, student_id, client_id, category_id, policy_version, action, by_user_id, by_role, at, until, paper_from \
                     FROM consent_records WHERE client_id = $1 AND category_id = $2 ORDER BY seq",
                )
                .bind(client_id)
                .bind(category_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn capability_keys(&self) -> StoreResult<Vec<CapabilityKeyRow>> {
                Ok(sqlx::query_as::<$db, CapabilityKeyRow>("SELECT id, private_key, created_at, retired_at FROM capability_keys ORDER BY id DESC")
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn insert_capability_key(&self, private_key: &[u8], now: i64) -> StoreResult<i64> {
                let mut tx = self.pool.begin().await?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO capability_keys (id, private_key, created_at) \
                     SELECT COALESCE(MAX(id), 0) + 1, $1, $2 FROM capability_keys RETURNING id",
                )
                .bind(private_key)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                sqlx::query("UPDATE capability_keys SET retired_at = $1 WHERE id <> $2 AND retired_at IS NULL")
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(id)
            }

            async fn record_capability(&self, token: &CapabilityRow) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO capability_tokens (revocation_id, client_id, categories, subject, issued_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&token.revocation_id)
                .bind(&token.client_id)
                .bind(token.categories.join(" "))
                .bind(&token.subject)
                .bind(token.issued_at_ms)
                .bind(token.expires_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn revoke_capabilities(&self, client_id: &str, category_id: Option<&str>, now: i64) -> StoreResult<u64> {
                let mut tx = self.pool.begin().await?;
                // The mark is taken now, after the caller's change (a withdrawal, a policy) is
                // stored: an exchange that started earlier may have read the old state.
                sqlx::query(&format!("INSERT INTO capability_revocations (client_id, category_id, at) VALUES ($1, $2, {})", $now_ms))
                    .bind(client_id)
                    .bind(category_id)
                    .execute(&mut *tx)
                    .await?;
                let done = sqlx::query(
                    "UPDATE capability_tokens SET revoked_at = $3 WHERE client_id = $1 AND expires_at >= $3 AND revoked_at IS NULL \
                     AND ($2 IS NULL OR (' ' || categories || ' ') LIKE ('% ' || $2 || ' %'))",
                )
                .bind(client_id)
                .bind(category_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(done.rows_affected())
            }

            async fn revoke_capabilities_of(&self, client_id: &str, subject: &str, now: i64) -> StoreResult<u64> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(&format!("INSERT INTO capability_revocations (client_id, category_id, subject, at) VALUES ($1, NULL, $2, {})", $now_ms))
                    .bind(client_id)
                    .bind(subject)
                    .execute(&mut *tx)
                    .await?;
                let done = sqlx::query(
                    "UPDATE capability_tokens SET revoked_at = $3 WHERE client_id = $1 AND subject = $2 \
                     AND expires_at >= $3 AND revoked_at IS NULL",
                )
                .bind(client_id)
                .bind(subject)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(done.rows_affected())
            }

            async fn revoke_all_capabilities(&self, now: i64) -> StoreResult<u64> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(&format!(
                    "INSERT INTO capability_revocations (client_id, category_id, at) SELECT id, NULL, {} FROM clients",
                    $now_ms
                ))
                .execute(&mut *tx)
                .await?;
                let done = sqlx::query(
                    "UPDATE capability_tokens SET revoked_at = $1 WHERE expires_at >= $1 AND revoked_at IS NULL",
                )
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(done.rows_affected())
            }

            async fn capability_usable(&self, revocation_id: &str) -> StoreResult<bool> {
                let n: i64 = sqlx::query_scalar(&format!(
                    "SELECT COUNT(*) FROM capability_tokens t WHERE t.revocation_id = $1 AND t.revoked_at IS NULL AND NOT {MARKED}"
                ))
                .bind(revocation_id)
                .fetch_one(&self.pool)
                .await?;
                Ok(n > 0)
            }

            async fn revoked_capabilities(&self, now: i64) -> StoreResult<Vec<String>> {
                Ok(sqlx::query_scalar(&format!(
                    "SELECT t.revocation_id FROM capability_tokens t WHERE t.expires_at >= $1 \
                     AND (t.revoked_at IS NOT NULL OR {MARKED}) ORDER BY t.revocation_id"
                ))
                .bind(now)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn clock_ms(&self) -> StoreResult<i64> {
                Ok(sqlx::query_scalar(&format!("SELECT {}", $now_ms)).fetch_one(&self.pool).await?)
            }
        }
    };
}

consent_store!(SqliteConsentStore, sqlx::Sqlite, SQLITE_NOW_MS);
consent_store!(PostgresConsentStore, sqlx::Postgres, POSTGRES_NOW_MS);
