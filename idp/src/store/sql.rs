//! The SQL behind [`Store`](super::Store), written once in the portable dialect that SQLite and
//! PostgreSQL share (`$n` parameters, `ON CONFLICT`, `RETURNING`) and instantiated for each
//! database by [`sql_store!`]. Dialect differences live in the migrations, not here.

/// Implements [`Store`](super::Store) for `$store`, a struct with a `pool: sqlx::Pool<$db>`
/// field.
macro_rules! sql_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn setting_or_insert(&self, name: &str, default: &[u8]) -> StoreResult<Vec<u8>> {
                sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                    .bind(name)
                    .bind(default)
                    .execute(&self.pool)
                    .await?;
                Ok(sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
                    .bind(name)
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRow>> {
                Ok(sqlx::query_as::<$db, SigningKeyRow>(
                    "SELECT kid, alg, private_pem, created_at, activates_at, retired_at FROM signing_keys ORDER BY activates_at, created_at, kid",
                )
                .fetch_all(&self.pool)
                .await?)
            }

            async fn add_signing_key(&self, key: &SigningKeyRow) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE alg = $2 AND retired_at IS NULL")
                    .bind(key.activates_at)
                    .bind(&key.alg)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("INSERT INTO signing_keys (kid, alg, private_pem, created_at, activates_at, retired_at) VALUES ($1, $2, $3, $4, $5, NULL)")
                    .bind(&key.kid)
                    .bind(&key.alg)
                    .bind(&key.private_pem)
                    .bind(key.created_at)
                    .bind(key.activates_at)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn delete_retired_keys(&self, before: i64) -> StoreResult<u64> {
                Ok(sqlx::query("DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at < $1")
                    .bind(before)
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }

            async fn insert_user(&self, user: &UserRow) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO users (id, username, role, given_name, family_name, given_name_kana, family_name_kana, \
                     email, password_hash, school_id, grade, enabled, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                )
                .bind(&user.id)
                .bind(&user.username)
                .bind(&user.role)
                .bind(&user.given_name)
                .bind(&user.family_name)
                .bind(&user.given_name_kana)
                .bind(&user.family_name_kana)
                .bind(&user.email)
                .bind(&user.password_hash)
                .bind(&user.school_id)
                .bind(&user.grade)
                .bind(user.enabled)
                .bind(user.created_at)
                .bind(user.updated_at)
                .execute(&self.pool)
                .await
                .map_err(conflict_as("user"))?;
                Ok(())
            }

            async fn user(&self, id: &str) -> StoreResult<Option<UserRow>> {
                Ok(sqlx::query_as::<$db, UserRow>(concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn user_by_username(&self, username: &str) -> StoreResult<Option<UserRow>> {
                Ok(sqlx::query_as::<$db, UserRow>(concat!("SELECT ", user_columns!(), " FROM users WHERE username = $1"))
                    .bind(username)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn set_password_hash(&self, user_id: &str, hash: &str, now: i64) -> StoreResult<bool> {
                Ok(sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
                    .bind(user_id)
                    .bind(hash)
                    .bind(now)
                    .execute(&self.pool)
                    .await?
                    .rows_affected()
                    == 1)
            }

            async fn count_users(&self) -> StoreResult<i64> {
                Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&self.pool).await?)
            }

            async fn insert_client(&self, client: &ClientRow) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO clients (id, name, secret_hash, jwks, redirect_uris, post_logout_redirect_uris, \
                     grant_types, scopes, id_token_alg, may_introspect, created_at, vendor, policy_uri, admin_school) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                )
                .bind(&client.id)
                .bind(&client.name)
                .bind(&client.secret_hash)
                .bind(&client.jwks)
                .bind(&client.redirect_uris)
                .bind(&client.post_logout_redirect_uris)
                .bind(&client.grant_types)
                .bind(&client.scopes)
                .bind(&client.id_token_alg)
                .bind(client.may_introspect)
                .bind(client.created_at)
                .bind(&client.vendor)
                .bind(&client.policy_uri)
                .bind(&client.admin_school)
                .execute(&self.pool)
                .await
                .map_err(conflict_as("client"))?;
                Ok(())
            }

            async fn client(&self, id: &str) -> StoreResult<Option<ClientRow>> {
                Ok(sqlx::query_as::<$db, ClientRow>(
                    "SELECT id, name, secret_hash, jwks, redirect_uris, post_logout_redirect_uris, grant_types, scopes, \
                     id_token_alg, may_introspect, created_at, vendor, policy_uri, admin_school FROM clients WHERE id = $1 AND disabled_at IS NULL",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn assurance_policies(&self) -> StoreResult<Vec<AssuranceRow>> {
                Ok(sqlx::query_as::<$db, AssuranceRow>(
                    "SELECT role, requirement, grace_until, set_at, set_by FROM assurance_policies ORDER BY role",
                )
                .fetch_all(&self.pool)
                .await?)
            }

            async fn assurance_policy(&self, role: &str) -> StoreResult<Option<AssuranceRow>> {
                Ok(sqlx::query_as::<$db, AssuranceRow>(
                    "SELECT role, requirement, grace_until, set_at, set_by FROM assurance_policies WHERE role = $1",
                )
                .bind(role)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn assurance_policy_of_account(&self, user_id: &str) -> StoreResult<Option<AssuranceRow>> {
                Ok(sqlx::query_as::<$db, AssuranceRow>(
                    "SELECT a.role, a.requirement, a.grace_until, a.set_at, a.set_by FROM assurance_policies a \
                     JOIN users u ON u.role = a.role WHERE u.id = $1",
                )
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn set_assurance_policy(&self, rule: &AssuranceRow) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO assurance_policies (role, requirement, grace_until, set_at, set_by) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (role) DO UPDATE SET requirement = $2, grace_until = $3, set_at = $4, set_by = $5",
                )
                .bind(&rule.role)
                .bind(&rule.requirement)
                .bind(rule.grace_until)
                .bind(rule.set_at)
                .bind(&rule.set_by)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn clients(&self) -> StoreResult<Vec<ClientRow>> {
                Ok(sqlx::query_as::<$db, ClientRow>(
                    "SELECT id, name, secret_hash, jwks, redirect_uris, post_logout_redirect_uris, grant_types, scopes, \
                     id_token_alg, may_introspect, created_at, vendor, policy_uri, admin_school FROM clients WHERE disabled_at IS NULL ORDER BY created_at, id",
                )
                .fetch_all(&self.pool)
                .await?)
            }

            async fn set_client_secret(&self, id: &str, secret_hash: &[u8]) -> StoreResult<bool> {
                Ok(sqlx::query(
                    "UPDATE clients SET secret_hash = $2 WHERE id = $1 AND disabled_at IS NULL AND secret_hash IS NOT NULL",
                )
                .bind(id)
                .bind(secret_hash)
                .execute(&self.pool)
                .await?
                .rows_affected()
                    > 0)
            }

            async fn disable_client(&self, id: &str, now: i64) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await?;
                let disabled = sqlx::query("UPDATE clients SET disabled_at = $2 WHERE id = $1 AND disabled_at IS NULL")
                    .bind(id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query("UPDATE grants SET revoked_at = $2 WHERE client_id = $1 AND revoked_at IS NULL")
                    .bind(id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(disabled > 0)
            }

            async fn insert_auth_request(&self, id: &str, params: &str, expires_at: i64) -> StoreResult<()> {
                sqlx::query("INSERT INTO auth_requests (id, params, expires_at) VALUES ($1, $2, $3)")
                    .bind(id)
                    .bind(params)
                    .bind(expires_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn auth_request(&self, id: &str, now: i64) -> StoreResult<Option<String>> {
                Ok(sqlx::query_scalar("SELECT params FROM auth_requests WHERE id = $1 AND expires_at > $2")
                    .bind(id)
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn delete_auth_request(&self, id: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM auth_requests WHERE id = $1").bind(id).execute(&self.pool).await?;
                Ok(())
            }

            async fn insert_session(&self, token_hash: &[u8], session: &SessionRow) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO sessions (token_hash, sid, user_id, auth_time, amr, acr, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(token_hash)
                .bind(&session.sid)
                .bind(&session.user_id)
                .bind(session.auth_time)
                .bind(&session.amr)
                .bind(&session.acr)
                .bind(session.expires_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn session(&self, token_hash: &[u8], now: i64) -> StoreResult<Option<SessionRow>> {
                Ok(sqlx::query_as::<$db, SessionRow>(
                    "SELECT s.sid, s.user_id, s.auth_time, s.amr, s.acr, s.expires_at FROM sessions s \
                     JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.enabled",
                )
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn signed_in(
                &self,
                token_hash: &[u8],
                now: i64,
                client_id: &str,
            ) -> StoreResult<Option<$crate::store::SignedIn>> {
                Ok(sqlx::query_as::<$db, $crate::store::SignedIn>(
                    "SELECT s.sid, s.user_id, s.auth_time, s.amr, s.acr, s.expires_at, a.scope AS approved FROM sessions s \
                     JOIN users u ON u.id = s.user_id \
                     LEFT JOIN approvals a ON a.user_id = s.user_id AND a.client_id = $3 \
                     WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.enabled",
                )
                .bind(token_hash)
                .bind(now)
                .bind(client_id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn revoke_session_grants(&self, sid: &str, now: i64) -> StoreResult<u64> {
                Ok(sqlx::query("UPDATE grants SET revoked_at = $2 WHERE sid = $1 AND revoked_at IS NULL")
                    .bind(sid)
                    .bind(now)
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }

            async fn delete_session(&self, sid: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM sessions WHERE sid = $1").bind(sid).execute(&self.pool).await?;
                Ok(())
            }

            async fn insert_passkey(&self, passkey: &PasskeyRow) -> StoreResult<()> {
                sqlx::query(INSERT_PASSKEY)
                    .bind(&passkey.credential_id)
                    .bind(&passkey.user_id)
                    .bind(&passkey.name)
                    .bind(&passkey.credential)
                    .bind(passkey.created_at)
                    .bind(passkey.last_used_at)
                    .execute(&self.pool)
                    .await
                    .map_err(conflict_as("passkey"))?;
                Ok(())
            }

            async fn passkey(&self, credential_id: &str) -> StoreResult<Option<PasskeyRow>> {
                Ok(sqlx::query_as::<$db, PasskeyRow>(concat!("SELECT ", passkey_columns!(), " FROM passkeys WHERE credential_id = $1"))
                    .bind(credential_id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn passkeys_of(&self, user_id: &str) -> StoreResult<Vec<PasskeyRow>> {
                Ok(sqlx::query_as::<$db, PasskeyRow>(concat!(
                    "SELECT ", passkey_columns!(), " FROM passkeys WHERE user_id = $1 ORDER BY created_at, credential_id"
                ))
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn passkey_used(&self, credential_id: &str, before: &str, after: &str, now: i64) -> StoreResult<bool> {
                Ok(sqlx::query("UPDATE passkeys SET credential = $3, last_used_at = $4 WHERE credential_id = $1 AND credential = $2")
                    .bind(credential_id)
                    .bind(before)
                    .bind(after)
                    .bind(now)
                    .execute(&self.pool)
                    .await?
                    .rows_affected()
                    == 1)
            }

            async fn sign_out_everywhere(&self, user_id: &str, now: i64) -> StoreResult<u64> {
                let mut tx = self.pool.begin().await?;
                let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query("UPDATE grants SET revoked_at = $2 WHERE revoked_at IS NULL AND user_id = $1")
                    .bind(user_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(ended)
            }

            async fn insert_enrolment_link(&self, link: &EnrolmentLinkRow) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("DELETE FROM enrolment_links WHERE user_id = $1 AND used_at IS NULL")
                    .bind(&link.user_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO enrolment_links (token_hash, user_id, created_by, created_at, expires_at, used_at) \
                     VALUES ($1, $2, $3, $4, $5, NULL)",
                )
                .bind(&link.token_hash)
                .bind(&link.user_id)
                .bind(&link.created_by)
                .bind(link.created_at)
                .bind(link.expires_at)
                .execute(&mut *tx)
                .await
                .map_err(conflict_as("enrolment link"))?;
                tx.commit().await?;
                Ok(())
            }

            async fn live_enrolment_link(&self, token_hash: &str, now: i64) -> StoreResult<Option<EnrolmentLinkRow>> {
                Ok(sqlx::query_as::<$db, EnrolmentLinkRow>(
                    "SELECT token_hash, user_id, created_by, created_at, expires_at, used_at FROM enrolment_links \
                     WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
                )
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn enrol_passkey(&self, token_hash: &str, passkey: &PasskeyRow, now: i64) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await?;
                let used = sqlx::query(
                    "UPDATE enrolment_links SET used_at = $2 WHERE token_hash = $1 AND user_id = $3 \
                     AND used_at IS NULL AND expires_at > $2 \
                     AND NOT EXISTS (SELECT 1 FROM passkeys WHERE user_id = $3)",
                )
                .bind(token_hash)
                .bind(now)
                .bind(&passkey.user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if !used {
                    return Ok(false);
                }
                sqlx::query(INSERT_PASSKEY)
                    .bind(&passkey.credential_id)
                    .bind(&passkey.user_id)
                    .bind(&passkey.name)
                    .bind(&passkey.credential)
                    .bind(passkey.created_at)
                    .bind(passkey.last_used_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict_as("passkey"))?;
                tx.commit().await?;
                Ok(true)
            }

            async fn issue_card(&self, card: &CardRow, now: i64) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("UPDATE sign_in_cards SET voided_at = $2 WHERE user_id = $1 AND voided_at IS NULL")
                    .bind(&card.user_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO sign_in_cards (secret_hash, user_id, pin_hash, created_by, created_at, expires_at, voided_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, NULL)",
                )
                .bind(&card.secret_hash)
                .bind(&card.user_id)
                .bind(&card.pin_hash)
                .bind(&card.created_by)
                .bind(card.created_at)
                .bind(card.expires_at)
                .execute(&mut *tx)
                .await
                .map_err(conflict_as("sign-in card"))?;
                tx.commit().await?;
                Ok(())
            }

            async fn live_card(&self, secret_hash: &str, now: i64) -> StoreResult<Option<CardRow>> {
                Ok(sqlx::query_as::<$db, CardRow>(
                    "SELECT secret_hash, user_id, pin_hash, created_by, created_at, expires_at, voided_at FROM sign_in_cards \
                     WHERE secret_hash = $1 AND voided_at IS NULL AND expires_at > $2",
                )
                .bind(secret_hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn void_cards(&self, user_id: &str, now: i64) -> StoreResult<u64> {
                Ok(sqlx::query("UPDATE sign_in_cards SET voided_at = $2 WHERE user_id = $1 AND voided_at IS NULL")
                    .bind(user_id)
                    .bind(now)
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }

            async fn void_enrolment_links(&self, user_id: &str) -> StoreResult<u64> {
                Ok(sqlx::query("DELETE FROM enrolment_links WHERE user_id = $1 AND used_at IS NULL")
                    .bind(user_id)
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }

            async fn replace_recovery_codes(&self, user_id: &str, code_hashes: &[String], created_at: i64) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                for code_hash in code_hashes {
                    sqlx::query("INSERT INTO recovery_codes (code_hash, user_id, created_at, used_at) VALUES ($1, $2, $3, NULL)")
                        .bind(code_hash)
                        .bind(user_id)
                        .bind(created_at)
                        .execute(&mut *tx)
                        .await
                        .map_err(conflict_as("recovery code"))?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn use_recovery_code(&self, user_id: &str, code_hash: &str, now: i64) -> StoreResult<bool> {
                Ok(sqlx::query(
                    "UPDATE recovery_codes SET used_at = $3 WHERE code_hash = $2 AND user_id = $1 AND used_at IS NULL",
                )
                .bind(user_id)
                .bind(code_hash)
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected()
                    == 1)
            }

            async fn recovery_codes_left(&self, user_id: &str) -> StoreResult<RecoveryCodesLeft> {
                let (left, created_at): (i64, Option<i64>) = sqlx::query_as(
                    "SELECT COUNT(*) - COUNT(used_at), MAX(created_at) FROM recovery_codes WHERE user_id = $1",
                )
                .bind(user_id)
                .fetch_one(&self.pool)
                .await?;
                Ok(RecoveryCodesLeft {
                    left: u64::try_from(left).unwrap_or(0),
                    created_at,
                })
            }

            async fn void_recovery_codes(&self, user_id: &str) -> StoreResult<u64> {
                let mut tx = self.pool.begin().await?;
                let unused = sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(unused)
            }

            async fn upstreams(&self) -> StoreResult<Vec<UpstreamRow>> {
                Ok(sqlx::query_as::<$db, UpstreamRow>(&format!("SELECT {UPSTREAM_COLUMNS} FROM upstream_providers ORDER BY name"))
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn upstream(&self, name: &str) -> StoreResult<Option<UpstreamRow>> {
                Ok(sqlx::query_as::<$db, UpstreamRow>(&format!("SELECT {UPSTREAM_COLUMNS} FROM upstream_providers WHERE name = $1"))
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn insert_upstream(&self, row: &UpstreamRow) -> StoreResult<()> {
                sqlx::query(&format!(
                    "INSERT INTO upstream_providers ({UPSTREAM_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
                ))
                .bind(&row.name)
                .bind(&row.issuer)
                .bind(&row.client_id)
                .bind(&row.client_secret)
                .bind(&row.scopes)
                .bind(&row.allowed_domains)
                .bind(&row.tenant)
                .bind(&row.schools)
                .bind(&row.link_by)
                .bind(&row.label_ja)
                .bind(&row.label_en)
                .bind(row.only_way)
                .bind(row.trust_mfa)
                .bind(row.disabled_at)
                .bind(row.created_at)
                .bind(&row.created_by)
                .execute(&self.pool)
                .await
                .map_err(conflict_as("upstream provider"))?;
                Ok(())
            }

            async fn set_upstream_disabled(&self, name: &str, at: Option<i64>) -> StoreResult<bool> {
                Ok(sqlx::query("UPDATE upstream_providers SET disabled_at = $2 WHERE name = $1")
                    .bind(name)
                    .bind(at)
                    .execute(&self.pool)
                    .await?
                    .rows_affected()
                    == 1)
            }

            async fn delete_upstream(&self, name: &str) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await?;
                for table in ["upstream_links", "upstream_flows"] {
                    sqlx::query(&format!("DELETE FROM {table} WHERE provider = $1"))
                        .bind(name)
                        .execute(&mut *tx)
                        .await?;
                }
                let deleted = sqlx::query("DELETE FROM upstream_providers WHERE name = $1")
                    .bind(name)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    == 1;
                tx.commit().await?;
                Ok(deleted)
            }

            async fn insert_upstream_flow(&self, flow: &UpstreamFlowRow, now: i64) -> StoreResult<()> {
                sqlx::query("DELETE FROM upstream_flows WHERE expires_at <= $1")
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                sqlx::query(&format!(
                    "INSERT INTO upstream_flows ({UPSTREAM_FLOW_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                ))
                .bind(&flow.state_hash)
                .bind(&flow.provider)
                .bind(&flow.nonce)
                .bind(&flow.pkce_verifier)
                .bind(&flow.browser_hash)
                .bind(&flow.request)
                .bind(&flow.link_user)
                .bind(flow.created_at)
                .bind(flow.expires_at)
                .execute(&self.pool)
                .await
                .map_err(conflict_as("upstream sign-in"))?;
                Ok(())
            }

            async fn take_upstream_flow(&self, state_hash: &str, now: i64) -> StoreResult<Option<UpstreamFlowRow>> {
                Ok(sqlx::query_as::<$db, UpstreamFlowRow>(&format!(
                    "DELETE FROM upstream_flows WHERE state_hash = $1 AND expires_at > $2 RETURNING {UPSTREAM_FLOW_COLUMNS}"
                ))
                .bind(state_hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn upstream_link(&self, provider: &str, subject: &str) -> StoreResult<Option<UpstreamLinkRow>> {
                Ok(sqlx::query_as::<$db, UpstreamLinkRow>(
                    "SELECT provider, subject, user_id, linked_at, linked_by FROM upstream_links WHERE provider = $1 AND subject = $2",
                )
                .bind(provider)
                .bind(subject)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn insert_upstream_link(&self, link: &UpstreamLinkRow) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO upstream_links (provider, subject, user_id, linked_at, linked_by) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&link.provider)
                .bind(&link.subject)
                .bind(&link.user_id)
                .bind(link.linked_at)
                .bind(&link.linked_by)
                .execute(&self.pool)
                .await
                .map_err(conflict_as("upstream link"))?;
                Ok(())
            }

            async fn upstream_links_of(&self, user_id: &str) -> StoreResult<Vec<UpstreamLinkRow>> {
                Ok(sqlx::query_as::<$db, UpstreamLinkRow>(
                    "SELECT provider, subject, user_id, linked_at, linked_by FROM upstream_links WHERE user_id = $1 ORDER BY provider",
                )
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn delete_person_made_upstream_links(&self, user_id: &str) -> StoreResult<u64> {
                Ok(sqlx::query("DELETE FROM upstream_links WHERE user_id = $1 AND linked_by = 'person'")
                    .bind(user_id)
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }

            async fn end_sign_ins_with(&self, acr: &str, now: i64) -> StoreResult<u64> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("UPDATE grants SET revoked_at = $2 WHERE acr = $1 AND revoked_at IS NULL")
                    .bind(acr)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let ended = sqlx::query("DELETE FROM sessions WHERE acr = $1")
                    .bind(acr)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok(ended)
            }

            async fn delete_upstream_link(&self, provider: &str, user_id: &str) -> StoreResult<bool> {
                Ok(sqlx::query("DELETE FROM upstream_links WHERE provider = $1 AND user_id = $2")
                    .bind(provider)
                    .bind(user_id)
                    .execute(&self.pool)
                    .await?
                    .rows_affected()
                    == 1)
            }

            async fn set_lock(&self, user_id: &str, by: Option<&str>, now: i64) -> StoreResult<bool> {
                let query = match by {
                    Some(by) => sqlx::query(
                        "UPDATE users SET locked_at = $2, locked_by = $3, enabled = FALSE, updated_at = $2 \
                         WHERE id = $1 AND locked_at IS NULL",
                    )
                    .bind(user_id)
                    .bind(now)
                    .bind(by),
                    None => sqlx::query(
                        "UPDATE users SET locked_at = NULL, locked_by = NULL, updated_at = $2, \
                         enabled = (disabled_at IS NULL AND status <> 'tobedeleted') WHERE id = $1 AND locked_at IS NOT NULL",
                    )
                    .bind(user_id)
                    .bind(now),
                };
                Ok(query.execute(&self.pool).await?.rows_affected() == 1)
            }

            async fn lock_of(&self, user_id: &str) -> StoreResult<Option<(String, i64)>> {
                Ok(sqlx::query_as::<$db, (Option<String>, Option<i64>)>(
                    "SELECT locked_by, locked_at FROM users WHERE id = $1",
                )
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?
                .and_then(|(by, at)| Some((by?, at?))))
            }

            async fn end_other_sessions(&self, user_id: &str, keep_sid: &str, acr: Option<&str>, now: i64) -> StoreResult<u64> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "UPDATE grants SET revoked_at = $3 WHERE revoked_at IS NULL AND user_id = $1 \
                     AND ($4 IS NULL OR acr = $4) AND (sid IS NULL OR sid <> $2)",
                )
                .bind(user_id)
                .bind(keep_sid)
                .bind(now)
                .bind(acr)
                .execute(&mut *tx)
                .await?;
                let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND sid <> $2 AND ($3 IS NULL OR acr = $3)")
                    .bind(user_id)
                    .bind(keep_sid)
                    .bind(acr)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok(ended)
            }

            async fn sessions_of(&self, user_id: &str, now: i64) -> StoreResult<Vec<SessionRow>> {
                Ok(sqlx::query_as::<$db, SessionRow>(
                    "SELECT sid, user_id, auth_time, amr, acr, expires_at FROM sessions \
                     WHERE user_id = $1 AND expires_at > $2 ORDER BY auth_time DESC, sid",
                )
                .bind(user_id)
                .bind(now)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn approvals_of(&self, user_id: &str) -> StoreResult<Vec<ApprovalRow>> {
                Ok(sqlx::query_as::<$db, ApprovalRow>(
                    "SELECT a.client_id, c.name AS client_name, a.scope, a.granted_at FROM approvals a \
                     JOIN clients c ON c.id = a.client_id WHERE a.user_id = $1 AND c.disabled_at IS NULL \
                     ORDER BY a.granted_at DESC, a.client_id",
                )
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn stop_using(&self, user_id: &str, client_id: &str, now: i64) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await?;
                let forgotten = sqlx::query("DELETE FROM approvals WHERE user_id = $1 AND client_id = $2")
                    .bind(user_id)
                    .bind(client_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query("UPDATE grants SET revoked_at = $3 WHERE user_id = $1 AND client_id = $2 AND revoked_at IS NULL")
                    .bind(user_id)
                    .bind(client_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(forgotten > 0)
            }

            async fn delete_passkey(&self, user_id: &str, credential_id: &str) -> StoreResult<bool> {
                Ok(sqlx::query("DELETE FROM passkeys WHERE user_id = $1 AND credential_id = $2")
                    .bind(user_id)
                    .bind(credential_id)
                    .execute(&self.pool)
                    .await?
                    .rows_affected()
                    == 1)
            }

            async fn approval(&self, user_id: &str, client_id: &str) -> StoreResult<Option<String>> {
                Ok(sqlx::query_scalar("SELECT scope FROM approvals WHERE user_id = $1 AND client_id = $2")
                    .bind(user_id)
                    .bind(client_id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn upsert_approval(&self, user_id: &str, client_id: &str, scope: &str, now: i64) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO approvals (user_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
                )
                .bind(user_id)
                .bind(client_id)
                .bind(scope)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn insert_grant_with_code(&self, grant: &GrantRow, code: &CodeRow) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO grants (id, client_id, user_id, scope, sid, nonce, auth_time, amr, acr, created_at, expires_at, revoked_at, \
                     code_hash, redirect_uri, code_challenge, code_expires_at, code_used_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, $12, $13, $14, $15, NULL)",
                )
                .bind(&grant.id)
                .bind(&grant.client_id)
                .bind(&grant.user_id)
                .bind(&grant.scope)
                .bind(&grant.sid)
                .bind(&grant.nonce)
                .bind(grant.auth_time)
                .bind(&grant.amr)
                .bind(&grant.acr)
                .bind(grant.created_at)
                .bind(grant.expires_at)
                .bind(&code.code_hash)
                .bind(&code.redirect_uri)
                .bind(&code.code_challenge)
                .bind(code.expires_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn redeem_code(&self, code_hash: &[u8], now: i64) -> StoreResult<Redemption<(CodeRow, GrantRow)>> {
                let fresh: Option<$crate::store::RedeemedCode> = sqlx::query_as(
                    "UPDATE grants SET code_used_at = $2 WHERE code_hash = $1 AND code_used_at IS NULL \
                     RETURNING id, client_id, user_id, scope, sid, nonce, auth_time, amr, acr, created_at, expires_at, revoked_at, \
                     redirect_uri, code_challenge, code_expires_at",
                )
                .bind(code_hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
                let Some($crate::store::RedeemedCode { grant, redirect_uri, code_challenge, code_expires_at }) = fresh else {
                    let used: Option<String> = sqlx::query_scalar("SELECT id FROM grants WHERE code_hash = $1")
                        .bind(code_hash)
                        .fetch_optional(&self.pool)
                        .await?;
                    return Ok(match used {
                        Some(grant_id) => Redemption::Replayed { grant_id },
                        None => Redemption::Unknown,
                    });
                };
                let code = CodeRow {
                    code_hash: code_hash.to_vec(),
                    redirect_uri,
                    code_challenge,
                    expires_at: code_expires_at,
                };
                Ok(Redemption::Fresh((code, grant)))
            }

            async fn grant(&self, id: &str) -> StoreResult<Option<GrantRow>> {
                Ok(sqlx::query_as::<$db, GrantRow>(
                    "SELECT id, client_id, user_id, scope, sid, nonce, auth_time, amr, acr, created_at, expires_at, revoked_at \
                     FROM grants WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn revoke_grant(&self, id: &str, now: i64) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await?;
                let revoked = sqlx::query("UPDATE grants SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                    .bind(id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query("UPDATE refresh_tokens SET used_at = $2 WHERE grant_id = $1 AND used_at IS NULL")
                    .bind(id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(revoked > 0)
            }

            async fn insert_refresh_token(&self, token: &RefreshTokenRow) -> StoreResult<()> {
                sqlx::query("INSERT INTO refresh_tokens (token_hash, grant_id, scope, expires_at, used_at) VALUES ($1, $2, $3, $4, NULL)")
                    .bind(&token.token_hash)
                    .bind(&token.grant_id)
                    .bind(&token.scope)
                    .bind(token.expires_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn rotate_refresh_token(
                &self,
                old_hash: &[u8],
                new_hash: &[u8],
                now: i64,
            ) -> StoreResult<Redemption<RefreshTokenRow>> {
                let mut tx = self.pool.begin().await?;
                let fresh: Option<RefreshTokenRow> = sqlx::query_as::<$db, RefreshTokenRow>(
                    "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL \
                     RETURNING token_hash, grant_id, scope, expires_at",
                )
                .bind(old_hash)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(old) = fresh else {
                    let used: Option<String> =
                        sqlx::query_scalar("SELECT grant_id FROM refresh_tokens WHERE token_hash = $1")
                            .bind(old_hash)
                            .fetch_optional(&mut *tx)
                            .await?;
                    tx.rollback().await?;
                    return Ok(match used {
                        Some(grant_id) => Redemption::Replayed { grant_id },
                        None => Redemption::Unknown,
                    });
                };
                let rotated = RefreshTokenRow {
                    token_hash: new_hash.to_vec(),
                    grant_id: old.grant_id.clone(),
                    scope: old.scope.clone(),
                    expires_at: old.expires_at,
                };
                sqlx::query("INSERT INTO refresh_tokens (token_hash, grant_id, scope, expires_at, used_at) VALUES ($1, $2, $3, $4, NULL)")
                    .bind(&rotated.token_hash)
                    .bind(&rotated.grant_id)
                    .bind(&rotated.scope)
                    .bind(rotated.expires_at)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(Redemption::Fresh(rotated))
            }

            async fn refresh_token(&self, token_hash: &[u8]) -> StoreResult<Option<RefreshTokenRow>> {
                Ok(sqlx::query_as::<$db, RefreshTokenRow>(
                    "SELECT token_hash, grant_id, scope, expires_at FROM refresh_tokens WHERE token_hash = $1 AND used_at IS NULL",
                )
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn revoke_access_token(&self, jti: &str, expires_at: i64) -> StoreResult<()> {
                sqlx::query("INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING")
                    .bind(jti)
                    .bind(expires_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn access_token_revoked(&self, jti: &str, grant_id: Option<&str>) -> StoreResult<bool> {
                let hits: i64 = sqlx::query_scalar(
                    "SELECT (SELECT COUNT(*) FROM revoked_access_tokens WHERE jti = $1) \
                     + (SELECT COUNT(*) FROM grants WHERE id = $2 AND revoked_at IS NOT NULL)",
                )
                .bind(jti)
                .bind(grant_id)
                .fetch_one(&self.pool)
                .await?;
                Ok(hits > 0)
            }

            async fn use_once(&self, id: &str, expires_at: i64) -> StoreResult<bool> {
                Ok(sqlx::query("INSERT INTO used_client_assertions (id, expires_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING")
                    .bind(id)
                    .bind(expires_at)
                    .execute(&self.pool)
                    .await?
                    .rows_affected()
                    == 1)
            }

            async fn record_login_failure(&self, key: &str, since: i64, now: i64) -> StoreResult<i64> {
                Ok(sqlx::query_scalar(
                    "INSERT INTO login_throttle (key, window_start, failures) VALUES ($1, $3, 1) \
                     ON CONFLICT (key) DO UPDATE SET \
                     failures = CASE WHEN login_throttle.window_start < $2 THEN 1 ELSE login_throttle.failures + 1 END, \
                     window_start = CASE WHEN login_throttle.window_start < $2 THEN $3 ELSE login_throttle.window_start END \
                     RETURNING failures",
                )
                .bind(key)
                .bind(since)
                .bind(now)
                .fetch_one(&self.pool)
                .await?)
            }

            async fn forgive_login_failure(&self, key: &str) -> StoreResult<()> {
                sqlx::query("UPDATE login_throttle SET failures = failures - 1 WHERE key = $1 AND failures > 0")
                    .bind(key)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn clear_login_failures(&self, keys: &[String]) -> StoreResult<()> {
                if keys.is_empty() {
                    return Ok(());
                }
                let placeholders: Vec<String> = (1..=keys.len()).map(|n| format!("${n}")).collect();
                let sql = format!("DELETE FROM login_throttle WHERE key IN ({})", placeholders.join(", "));
                let mut query = sqlx::query(&sql);
                for key in keys {
                    query = query.bind(key);
                }
                query.execute(&self.pool).await?;
                Ok(())
            }

            async fn purge_expired(&self, now: i64) -> StoreResult<u64> {
                let mut purged = 0;
                for statement in [
                    "DELETE FROM auth_requests WHERE expires_at < $1",
                    "DELETE FROM sessions WHERE expires_at < $1",
                    "DELETE FROM grants WHERE expires_at < $1",
                    "DELETE FROM revoked_access_tokens WHERE expires_at < $1",
                    // Five minutes after expiry: a process whose clock runs ahead must not forget an
                    // identifier that another process would still accept.
                    "DELETE FROM used_client_assertions WHERE expires_at < $1 - 300",
                    "DELETE FROM login_throttle WHERE window_start < $1 - 86400",
                    "DELETE FROM capability_tokens WHERE expires_at < $1 - 3600",
                    "DELETE FROM capability_revocations WHERE at < ($1 - 3600) * 1000",
                ] {
                    purged += sqlx::query(statement).bind(now).execute(&self.pool).await?.rows_affected();
                }
                Ok(purged)
            }
        }
    };
}

/// The columns of [`UserRow`](super::UserRow), in its field order.
macro_rules! user_columns {
    () => {
        "id, username, role, given_name, family_name, given_name_kana, family_name_kana, email, \
         password_hash, school_id, grade, enabled, created_at, updated_at, sourced_id, data"
    };
}

/// Stores a new passkey (registered from a session, or with an enrolment link).
pub(crate) const INSERT_PASSKEY: &str = "INSERT INTO passkeys (credential_id, user_id, name, credential, created_at, last_used_at) \
     VALUES ($1, $2, $3, $4, $5, $6)";

/// The columns of [`UpstreamRow`](super::UpstreamRow), in its field order.
pub(crate) const UPSTREAM_COLUMNS: &str = "name, issuer, client_id, client_secret, scopes, allowed_domains, tenant, schools, \
     link_by, label_ja, label_en, only_way, trust_mfa, disabled_at, created_at, created_by";

/// The columns of [`UpstreamFlowRow`](super::UpstreamFlowRow), in its field order.
pub(crate) const UPSTREAM_FLOW_COLUMNS: &str = "state_hash, provider, nonce, pkce_verifier, browser_hash, request, link_user, \
     created_at, expires_at";

/// The columns of [`PasskeyRow`](super::PasskeyRow), in its field order.
macro_rules! passkey_columns {
    () => {
        "credential_id, user_id, name, credential, created_at, last_used_at"
    };
}

pub(super) use {passkey_columns, sql_store, user_columns};
