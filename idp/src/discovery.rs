//! Discovery (OpenID Connect Discovery 1.0 §3, RFC 8414) and the JWK set: what the provider
//! supports, stated exactly as it behaves.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::config::Config;
use crate::keys::SigningAlg;
use crate::scope::SUPPORTED_SCOPES;
use crate::server::AppState;

/// The provider metadata document; `passkeys`: whether this installation offers them.
pub fn metadata(config: &Config, passkeys: bool) -> Value {
    let algs: Vec<&str> = SigningAlg::ALL.iter().map(|a| a.as_str()).collect();
    let mut acr_values = vec![crate::session::ACR_PASSWORD, crate::card::ACR_CARD];
    if passkeys {
        acr_values.push(crate::passkey::ACR_PASSKEY);
        acr_values.push(crate::recovery::ACR_RECOVERY);
    }
    json!({
        "issuer": config.issuer,
        "authorization_endpoint": config.endpoint("/authorize"),
        "token_endpoint": config.endpoint("/token"),
        "userinfo_endpoint": config.endpoint("/userinfo"),
        "jwks_uri": config.endpoint("/jwks"),
        "revocation_endpoint": config.endpoint("/revoke"),
        "introspection_endpoint": config.endpoint("/introspect"),
        "end_session_endpoint": config.endpoint("/logout"),
        "scopes_supported": SUPPORTED_SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid", "at_hash",
            "name", "given_name", "family_name", "name#ja-Kana-JP", "given_name#ja-Kana-JP", "family_name#ja-Kana-JP",
            "preferred_username", "updated_at", "email", "email_verified", "role", "school", "grade", "roles", "schools", "classes"
        ],
        "claim_types_supported": ["normal"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "require_request_uri_registration": false,
        "ui_locales_supported": ["ja", "en"],
        "claims_locales_supported": ["ja", "ja-Kana-JP"],
        "acr_values_supported": acr_values,
        "authorization_response_iss_parameter_supported": true,
        "frontchannel_logout_supported": false,
        "backchannel_logout_supported": false,
    })
}

/// `GET /.well-known/openid-configuration` (also served as RFC 8414's
/// `/.well-known/oauth-authorization-server`).
pub async fn configuration(State(state): State<AppState>) -> Response {
    cacheable(Json(state.metadata.clone()).into_response())
}

/// `GET /jwks`.
pub async fn jwks(State(state): State<AppState>) -> Response {
    cacheable(Json(state.keys.jwks().as_ref().clone()).into_response())
}

fn cacheable(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}
