//! The consent JSON API behind the guardians' and pupils' portal: what each app asks to read
//! of a child, on which purpose, and the child's current decision; grant or withdraw.
//!
//! Signed-in users only (the provider's session cookie). Changes need the `X-CSRF-Token`
//! header with the token the GET returned (signed double-submit, same-origin only).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use renkei_directory::Role;
use renkei_idp::AppState;
use renkei_idp::store::UserRow;
use serde::{Deserialize, Serialize};

pub use crate::decision::{ChildOverview, Request};
use crate::error::{Error, Result};
use crate::policy::Basis;
use crate::record::{self, Action, ConsentInput};
use crate::service::ConsentService;

/// Path of the API.
pub const PATH: &str = "/api/consent";

/// State of the API routes.
#[derive(Clone)]
pub struct Api {
    /// The consent service.
    pub service: Arc<ConsentService>,
    /// The provider (sessions, CSRF, accounts, apps).
    pub idp: AppState,
}

/// What the portal shows.
#[derive(Serialize)]
pub struct Overview {
    /// Send back in `X-CSRF-Token` to change a decision.
    pub csrf_token: String,
    /// The children the user decides for (a pupil: themself).
    pub children: Vec<ChildOverview>,
}

/// Body of a change.
#[derive(Deserialize)]
pub struct Change {
    /// The child.
    pub student_id: String,
    /// The app.
    pub client_id: String,
    /// The category.
    pub category_id: String,
    /// `grant` or `withdraw`.
    pub action: String,
    /// Until when a grant holds (Unix seconds).
    pub until: Option<i64>,
}

async fn signed_in(api: &Api, headers: &HeaderMap) -> Result<UserRow> {
    let session = renkei_idp::session::current(&api.idp, headers)
        .await
        .map_err(idp_error)?
        .ok_or_else(|| Error::Unauthenticated)?;
    api.idp
        .store
        .user(&session.user_id)
        .await?
        .filter(|u| u.enabled)
        .ok_or(Error::Unauthenticated)
}

/// `GET /api/consent`.
pub async fn overview(State(api): State<Api>, headers: HeaderMap) -> Result<Response> {
    let user = signed_in(&api, &headers).await?;
    let overview = overview_of(&api.service, &api.idp, &user).await?;
    let (csrf_token, cookie) = api.idp.csrf.token(&headers);
    let mut response = Json(Overview {
        csrf_token,
        children: overview,
    })
    .into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    no_store(&mut response);
    Ok(response)
}

/// What `user` decides: for a guardian, each child's apps and categories under a policy that
/// needs the guardian's consent; for a pupil, their own under the pupil's consent; with each
/// decision's state. The JSON API and the portal's pages both show this.
pub async fn overview_of(
    service: &ConsentService,
    idp: &AppState,
    user: &UserRow,
) -> Result<Vec<ChildOverview>> {
    decisions(
        service.store.as_ref(),
        service.directory.as_ref(),
        idp.store.as_ref(),
        user,
        None,
    )
    .await
}

/// [`overview_of`] over the stores, for every app or only `client_id` (the approval page
/// shows one app's).
pub(crate) async fn decisions(
    store: &dyn crate::store::ConsentStore,
    directory: &dyn renkei_directory::Directory,
    apps: &dyn renkei_idp::store::Store,
    user: &UserRow,
    client_id: Option<&str>,
) -> Result<Vec<ChildOverview>> {
    let me = user.sourced_id.clone().unwrap_or_default();
    let (children, basis) = match Role::parse(&user.role) {
        Some(Role::Guardian) => (directory.children_of(&me).await?, Basis::Guardian),
        Some(Role::Student) => (vec![me], Basis::Student),
        _ => (Vec::new(), Basis::Guardian),
    };
    crate::decision::states(
        store,
        directory,
        apps,
        children,
        &[basis],
        client_id,
        renkei_platform::clock::now(),
    )
    .await
}

/// `POST /api/consent`: grant or withdraw for a child the user decides for.
pub async fn change(
    State(api): State<Api>,
    headers: HeaderMap,
    Json(change): Json<Change>,
) -> Result<Response> {
    let token = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !api.idp.csrf.verify(&headers, token) {
        return Err(Error::Forbidden(
            "send the csrf_token of GET /api/consent in the X-CSRF-Token header".into(),
        ));
    }
    let user = signed_in(&api, &headers).await?;
    let action = match change.action.as_str() {
        "grant" => Action::Grant,
        "withdraw" => Action::Withdraw,
        other => {
            return Err(Error::Invalid(format!(
                "action {other:?} is not grant or withdraw"
            )));
        }
    };
    if Role::parse(&user.role) == Some(Role::Administrator) {
        return Err(Error::Forbidden(
            "administrators record paper consents with `renkei consent grant`".into(),
        ));
    }
    let record = record::record(
        api.service.store.as_ref(),
        api.service.directory.as_ref(),
        &api.service.audit,
        &format!("POST {PATH}"),
        &user,
        ConsentInput {
            student_id: change.student_id,
            client_id: change.client_id,
            category_id: change.category_id,
            action,
            until: change.until,
            paper_from: None,
        },
        renkei_platform::clock::now(),
    )
    .await?;
    let mut response = (StatusCode::CREATED, Json(record)).into_response();
    no_store(&mut response);
    Ok(response)
}

fn no_store(response: &mut Response) {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
}

fn idp_error(error: renkei_idp::Error) -> Error {
    match error {
        renkei_idp::Error::Store(error) => Error::Store(error),
        other => Error::Invalid(other.to_string()),
    }
}
