//! The SQL of [`ImportTx`](super::roster::ImportTx), written once for both databases and
//! instantiated per database by [`sql_import_tx!`].

/// Implements `ImportTx` for `$tx`, a struct with a `tx: sqlx::Transaction<'static, $db>`;
/// `$serialise` is the statement that makes imports wait for one another.
macro_rules! sql_import_tx {
    ($tx:ident, $db:ty, $params:expr, $serialise:expr) => {
        /// An import transaction.
        pub struct $tx {
            tx: sqlx::Transaction<'static, $db>,
        }

        #[async_trait::async_trait]
        impl $crate::store::roster::ImportTx for $tx {
            async fn existing(&mut self, table: &Table, ids: &[String]) -> StoreResult<HashSet<String>> {
                if ids.is_empty() {
                    return Ok(HashSet::new());
                }
                let sql = format!("SELECT {k} FROM {t} WHERE {k} IN ({list})", k = table.key, t = table.name, list = $params.list(1, ids.len()));
                let mut query = sqlx::query_scalar::<$db, String>(&sql);
                for id in ids {
                    query = query.bind(id);
                }
                Ok(query.fetch_all(&mut *self.tx).await?.into_iter().collect())
            }

            async fn existing_active(&mut self, table: &Table, ids: &[String]) -> StoreResult<HashSet<String>> {
                if ids.is_empty() {
                    return Ok(HashSet::new());
                }
                let sql = format!(
                    "SELECT {k} FROM {t} WHERE status <> 'tobedeleted' AND {k} IN ({list})",
                    k = table.key,
                    t = table.name,
                    list = $params.list(1, ids.len())
                );
                let mut query = sqlx::query_scalar::<$db, String>(&sql);
                for id in ids {
                    query = query.bind(id);
                }
                Ok(query.fetch_all(&mut *self.tx).await?.into_iter().collect())
            }

            async fn holds_records(&mut self, table: &Table) -> StoreResult<bool> {
                let sql = format!("SELECT 1 FROM {t} WHERE {k} IS NOT NULL LIMIT 1", t = table.name, k = table.key);
                Ok(sqlx::query::<$db>(&sql).fetch_optional(&mut *self.tx).await?.is_some())
            }

            async fn upsert(&mut self, table: &Table, rows: &[DirectoryRow], all_new: bool) -> StoreResult<Upserted> {
                if rows.is_empty() {
                    return Ok(Upserted::default());
                }
                let before = self.existing_count(table, rows.iter().map(|r| &r.sourced_id), all_new).await?;
                let sql = upsert_sql($params, table, rows.len());
                let mut query = sqlx::query::<$db>(&sql);
                for row in rows {
                    query = query.bind(&row.sourced_id).bind(&row.status).bind(&row.date_last_modified);
                    for value in &row.extra {
                        query = query.bind(value);
                    }
                    query = query.bind(&row.data);
                }
                let affected = query.execute(&mut *self.tx).await?.rows_affected();
                let created = rows.len() as u64 - before;
                Ok(Upserted { created, updated: affected.saturating_sub(created) })
            }

            async fn all_ids(&mut self, table: &Table) -> StoreResult<Vec<String>> {
                let sql = format!(
                    "SELECT {k} FROM {t} WHERE {k} IS NOT NULL AND data IS NOT NULL AND status <> 'tobedeleted' ORDER BY {k}",
                    k = table.key,
                    t = table.name
                );
                Ok(sqlx::query_scalar::<$db, String>(&sql).fetch_all(&mut *self.tx).await?)
            }

            async fn mark_deleted(&mut self, table: &Table, ids: &[String], when: &str) -> StoreResult<u64> {
                let mut marked = 0;
                for chunk in ids.chunks(500) {
                    let sql = format!(
                        "UPDATE {t} SET status = 'tobedeleted', date_last_modified = {when} WHERE status <> 'tobedeleted' AND {k} IN ({list})",
                        t = table.name,
                        k = table.key,
                        when = $params.one(1),
                        list = $params.list(2, chunk.len())
                    );
                    let mut query = sqlx::query::<$db>(&sql).bind(when);
                    for id in chunk {
                        query = query.bind(id);
                    }
                    marked += query.execute(&mut *self.tx).await?.rows_affected();
                }
                Ok(marked)
            }

            async fn primary_roles(&mut self, user_ids: &[String]) -> StoreResult<HashMap<String, (String, String)>> {
                if user_ids.is_empty() {
                    return Ok(HashMap::new());
                }
                let sql = format!(
                    "SELECT user_id, role, org_id FROM roles WHERE role_type = 'primary' AND status = 'active' AND user_id IN ({})",
                    $params.list(1, user_ids.len())
                );
                let mut query = sqlx::query_as::<$db, (String, String, String)>(&sql);
                for id in user_ids {
                    query = query.bind(id);
                }
                Ok(query.fetch_all(&mut *self.tx).await?.into_iter().map(|(user, role, org)| (user, (role, org))).collect())
            }

            async fn password_hashes(&mut self, sourced_ids: &[String]) -> StoreResult<HashMap<String, Option<String>>> {
                if sourced_ids.is_empty() {
                    return Ok(HashMap::new());
                }
                let sql = format!("SELECT sourced_id, roster_password_hash FROM users WHERE sourced_id IN ({})", $params.list(1, sourced_ids.len()));
                let mut query = sqlx::query_as::<$db, (String, Option<String>)>(&sql);
                for id in sourced_ids {
                    query = query.bind(id);
                }
                Ok(query.fetch_all(&mut *self.tx).await?.into_iter().collect())
            }

            async fn usernames_outside_roster(&mut self) -> StoreResult<HashMap<String, String>> {
                let names = sqlx::query_scalar::<$db, String>("SELECT username FROM users WHERE sourced_id IS NULL")
                    .fetch_all(&mut *self.tx)
                    .await?;
                Ok(names.into_iter().map(|name| (fold_username(&name), name)).collect())
            }

            async fn username_owners(&mut self, usernames: &[String]) -> StoreResult<HashMap<String, Vec<(String, Option<String>)>>> {
                if usernames.is_empty() {
                    return Ok(HashMap::new());
                }
                // Lower-case usernames through the unique index; those with capitals through the
                // partial index on lower(username) (migration 0012), with its very condition.
                let n = usernames.len();
                let sql = format!(
                    "SELECT username, sourced_id FROM users WHERE username IN ({}) \
                     UNION ALL SELECT username, sourced_id FROM users \
                     WHERE username <> lower(username) AND lower(username) IN ({})",
                    $params.list(1, n),
                    $params.list(n + 1, n)
                );
                let folded: Vec<String> = usernames.iter().map(|name| fold_username(name)).collect();
                let mut query = sqlx::query_as::<$db, (String, Option<String>)>(&sql);
                for name in folded.iter().chain(&folded) {
                    query = query.bind(name);
                }
                let mut owners: HashMap<String, Vec<(String, Option<String>)>> = HashMap::new();
                for (name, owner) in query.fetch_all(&mut *self.tx).await? {
                    owners.entry(fold_username(&name)).or_default().push((name, owner));
                }
                Ok(owners)
            }

            async fn upsert_accounts(&mut self, rows: &[AccountRow], now: i64, all_new: bool) -> StoreResult<Upserted> {
                if rows.is_empty() {
                    return Ok(Upserted::default());
                }
                let before = self.existing_count(&tables::USERS, rows.iter().map(|r| &r.sourced_id), all_new).await?;
                let sql = account_upsert_sql($params, rows.len());
                let mut query = sqlx::query::<$db>(&sql);
                for row in rows {
                    query = query
                        .bind(&row.id)
                        .bind(&row.sourced_id)
                        .bind(&row.username)
                        .bind(&row.role)
                        .bind(&row.given_name)
                        .bind(&row.family_name)
                        .bind(&row.given_name_kana)
                        .bind(&row.family_name_kana)
                        .bind(&row.email)
                        .bind(&row.password_hash)
                        .bind(&row.password_hash)
                        .bind(&row.school_id)
                        .bind(&row.grade)
                        .bind(row.enabled)
                        .bind(&row.status)
                        .bind(&row.date_last_modified)
                        .bind(&row.data)
                        .bind(now)
                        .bind(now)
                        .bind(if row.enabled { None } else { Some(now) });
                }
                let affected = query.execute(&mut *self.tx).await?.rows_affected();
                let disabled: Vec<String> = rows.iter().filter(|r| !r.enabled).map(|r| r.sourced_id.clone()).collect();
                self.end_access(&disabled, now).await?;
                let created = rows.len() as u64 - before;
                Ok(Upserted { created, updated: affected.saturating_sub(created) })
            }

            async fn remove_accounts(&mut self, sourced_ids: &[String], now: i64) -> StoreResult<u64> {
                let mut removed = 0;
                for chunk in sourced_ids.chunks(500) {
                    let sql = format!(
                        "UPDATE users SET status = 'tobedeleted', enabled = FALSE, updated_at = {p1}, \
                         disabled_at = {p2} WHERE status <> 'tobedeleted' AND sourced_id IN ({list})",
                        p1 = $params.one(1),
                        p2 = $params.one(2),
                        list = $params.list(3, chunk.len())
                    );
                    let mut query = sqlx::query::<$db>(&sql).bind(now).bind(now);
                    for id in chunk {
                        query = query.bind(id);
                    }
                    removed += query.execute(&mut *self.tx).await?.rows_affected();
                }
                self.end_access(sourced_ids, now).await?;
                Ok(removed)
            }

            async fn replace_agents(&mut self, user_ids: &[String], pairs: &[(String, String)], all_new: bool) -> StoreResult<()> {
                for chunk in user_ids.chunks(500).filter(|_| !all_new) {
                    let sql = format!("DELETE FROM user_agents WHERE user_id IN ({})", $params.list(1, chunk.len()));
                    let mut query = sqlx::query::<$db>(&sql);
                    for id in chunk {
                        query = query.bind(id);
                    }
                    query.execute(&mut *self.tx).await?;
                }
                for chunk in pairs.chunks(500) {
                    let sql = format!("INSERT INTO user_agents (user_id, agent_id) VALUES {} ON CONFLICT DO NOTHING", $params.rows(chunk.len(), 2));
                    let mut query = sqlx::query::<$db>(&sql);
                    for (user, agent) in chunk {
                        query = query.bind(user).bind(agent);
                    }
                    query.execute(&mut *self.tx).await?;
                }
                Ok(())
            }

            async fn account_places(&mut self, sourced_ids: &[String]) -> StoreResult<HashMap<String, AccountPlace>> {
                let mut places = HashMap::new();
                for chunk in sourced_ids.chunks(500) {
                    let sql = format!(
                        "SELECT sourced_id, school_id, role, enabled FROM users WHERE sourced_id IN ({})",
                        $params.list(1, chunk.len())
                    );
                    let mut query = sqlx::query_as::<$db, (String, Option<String>, String, bool)>(&sql);
                    for id in chunk {
                        query = query.bind(id);
                    }
                    for (id, school_id, role, enabled) in query.fetch_all(&mut *self.tx).await? {
                        places.insert(id, AccountPlace { school_id, role, enabled });
                    }
                }
                Ok(places)
            }

            async fn enabled_accounts_by_school(&mut self) -> StoreResult<HashMap<Option<String>, u64>> {
                let rows = sqlx::query_as::<$db, (Option<String>, i64)>(
                    "SELECT school_id, COUNT(*) FROM users WHERE sourced_id IS NOT NULL AND enabled GROUP BY school_id",
                )
                .fetch_all(&mut *self.tx)
                .await?;
                Ok(rows.into_iter().map(|(school, n)| (school, n as u64)).collect())
            }

            async fn active_referring(&mut self, table: &Table, column: &'static str, ids: &[String], examples: usize) -> StoreResult<(u64, Vec<(String, String)>)> {
                if ids.is_empty() {
                    return Ok((0, Vec::new()));
                }
                let filter = format!(
                    "FROM {t} WHERE status <> 'tobedeleted' AND {column} IN ({list})",
                    t = table.name,
                    list = $params.list(1, ids.len())
                );
                let count_sql = format!("SELECT COUNT(*) {filter}");
                let mut count = sqlx::query_scalar::<$db, i64>(&count_sql);
                for id in ids {
                    count = count.bind(id);
                }
                let count = count.fetch_one(&mut *self.tx).await?;
                if count == 0 {
                    return Ok((0, Vec::new()));
                }
                let sql = format!("SELECT {k}, {column} {filter} ORDER BY {k} LIMIT {examples}", k = table.key);
                let mut query = sqlx::query_as::<$db, (String, String)>(&sql);
                for id in ids {
                    query = query.bind(id);
                }
                Ok((count as u64, query.fetch_all(&mut *self.tx).await?))
            }

            async fn import_record(&mut self, id: &str) -> StoreResult<Option<ImportRecord>> {
                let row = sqlx::query_as::<$db, (String, i64, i64, String, String, String, String)>(&format!(
                    "SELECT id, started_at, finished_at, actor, source, outcome, summary FROM imports WHERE id = {}",
                    $params.one(1)
                ))
                .bind(id)
                .fetch_optional(&mut *self.tx)
                .await?;
                Ok(row.map(|(id, started_at, finished_at, actor, source, outcome, summary)| ImportRecord {
                    id,
                    started_at,
                    finished_at,
                    actor,
                    source,
                    outcome,
                    summary,
                }))
            }

            async fn record_import(&mut self, record: &ImportRecord) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO imports (id, started_at, finished_at, actor, source, outcome, summary) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&record.id)
                .bind(record.started_at)
                .bind(record.finished_at)
                .bind(&record.actor)
                .bind(&record.source)
                .bind(&record.outcome)
                .bind(&record.summary)
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn commit(self: Box<Self>) -> StoreResult<()> {
                self.tx.commit().await?;
                Ok(())
            }
        }

        impl $tx {
            /// Begins an import on `pool`. Imports run one at a time: a first import skips
            /// look-ups on tables it finds empty, which holds only if no other import fills
            /// them meanwhile.
            async fn begin(pool: sqlx::Pool<$db>) -> StoreResult<Self> {
                let mut tx = pool.begin().await?;
                sqlx::query::<$db>($serialise).execute(&mut *tx).await?;
                Ok(Self { tx })
            }

            /// How many of the rows' keys exist already (none when the caller knows they are
            /// all new).
            async fn existing_count(&mut self, table: &Table, ids: impl Iterator<Item = &String>, all_new: bool) -> StoreResult<u64> {
                if all_new {
                    return Ok(0);
                }
                let ids: Vec<String> = ids.cloned().collect();
                Ok($crate::store::roster::ImportTx::existing(self, table, &ids).await?.len() as u64)
            }

            /// Ends the sessions and revokes the grants of the given roster accounts.
            async fn end_access(&mut self, sourced_ids: &[String], now: i64) -> StoreResult<()> {
                for chunk in sourced_ids.chunks(500) {
                    let sessions = format!(
                        "DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE sourced_id IN ({}))",
                        $params.list(1, chunk.len())
                    );
                    let mut query = sqlx::query::<$db>(&sessions);
                    for id in chunk {
                        query = query.bind(id);
                    }
                    query.execute(&mut *self.tx).await?;
                    let grants = format!(
                        "UPDATE grants SET revoked_at = {} WHERE revoked_at IS NULL AND user_id IN \
                         (SELECT id FROM users WHERE sourced_id IN ({}))",
                        $params.one(1),
                        $params.list(2, chunk.len())
                    );
                    let mut query = sqlx::query::<$db>(&grants).bind(now);
                    for id in chunk {
                        query = query.bind(id);
                    }
                    query.execute(&mut *self.tx).await?;
                }
                Ok(())
            }
        }
    };
}

pub(super) use sql_import_tx;
