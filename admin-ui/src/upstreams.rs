//! The board's upstream sign-in providers (Google Workspace, Microsoft Entra ID, any OpenID
//! Connect provider) as the console and the admin API manage them: list, add, switch off and
//! on, remove, and unlink a person's upstream account. The board's administrators only, in
//! person for every change; each change audited by the provider's operation, as the command
//! line's `renkei upstream` does.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use renkei_idp::upstream::{self, NewUpstream, Upstream};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Console;
use crate::actor::{self, Actor};
use crate::error::{Problem, Result};

/// An upstream provider as listed (never its client secret).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct UpstreamView {
    /// Short name, in the sign-in addresses.
    pub name: String,
    /// The upstream's issuer.
    pub issuer: String,
    /// Renkei's client id there.
    pub client_id: String,
    /// Scopes asked.
    pub scopes: Vec<String>,
    /// Accepted e-mail domains (Google's `hd`); empty: any.
    pub allowed_domains: Vec<String>,
    /// The Entra tenant every ID token's `tid` must carry.
    pub tenant: Option<String>,
    /// Its schools (sourcedIds); empty: the whole board.
    pub schools: Vec<String>,
    /// `email`, `subject` or `claim:NAME`.
    pub link_by: String,
    /// The sign-in button's words in Japanese.
    pub label_ja: String,
    /// The sign-in button's words in English.
    pub label_en: String,
    /// Its schools sign in only through it.
    pub only: bool,
    /// The upstream's `mfa` counts as a second factor.
    pub trust_mfa: bool,
    /// Whether it is switched on.
    pub enabled: bool,
    /// The redirect URI to register at the upstream.
    pub redirect_uri: String,
    /// When it was added (Unix seconds).
    pub created_at: i64,
    /// Who added it.
    pub created_by: String,
}

impl From<Upstream> for UpstreamView {
    fn from(u: Upstream) -> Self {
        UpstreamView {
            name: u.name,
            issuer: u.issuer,
            client_id: u.client_id,
            scopes: u.scopes,
            allowed_domains: u.allowed_domains,
            tenant: u.tenant,
            schools: u.schools,
            link_by: u.link_by,
            label_ja: u.label_ja,
            label_en: u.label_en,
            only: u.only,
            trust_mfa: u.trust_mfa,
            enabled: u.enabled,
            redirect_uri: u.redirect_uri,
            created_at: u.created_at,
            created_by: u.created_by,
        }
    }
}

/// A new upstream provider.
#[derive(Clone, Default, Deserialize, ToSchema)]
pub struct UpstreamBody {
    /// Short name (lower-case letters, digits, `-`).
    pub name: String,
    /// `google` or `microsoft`: fills the issuer, scopes, rule and button words not given.
    #[serde(default)]
    pub preset: Option<String>,
    /// The upstream's issuer URL.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Renkei's client id there.
    pub client_id: String,
    /// Renkei's client secret there (stored, never shown again).
    pub client_secret: String,
    /// Scopes to ask (`openid` is added).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Accepted e-mail domains; none: any.
    #[serde(default)]
    pub allowed_domains: Vec<String>,
    /// The Entra tenant id.
    #[serde(default)]
    pub tenant: Option<String>,
    /// The schools it is for; none: the whole board.
    #[serde(default)]
    pub schools: Vec<String>,
    /// `email` (default), `subject` or `claim:NAME`.
    #[serde(default)]
    pub link_by: Option<String>,
    /// The button's words in Japanese.
    #[serde(default)]
    pub label_ja: Option<String>,
    /// The button's words in English.
    #[serde(default)]
    pub label_en: Option<String>,
    /// Its schools sign in only through it.
    #[serde(default)]
    pub only: bool,
    /// Trust the upstream's `mfa` as a second factor.
    #[serde(default)]
    pub trust_mfa: bool,
}

impl From<UpstreamBody> for NewUpstream {
    fn from(b: UpstreamBody) -> Self {
        NewUpstream {
            name: b.name,
            preset: b.preset,
            issuer: b.issuer,
            client_id: b.client_id,
            client_secret: b.client_secret,
            scopes: b.scopes,
            allowed_domains: b.allowed_domains,
            tenant: b.tenant,
            schools: b.schools,
            link_by: b.link_by,
            label_ja: b.label_ja,
            label_en: b.label_en,
            only: b.only,
            trust_mfa: b.trust_mfa,
        }
    }
}

/// What adding one did.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AddedView {
    /// The provider, with the redirect URI to register at the upstream.
    pub upstream: UpstreamView,
    /// `ok`, or why its discovery document did not answer (a warning).
    pub discovery: String,
}

/// Every upstream provider; the board's administrators.
pub async fn list(console: &Console, actor: &Actor) -> Result<Vec<UpstreamView>> {
    actor.board_only("see the upstream sign-in providers")?;
    Ok(
        upstream::list(console.idp.store.as_ref(), &console.idp.config.issuer)
            .await?
            .into_iter()
            .map(UpstreamView::from)
            .collect(),
    )
}

