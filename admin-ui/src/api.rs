//! The JSON admin API under `/admin/api/`: every console action as an endpoint, described by
//! the OpenAPI document at `/admin/api/openapi.json`, generated from the handlers' own
//! annotations. Errors are RFC 9457 problem details.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::error::{Error, Problem, Result};
use crate::{
    Console, actor, apps, assurance, audit, consents, keys, overview, people, policies, reference,
    roster, upstreams,
};

/// The largest JSON body the API reads.
pub const MAX_BODY: usize = 64 * 1024;

/// The API's description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Renkei admin API",
        description = "Administer a Renkei installation: apps, their data policies with a preview of the pupils they would see, people, consents (paper ones recorded), roster imports, the audit log, sign-in rules and keys. A board administrator reaches every school; a school administrator their own school only. Authenticate with an access token carrying the scope urn:renkei:scope:admin (an administrator's passkey sign-in, or an app's client credentials), or from the console's pages with the session cookie and, for changes, the X-CSRF-Token header.",
    ),
    paths(
        session,
        overview::api_overview,
        reference::api_reference,
        apps::api_list,
        apps::api_register,
        apps::api_rotate_secret,
        apps::api_disable,
        policies::api_list,
        policies::api_set,
        policies::api_preview,
        people::api_search,
        people::api_issue_password,
        people::api_remove_passkeys,
        people::api_lock,
        people::api_unlock,
        people::api_sign_out,
        people::api_enrolment_link,
        consents::api_class,
        consents::api_pupil,
        consents::api_record,
        audit::api_find,
        audit::api_export,
        audit::api_verify,
        audit::api_app_reads,
        keys::api_list,
        keys::api_rotate,
        assurance::api_rules,
        assurance::api_set,
        upstreams::api_list,
        upstreams::api_add,
        upstreams::api_change,
        upstreams::api_unlink,
        roster::api_upload,
        roster::api_confirm,
        roster::api_job,
    ),
    components(schemas(Problem)),
    modifiers(&Security),
    tags(
        (name = "overview", description = "The dashboard and what forms choose from"),
        (name = "apps", description = "Learning apps registered with the board"),
        (name = "policies", description = "What each app may read, for whom, on which basis"),
        (name = "people", description = "The board's people"),
        (name = "consents", description = "Where each pupil stands with each app; consents given on paper"),
        (name = "audit", description = "Who read and changed what"),
        (name = "roster", description = "Importing the board's OneRoster export"),
        (name = "security", description = "Sign-in rules per role; token-signing and capability keys; upstream sign-in providers (Google, Microsoft)"),
    )
)]
pub struct AdminApi;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("__Host-renkei_session"))),
        );
    }
}

/// The API's routes.
pub fn router() -> Router<Console> {
    Router::new()
        .route("/admin/api/openapi.json", get(openapi))
        .route("/admin/api/session", get(session))
        .route("/admin/api/overview", get(overview::api_overview))
        .route("/admin/api/reference", get(reference::api_reference))
        .route(
            "/admin/api/apps",
            get(apps::api_list).post(apps::api_register),
        )
        .route(
            "/admin/api/apps/{client_id}/secret",
            post(apps::api_rotate_secret),
        )
        .route(
            "/admin/api/apps/{client_id}/disable",
            post(apps::api_disable),
        )
        .route(
            "/admin/api/apps/{client_id}/policies",
            get(policies::api_list).put(policies::api_set),
        )
        .route(
            "/admin/api/apps/{client_id}/policies/preview",
            post(policies::api_preview),
        )
        .route("/admin/api/people", get(people::api_search))
        .route(
            "/admin/api/people/{account_id}/password",
            post(people::api_issue_password),
        )
        .route(
            "/admin/api/people/{account_id}/passkeys/remove",
            post(people::api_remove_passkeys),
        )
        .route(
            "/admin/api/people/{account_id}/lock",
            post(people::api_lock),
        )
        .route(
            "/admin/api/people/{account_id}/unlock",
            post(people::api_unlock),
        )
        .route(
            "/admin/api/people/{account_id}/sign-out",
            post(people::api_sign_out),
        )
        .route("/admin/api/assurance", get(assurance::api_rules))
        .route(
            "/admin/api/assurance/{role}",
            axum::routing::put(assurance::api_set),
        )
        .route(
            "/admin/api/apps/{client_id}/reads",
            get(audit::api_app_reads),
        )
        .route(
            "/admin/api/upstreams",
            get(upstreams::api_list).post(upstreams::api_add),
        )
        .route(
            "/admin/api/upstreams/{name}/{change}",
            post(upstreams::api_change),
        )
        .route(
            "/admin/api/people/{account_id}/upstreams/{name}/unlink",
            post(upstreams::api_unlink),
        )
        .route("/admin/api/keys", get(keys::api_list))
        .route("/admin/api/keys/rotate", post(keys::api_rotate))
        .route(
            "/admin/api/people/{account_id}/enrolment-link",
            post(people::api_enrolment_link),
        )
        .route("/admin/api/consents", get(consents::api_class))
        .route(
            "/admin/api/consents/pupils/{student_id}",
            get(consents::api_pupil).post(consents::api_record),
        )
        .route("/admin/api/audit", get(audit::api_find))
        .route("/admin/api/audit/export", get(audit::api_export))
        .route("/admin/api/audit/verify", get(audit::api_verify))
        .route(
            "/admin/api/roster",
            post(roster::api_upload)
                .layer(axum::extract::DefaultBodyLimit::max(roster::MAX_UPLOAD)),
        )
        .route(
            "/admin/api/roster/held/{import_id}/confirm",
            post(roster::api_confirm),
        )
        .route("/admin/api/roster/jobs/{id}", get(roster::api_job))
        .route("/admin/api/{*rest}", axum::routing::any(not_found))
        .layer(axum::middleware::map_response(no_store))
}

