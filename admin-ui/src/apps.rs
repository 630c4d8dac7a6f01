//! Apps: the learning apps registered with the board. Every administrator sees them (what
//! reads their school's data); only the board registers, rotates a secret or disables one.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use renkei_idp::client::{ClientExt, NewClient};
use renkei_idp::store::ClientRow;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Console;
use crate::actor::{self, Actor};
use crate::error::{Error, Problem, Result};

/// An app as administrators see it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct App {
    /// Its client id.
    pub client_id: String,
    /// The name people see.
    pub name: String,
    /// Who makes it.
    pub vendor: Option<String>,
    /// Its privacy policy.
    pub policy_uri: Option<String>,
    /// A public client (no secret, PKCE) or a confidential one.
    pub public: bool,
    /// How it authenticates at the token endpoint: `none`, `client_secret`, `private_key_jwt`.
    pub authentication: &'static str,
    /// Its exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Its grant types.
    pub grant_types: Vec<String>,
    /// The scopes it may ask for.
    pub scopes: Vec<String>,
    /// When it was registered (Unix seconds).
    pub registered_at: i64,
}

impl From<&ClientRow> for App {
    fn from(client: &ClientRow) -> Self {
        let split = |text: &str| -> Vec<String> {
            text.split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        App {
            client_id: client.id.clone(),
            name: client.name.clone(),
            vendor: client.vendor.clone(),
            policy_uri: client.policy_uri.clone(),
            public: client.is_public(),
            authentication: if client.is_public() {
                "none"
            } else if client.jwks.is_some() {
                "private_key_jwt"
            } else {
                "client_secret"
            },
            redirect_uris: split(&client.redirect_uris),
            grant_types: split(&client.grant_types),
            scopes: split(&client.scopes),
            registered_at: client.created_at,
        }
    }
}

/// What an administrator registers.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApp {
    /// The name people will see (at most 200 characters).
    pub name: String,
    /// Who makes it.
    #[serde(default)]
    pub vendor: Option<String>,
    /// Its privacy policy (https).
    #[serde(default)]
    pub policy_uri: Option<String>,
    /// Exact redirect URIs (https, or loopback for development).
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// A tablet or browser app without a secret (PKCE is then required).
    #[serde(default)]
    pub public: bool,
    /// `authorization_code`, `refresh_token`, `client_credentials` (the app acting for
    /// itself: app-only capability exchange); default the first two.
    #[serde(default)]
    pub grant_types: Vec<String>,
    /// Scopes it may ask for; default sign-in's.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// With the admin scope: the one school the app administers (default: the whole board).
    #[serde(default)]
    pub admin_school: Option<String>,
}

/// A registered app and its secret, shown this once.
#[derive(Serialize, ToSchema)]
pub struct RegisteredApp {
    /// The app.
    pub app: App,
    /// Its client secret (confidential apps): shown once, kept only as a digest.
    pub client_secret: Option<String>,
}

/// A new secret, shown this once.
#[derive(Serialize, ToSchema)]
pub struct NewSecret {
    /// The app.
    pub client_id: String,
    /// The secret; the old one stopped working.
    pub client_secret: String,
}

/// What disabling an app did.
#[derive(Serialize, ToSchema)]
pub struct DisabledApp {
    /// The app.
    pub client_id: String,
    /// Capability tokens that were still usable and are now revoked.
    pub capability_tokens_revoked: u64,
}

/// The registered apps, oldest first.
pub async fn list(console: &Console, _actor: &Actor) -> Result<Vec<App>> {
    Ok(console
        .idp
        .store
        .clients()
        .await?
        .iter()
        .map(App::from)
        .collect())
}

/// One enabled app.
pub async fn find(console: &Console, client_id: &str) -> Result<ClientRow> {
    console.idp.store.client(client_id).await?.ok_or_else(|| {
        Error::NotFound(format!(
            "there is no enabled app with client id {client_id:?}"
        ))
    })
}

/// The latest policy versions in force at `now` of the enabled `clients`, in the clients'
/// order: one read of the policies, whatever the number of apps.
pub async fn policies_in_force<'a>(
    console: &Console,
    clients: &'a [ClientRow],
    now: i64,
) -> Result<Vec<(&'a ClientRow, renkei_consent::policy::Policy)>> {
    let mut by_client: std::collections::HashMap<String, Vec<renkei_consent::policy::Policy>> =
        std::collections::HashMap::new();
    for policy in console.consent.store.policies(None).await? {
        if policy.in_force(now) {
            by_client
                .entry(policy.client_id.clone())
                .or_default()
                .push(policy);
        }
    }
    Ok(clients
        .iter()
        .flat_map(|client| {
            by_client
                .remove(&client.id)
                .unwrap_or_default()
                .into_iter()
                .map(move |policy| (client, policy))
        })
        .collect())
}