/// Adds one; the board's administrators, in person.
pub async fn add(console: &Console, actor: &Actor, body: UpstreamBody) -> Result<AddedView> {
    actor.board_only("add an upstream sign-in provider")?;
    actor.in_person("adds an upstream sign-in provider")?;
    let added = upstream::add(
        console.idp.store.as_ref(),
        console.idp.directory.as_ref(),
        &console.audit,
        &console.idp.upstreams,
        &actor.via(),
        &console.idp.config.issuer,
        body.into(),
    )
    .await?;
    Ok(AddedView {
        upstream: added.upstream.into(),
        discovery: added.discovery,
    })
}

/// What an administrator does to a provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Switch it off.
    Disable,
    /// Switch it on again.
    Enable,
    /// Remove it with its links.
    Remove,
}

/// Switches provider `name` off or on, or removes it; the board's administrators, in person.
pub async fn change(console: &Console, actor: &Actor, name: &str, change: Change) -> Result<()> {
    actor.board_only("change an upstream sign-in provider")?;
    actor.in_person("changes an upstream sign-in provider")?;
    let store = console.idp.store.as_ref();
    let via = actor.via();
    match change {
        Change::Disable => upstream::set_enabled(store, &console.audit, &via, name, false).await?,
        Change::Enable => upstream::set_enabled(store, &console.audit, &via, name, true).await?,
        Change::Remove => upstream::remove(store, &console.audit, &via, name).await?,
    }
    Ok(())
}

/// Unlinks the account `account_id`'s upstream account at `name`: whether it had one. The
/// board's administrators, in person.
pub async fn unlink(
    console: &Console,
    actor: &Actor,
    account_id: &str,
    name: &str,
) -> Result<bool> {
    actor.board_only("unlink an upstream account")?;
    actor.in_person("unlinks an upstream account")?;
    let user = console
        .idp
        .store
        .user(account_id)
        .await?
        .ok_or_else(|| crate::Error::NotFound(format!("no account {account_id:?}")))?;
    Ok(upstream::unlink(
        console.idp.store.as_ref(),
        &console.audit,
        &actor.via(),
        name,
        &user.username,
    )
    .await?)
}

/// `GET /admin/api/upstreams`.
#[utoipa::path(get, path = "/admin/api/upstreams", tag = "security",
    responses((status = 200, body = [UpstreamView]), (status = 403, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_list(
    State(console): State<Console>,
    headers: HeaderMap,
) -> Result<Json<Vec<UpstreamView>>> {
    let actor = actor::for_api(&console.idp, &headers, false).await?;
    Ok(Json(list(&console, &actor).await?))
}

/// `POST /admin/api/upstreams`.
#[utoipa::path(post, path = "/admin/api/upstreams", tag = "security",
    request_body = UpstreamBody,
    responses((status = 200, body = AddedView), (status = 400, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_add(
    State(console): State<Console>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<AddedView>> {
    let actor = actor::for_api(&console.idp, &headers, true).await?;
    let body: UpstreamBody = crate::api::json_body(&body)?;
    Ok(Json(add(&console, &actor, body).await?))
}

/// `POST /admin/api/upstreams/{name}/disable`, `…/enable`, `…/remove`.
#[utoipa::path(post, path = "/admin/api/upstreams/{name}/{change}", tag = "security",
    params(("name" = String, Path, description = "The provider's name"),
           ("change" = String, Path, description = "disable, enable or remove")),
    responses((status = 204), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_change(
    State(console): State<Console>,
    headers: HeaderMap,
    Path((name, verb)): Path<(String, String)>,
) -> Result<axum::http::StatusCode> {
    let actor = actor::for_api(&console.idp, &headers, true).await?;
    let change = match verb.as_str() {
        "disable" => Change::Disable,
        "enable" => Change::Enable,
        "remove" => Change::Remove,
        other => {
            return Err(crate::Error::NotFound(format!(
                "no action {other:?}: use disable, enable or remove"
            )));
        }
    };
    self::change(&console, &actor, &name, change).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// `POST /admin/api/people/{account_id}/upstreams/{name}/unlink`.
#[utoipa::path(post, path = "/admin/api/people/{account_id}/upstreams/{name}/unlink", tag = "people",
    params(("account_id" = String, Path, description = "The account's id"),
           ("name" = String, Path, description = "The provider's name")),
    responses((status = 200, body = bool), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_unlink(
    State(console): State<Console>,
    headers: HeaderMap,
    Path((account_id, name)): Path<(String, String)>,
) -> Result<Json<bool>> {
    let actor = actor::for_api(&console.idp, &headers, true).await?;
    Ok(Json(unlink(&console, &actor, &account_id, &name).await?))
}