/// Nothing the API answers is kept by a cache (secrets, pupils' data), unless it says otherwise.
async fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(header::HeaderValue::from_static("no-store"));
    response
}

/// `GET /admin/api/openapi.json`.
async fn openapi() -> Response {
    let mut response = Json(AdminApi::openapi()).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache"),
    );
    response
}

async fn not_found() -> Error {
    Error::NotFound(
        "there is no such admin API endpoint; /admin/api/openapi.json lists them".into(),
    )
}

/// Who is signed in, and the token a browser sends back in `X-CSRF-Token` with changes.
#[derive(Serialize, ToSchema)]
pub struct Session {
    /// The administrator (or `app <client id>`).
    pub name: String,
    /// `board`, or the school administered.
    pub administers: String,
    /// For the `X-CSRF-Token` header of a browser's changes (absent with a bearer token).
    pub csrf_token: Option<String>,
}

/// `GET /admin/api/session`.
#[utoipa::path(get, path = "/admin/api/session", tag = "overview",
    responses((status = 200, body = Session), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn session(State(console): State<Console>, headers: HeaderMap) -> Result<Response> {
    let actor = actor::for_api(&console.idp, &headers, false).await?;
    let bearer = headers.contains_key(header::AUTHORIZATION);
    let (token, cookie) = if bearer {
        (None, None)
    } else {
        let (token, cookie) = console.idp.csrf.token(&headers);
        (Some(token), cookie)
    };
    let mut response = Json(Session {
        name: actor.name.clone(),
        administers: actor.school().unwrap_or("board").to_owned(),
        csrf_token: token,
    })
    .into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

/// A JSON request body, bounded, or a problem saying what is wrong with it.
pub fn json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T> {
    if body.len() > MAX_BODY {
        return Err(Error::Invalid(format!(
            "the request body is larger than {MAX_BODY} bytes"
        )));
    }
    serde_json::from_slice(body)
        .map_err(|e| Error::Invalid(format!("the request body is not the expected JSON: {e}")))
}

/// The end (Unix seconds) of the day `value` of the request's `field`, a date written
/// YYYY-MM-DD in Japan time, or a problem naming the field.
pub fn end_of_day(field: &str, value: &str) -> Result<i64> {
    renkei_platform::clock::end_of_day_in_japan(value).ok_or_else(|| {
        Error::Invalid(format!(
            "{field} {value:?} is not a date; write it as YYYY-MM-DD"
        ))
    })
}

/// A query string, or a problem saying what is wrong with it.
pub fn query<T: DeserializeOwned + Default>(raw: Option<&str>) -> Result<T> {
    match raw {
        None | Some("") => Ok(T::default()),
        Some(raw) => serde_urlencoded::from_str(raw)
            .map_err(|e| Error::Invalid(format!("the query string is not understood: {e}"))),
    }
}
