//! OAuth 2.0 Token Exchange (RFC 8693) at the token endpoint. The provider validates what is
//! its own business (the client, the subject token, the parameters' syntax) and hands the
//! request to the [`TokenExchanger`] that mints the requested token type (the consent service's
//! capability tokens), so the provider does not depend on the services built on it.

use async_trait::async_trait;

use super::issue::{AccessClaims, verify_access_token};
use crate::client::ClientExt;
use crate::error::{Error, Result};
use crate::server::AppState;
use crate::store::{ClientRow, UserRow};

/// `grant_type` of a token exchange (RFC 8693 §2.1).
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// `subject_token_type` of an access token issued by this provider (RFC 8693 §3).
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// A validated exchange request.
pub struct ExchangeRequest {
    /// The authenticated client.
    pub client: ClientRow,
    /// The user the subject token speaks for; `None` when the client acts for itself (it
    /// authenticated with its own credentials and sent no subject token).
    pub subject: Option<Subject>,
    /// `scope`, split.
    pub scope: Vec<String>,
    /// `resource` (at most one).
    pub resource: Option<String>,
}

/// The user behind a subject token.
pub struct Subject {
    /// The account, enabled.
    pub user: UserRow,
    /// The verified access token's claims (`amr` tells how the user signed in).
    pub claims: AccessClaims,
}

/// What the exchanger issued.
pub struct ExchangedToken {
    /// The token.
    pub token: String,
    /// Its type URN (`issued_token_type`).
    pub issued_token_type: &'static str,
    /// Lifetime in seconds.
    pub expires_in: i64,
    /// What was granted, space-separated (may be less than asked).
    pub scope: String,
}

/// Mints one requested token type in exchange for a validated request.
#[async_trait]
pub trait TokenExchanger: Send + Sync + 'static {
    /// The `requested_token_type` this exchanger issues.
    fn token_type(&self) -> &'static str;
    /// Decides and mints; refusals are OAuth errors (`invalid_scope`, `invalid_target`, …).
    async fn exchange(&self, state: &AppState, request: ExchangeRequest) -> Result<ExchangedToken>;
}

/// The exchange parameters of a token request.
pub struct ExchangeForm<'a> {
    /// `requested_token_type`.
    pub requested_token_type: Option<&'a str>,
    /// `subject_token`.
    pub subject_token: Option<&'a str>,
    /// `subject_token_type`.
    pub subject_token_type: Option<&'a str>,
    /// `actor_token` (not supported).
    pub actor_token: Option<&'a str>,
    /// `scope`.
    pub scope: Option<&'a str>,
    /// `resource`.
    pub resource: Option<&'a str>,
}

/// Validates the exchange parameters and calls the exchanger.
pub async fn exchange(
    state: &AppState,
    client: &ClientRow,
    form: ExchangeForm<'_>,
) -> Result<ExchangedToken> {
    let exchanger = state.token_exchanger().ok_or_else(|| {
        Error::oauth(
            "unsupported_grant_type",
            "token exchange is not enabled on this server",
        )
    })?;
    match form.requested_token_type {
        Some(asked) if asked == exchanger.token_type() => {}
        Some(other) => {
            return Err(Error::oauth(
                "invalid_request",
                format!(
                    "requested_token_type {other:?} is not issued here; use {}",
                    exchanger.token_type()
                ),
            ));
        }
        // Optional (RFC 8693 §2.1): the one type issued here.
        None => {}
    }
    if form.actor_token.is_some() {
        return Err(Error::oauth(
            "invalid_request",
            "actor_token (delegation) is not supported",
        ));
    }
    let subject = match (form.subject_token, form.subject_token_type) {
        (None, None) => {
            if client.is_public() {
                return Err(Error::oauth(
                    "invalid_request",
                    "a public client must send a user's subject_token",
                ));
            }
            // Acting for itself, school-wide, is what client_credentials registers a client
            // for: an app registered only to act for signed-in users cannot do it.
            if !client.allows_grant("client_credentials") {
                return Err(Error::oauth(
                    "unauthorized_client",
                    "this client is not registered to act for itself: send a user's subject_token, or ask the board to register it with `renkei client add --grant-type client_credentials`",
                ));
            }
            None
        }
        (Some(token), Some(ACCESS_TOKEN_TYPE)) => Some(subject(state, client, token).await?),
        (Some(_), Some(other)) => {
            return Err(Error::oauth(
                "invalid_request",
                format!("subject_token_type {other:?} is not supported; use {ACCESS_TOKEN_TYPE}"),
            ));
        }
        (Some(_), None) => {
            return Err(Error::oauth(
                "invalid_request",
                "subject_token_type is required with subject_token",
            ));
        }
        (None, Some(_)) => {
            return Err(Error::oauth(
                "invalid_request",
                "subject_token_type given without subject_token",
            ));
        }
    };
    let scope = crate::scope::parse(form.scope.unwrap_or(""));
    if scope.is_empty() {
        return Err(Error::oauth(
            "invalid_scope",
            "scope must name the data categories asked for",
        ));
    }
    let request = ExchangeRequest {
        client: client.clone(),
        subject,
        scope,
        resource: form.resource.map(str::to_owned),
    };
    exchanger.exchange(state, request).await
}

/// The user of an access token that this provider issued to this very client.
async fn subject(state: &AppState, client: &ClientRow, token: &str) -> Result<Subject> {
    // RFC 8693 §2.2.2: an invalid subject_token is `invalid_request`.
    let invalid = || {
        Error::oauth(
            "invalid_request",
            "subject_token is not a valid access token of this provider",
        )
    };
    let claims = verify_access_token(state, token)
        .await?
        .ok_or_else(invalid)?;
    if claims.client_id != client.id {
        return Err(Error::oauth(
            "invalid_request",
            "subject_token was issued to another client",
        ));
    }
    if claims.gid.is_none() {
        return Err(Error::oauth(
            "invalid_request",
            "subject_token must speak for a user; for the app's own jobs, omit subject_token",
        ));
    }
    let user = state
        .store
        .user(&claims.sub)
        .await?
        .filter(|u| u.enabled)
        .ok_or_else(super::issue::user_gone)?;
    Ok(Subject { user, claims })
}
