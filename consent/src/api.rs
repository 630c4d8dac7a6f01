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

use crate::error::{Error, Result};
use crate::policy::Basis;
use crate::record::{self, Action, Authors, ConsentInput, ConsentRecord};
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

/// One child's apps and categories.
#[derive(Serialize)]
pub struct ChildOverview {
    /// sourcedId.
    pub id: String,
    /// Display name.
    pub name: String,
    /// What apps ask, under a policy that needs this user's consent.
    pub requests: Vec<Request>,
    /// What apps receive on the board's own decision (no consent asked; state `school`).
    pub school_decided: Vec<Request>,
    /// Where the child is placed (the approval page asks which policies reach the child).
    #[serde(skip)]
    pub placement: renkei_directory::Placement,
}

/// One app asking for one category of the child.
#[derive(Serialize)]
pub struct Request {
    /// The app.
    pub client_id: String,
    /// Its name.
    pub app_name: String,
    /// The category.
    pub category: crate::category::Category,
    /// 利用目的.
    pub purpose_ja: Option<String>,
    /// Purpose of use.
    pub purpose_en: Option<String>,
    /// Policy version a grant agrees to.
    pub policy_version: i64,
    /// End of the policy's validity.
    pub valid_until: Option<i64>,
    /// `granted`, `withdrawn`, `expired`, `outdated` (granted to an older version), `lapsed`
    /// (granted by a guardian who no longer acts for the child: not in force), `none`, or
    /// `school` (provided on the board's decision: nothing to decide).
    pub state: &'static str,
    /// The latest decision, if any.
    pub decision: Option<ConsentRecord>,
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
    let now = renkei_platform::clock::now();
    let me = user.sourced_id.clone().unwrap_or_default();
    let (children, basis) = match Role::parse(&user.role) {
        Some(Role::Guardian) => (directory.children_of(&me).await?, Basis::Guardian),
        Some(Role::Student) => (vec![me], Basis::Student),
        _ => (Vec::new(), Basis::Guardian),
    };
    // Each policy's category and app name, read once for every child.
    let mut policies = Vec::new();
    for policy in store.policies(client_id).await? {
        if !(policy.in_force(now) && (policy.basis == basis || policy.basis == Basis::School)) {
            continue;
        }
        let Some(category) = store.category(&policy.category_id).await? else {
            continue;
        };
        let app_name = apps
            .client(&policy.client_id)
            .await?
            .map(|c| c.name)
            .unwrap_or_default();
        policies.push((policy, category, app_name));
    }
    let mut overview = Vec::new();
    for child in children {
        let Some(placement) = directory.placement(&child).await? else {
            continue;
        };
        let name = directory
            .person_name(&child)
            .await?
            .unwrap_or_else(|| child.clone());
        let records = store.consents(Some(&child), None).await?;
        let authors = Authors::of(directory, std::slice::from_ref(&child)).await?;
        let mut requests = Vec::new();
        let mut school_decided = Vec::new();
        for (policy, category, app_name) in
            policies.iter().filter(|(p, _, _)| p.reaches(&placement))
        {
            // The board's decision needs no one's consent: it is shown as such, undecided.
            let (state, decision) = if policy.basis == Basis::School {
                ("school", None)
            } else {
                let decision = records
                    .iter()
                    .rev()
                    .find(|r| {
                        r.client_id == policy.client_id && r.category_id == policy.category_id
                    })
                    .cloned();
                let state = match &decision {
                    None => "none",
                    Some(r) if r.action == "withdraw" => "withdrawn",
                    Some(r) if !authors.may_still_act(r) => "lapsed",
                    Some(r) if r.policy_version != policy.version => "outdated",
                    Some(r) if r.until.is_some_and(|until| until <= now) => "expired",
                    Some(_) => "granted",
                };
                (state, decision)
            };
            let request = Request {
                client_id: policy.client_id.clone(),
                app_name: app_name.clone(),
                category: category.clone(),
                purpose_ja: policy.purpose_ja.clone(),
                purpose_en: policy.purpose_en.clone(),
                policy_version: policy.version,
                valid_until: policy.valid_until,
                state,
                decision,
            };
            if policy.basis == Basis::School {
                school_decided.push(request);
            } else {
                requests.push(request);
            }
        }
        overview.push(ChildOverview {
            id: child,
            name,
            requests,
            school_decided,
            placement,
        });
    }
    Ok(overview)
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