/// Registers an app (board administrators), audited by the registration itself.
pub async fn register(console: &Console, actor: &Actor, new: NewApp) -> Result<RegisteredApp> {
    actor.board_only("register apps")?;
    let registered = renkei_idp::client::register(
        console.idp.store.as_ref(),
        console.idp.directory.as_ref(),
        &console.audit,
        &actor.via(),
        NewClient {
            name: new.name,
            redirect_uris: new.redirect_uris,
            public: new.public,
            grant_types: new.grant_types,
            scopes: new.scopes,
            vendor: new.vendor,
            policy_uri: new.policy_uri,
            admin_school: new.admin_school,
            ..NewClient::default()
        },
    )
    .await?;
    Ok(RegisteredApp {
        app: App::from(&registered.client),
        client_secret: registered.secret,
    })
}

/// Gives an app a new secret (board administrators).
pub async fn rotate_secret(console: &Console, actor: &Actor, client_id: &str) -> Result<NewSecret> {
    actor.board_only("give apps new secrets")?;
    find(console, client_id).await?;
    let secret = renkei_idp::client::rotate_secret(
        console.idp.store.as_ref(),
        &console.audit,
        &actor.via(),
        client_id,
    )
    .await?;
    Ok(NewSecret {
        client_id: client_id.to_owned(),
        client_secret: secret,
    })
}

/// Disables an app (board administrators): its capability tokens are revoked and it signs no
/// one in any more.
pub async fn disable(console: &Console, actor: &Actor, client_id: &str) -> Result<DisabledApp> {
    actor.board_only("disable apps")?;
    find(console, client_id).await?;
    let disabled = renkei_consent::app::disable(
        console.idp.store.as_ref(),
        console.consent.store.as_ref(),
        &console.audit,
        &actor.via(),
        client_id,
    )
    .await?;
    Ok(DisabledApp {
        client_id: disabled.disabled,
        capability_tokens_revoked: disabled.capability_tokens_revoked,
    })
}

/// `GET /admin/api/apps`.
#[utoipa::path(get, path = "/admin/api/apps", tag = "apps",
    responses((status = 200, body = Vec<App>), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_list(
    State(console): State<Console>,
    headers: HeaderMap,
) -> Result<Json<Vec<App>>> {
    let actor = actor::for_api(&console.idp, &headers, false).await?;
    Ok(Json(list(&console, &actor).await?))
}

/// `POST /admin/api/apps`.
#[utoipa::path(post, path = "/admin/api/apps", tag = "apps", request_body = NewApp,
    responses((status = 201, body = RegisteredApp), (status = 400, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_register(
    State(console): State<Console>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<RegisteredApp>)> {
    let actor = actor::for_api(&console.idp, &headers, true).await?;
    let new: NewApp = crate::api::json_body(&body)?;
    Ok((
        StatusCode::CREATED,
        Json(register(&console, &actor, new).await?),
    ))
}

/// `POST /admin/api/apps/{client_id}/secret`.
#[utoipa::path(post, path = "/admin/api/apps/{client_id}/secret", tag = "apps",
    params(("client_id" = String, Path, description = "The app's client id")),
    responses((status = 200, body = NewSecret), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_rotate_secret(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(client_id): Path<String>,
) -> Result<Json<NewSecret>> {
    let actor = actor::for_api(&console.idp, &headers, true).await?;
    Ok(Json(rotate_secret(&console, &actor, &client_id).await?))
}

/// `POST /admin/api/apps/{client_id}/disable`.
#[utoipa::path(post, path = "/admin/api/apps/{client_id}/disable", tag = "apps",
    params(("client_id" = String, Path, description = "The app's client id")),
    responses((status = 200, body = DisabledApp), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_disable(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(client_id): Path<String>,
) -> Result<Json<DisabledApp>> {
    let actor = actor::for_api(&console.idp, &headers, true).await?;
    Ok(Json(disable(&console, &actor, &client_id).await?))
}
