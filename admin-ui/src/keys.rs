//! Keys: the provider's token-signing keys and the consent service's capability root keys,
//! each with its state (waiting to sign, signing, still published for tokens it signed), and
//! their rotation. Board administrators only; the command line's `renkei keys rotate` calls
//! the same [`rotate_all`].

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use renkei_consent::store::ConsentStore;
use renkei_idp::store::Store;
use renkei_platform::AuditLog;
use serde::Serialize;
use utoipa::ToSchema;

use crate::Console;
use crate::actor::{self, Actor};
use crate::error::{Problem, Result};

/// What a key does now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// Published, signing from `signs_from` (every process learns it first).
    Waiting,
    /// Signs new tokens.
    Signing,
    /// Signs no more; published until the tokens it signed have expired.
    Retired,
}

/// One key, without its private part.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct KeyView {
    /// `id_token` (ID and access tokens, by algorithm) or `capability` (Biscuit root keys).
    pub purpose: String,
    /// The key id in the JWK set (a capability key's Biscuit `root_key_id`).
    pub kid: String,
    /// The JOSE algorithm.
    pub alg: String,
    /// Created and published (Unix seconds).
    pub created_at: i64,
    /// Signs from (Unix seconds).
    pub signs_from: i64,
    /// Its state now.
    pub state: KeyState,
}

/// A rotation's new keys.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Rotated {
    /// The new token-signing keys, one per algorithm.
    pub new_kids: Vec<String>,
    /// When they sign (Unix seconds).
    pub signs_from: i64,
    /// The new capability root key id.
    pub capability_kid: String,
    /// When it signs (Unix seconds).
    pub capability_signs_from: i64,
}

/// Every published key and what it does now; board administrators only.
pub async fn list(console: &Console, actor: &Actor) -> Result<Vec<KeyView>> {
    actor.board_only("see the signing keys")?;
    let now = renkei_platform::clock::now();
    let retention = console.idp.config.key_retention();
    let rows = console.idp.store.signing_keys().await?;
    let mut keys = Vec::new();
    // Rows come oldest first; per algorithm, the newest whose time has come signs.
    for row in &rows {
        if row.retired_at.is_some_and(|at| at < now - retention) {
            continue;
        }
        let newer_signing = rows.iter().any(|other| {
            other.alg == row.alg
                && other.activates_at <= now
                && (other.activates_at, other.created_at) > (row.activates_at, row.created_at)
        });
        let state = if row.activates_at > now {
            KeyState::Waiting
        } else if newer_signing || row.retired_at.is_some_and(|at| at <= now) {
            KeyState::Retired
        } else {
            KeyState::Signing
        };
        keys.push(KeyView {
            purpose: "id_token".into(),
            kid: row.kid.clone(),
            alg: row.alg.clone(),
            created_at: row.created_at,
            signs_from: row.activates_at,
            state,
        });
    }
    let signing = console.consent.keys.snapshot().signing().0;
    let published = console.consent.keys.snapshot();
    for row in console.consent.store.capability_keys().await? {
        let Ok(id) = u32::try_from(row.id) else {
            continue;
        };
        if published.public(id).is_none() {
            continue;
        }
        let mut signs_from = row.created_at + renkei_consent::capability::keys::ACTIVATION_DELAY;
        let state = if id == signing {
            // An installation's first key signs at once.
            signs_from = signs_from.min(now).max(row.created_at);
            KeyState::Signing
        } else if signs_from > now && row.retired_at.is_none() {
            KeyState::Waiting
        } else {
            KeyState::Retired
        };
        keys.push(KeyView {
            purpose: "capability".into(),
            kid: id.to_string(),
            alg: "EdDSA".into(),
            created_at: row.created_at,
            signs_from,
            state,
        });
    }
    Ok(keys)
}

/// Rotates every key, board administrators only, and has this process read the new keys at
/// once (the others do within a minute, before the keys sign).
pub async fn rotate(console: &Console, actor: &Actor) -> Result<Rotated> {
    actor.board_only("rotate the signing keys")?;
    actor.in_person("rotates the signing keys")?;
    let config = &console.idp.config;
    let rotated = rotate_all(
        console.idp.store.as_ref(),
        console.consent.store.as_ref(),
        &console.audit,
        &actor.via(),
        config.key_activation_delay,
        config.key_retention(),
    )
    .await?;
    console.idp.keys.refresh(console.idp.store.as_ref()).await?;
    console
        .consent
        .keys
        .refresh(
            console.consent.store.as_ref(),
            renkei_platform::clock::now(),
        )
        .await?;
    Ok(rotated)
}

/// Makes new token-signing keys (signing after `activation_delay` seconds; keys retired longer
/// than `retention` ago forgotten) and a new capability root key; each audited (through
/// `via`) by its own operation.
pub async fn rotate_all(
    idp: &dyn Store,
    consent: &dyn ConsentStore,
    audit: &AuditLog,
    via: &str,
    activation_delay: i64,
    retention: i64,
) -> Result<Rotated> {
    let now = renkei_platform::clock::now();
    let new_kids = renkei_idp::keys::rotate(idp, audit, via, activation_delay, retention).await?;
    let capability_kid = renkei_consent::capability::keys::rotate(consent, audit, via, now).await?;
    Ok(Rotated {
        new_kids,
        signs_from: now + activation_delay,
        capability_kid: capability_kid.to_string(),
        capability_signs_from: now + renkei_consent::capability::keys::ACTIVATION_DELAY,
    })
}

/// `GET /admin/api/keys`.
#[utoipa::path(get, path = "/admin/api/keys", tag = "security",
    responses((status = 200, body = [KeyView]), (status = 403, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_list(
    State(console): State<Console>,
    headers: HeaderMap,
) -> Result<Json<Vec<KeyView>>> {
    let actor = actor::for_api(&console.idp, &headers, false).await?;
    Ok(Json(list(&console, &actor).await?))
}

/// `POST /admin/api/keys/rotate`.
#[utoipa::path(post, path = "/admin/api/keys/rotate", tag = "security",
    responses((status = 200, body = Rotated), (status = 403, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_rotate(
    State(console): State<Console>,
    headers: HeaderMap,
) -> Result<Json<Rotated>> {
    let actor = actor::for_api(&console.idp, &headers, true).await?;
    Ok(Json(rotate(&console, &actor).await?))
}
