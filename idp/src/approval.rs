//! The app-approval page of the sign-in flow (OAuth "consent", not the data-use consent of the
//! consent service): names the app and what it asks for; approve remembers the grant, deny
//! answers the app with `access_denied`.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::authorize::{self, ValidRequest, redirect_error};
use crate::error::{Error, Result};
use crate::login::{LoginQuery, expired_request};
use crate::pages::{ConsentPage, render, toggle_href};
use crate::server::AppState;
use crate::store::SessionRow;
use renkei_platform::clock::now;

/// Tells the approval page which school-affairs data the board's policies let an app read,
/// and where that needs consent, the signed-in person's decision for each child, so that they
/// see it before approving (installed by the consent service).
#[async_trait::async_trait]
pub trait DataUseNotice: Send + Sync + 'static {
    /// What the app may read about the people `user` signs in as or for, in `locale`.
    async fn data_use(
        &self,
        client_id: &str,
        user: &crate::store::UserRow,
        locale: crate::pages::Locale,
    ) -> Result<DataUse>;
}

/// What an app may read, as the approval page shows it.
#[derive(Debug, Default)]
pub struct DataUse {
    /// The children a guardian decides for (names); empty for others.
    pub children: Vec<String>,
    /// Each category the app's policies in force cover.
    pub items: Vec<DataUseItem>,
}

/// One category an app may read.
#[derive(Debug)]
pub struct DataUseItem {
    /// The category's name, in the page's language.
    pub category: String,
    /// The purpose of use, in the page's language (the other one if the policy lacks it).
    pub purpose: String,
    /// Special-care (class I) data: marked wherever it appears.
    pub special: bool,
    /// Provided on the board's decision (nobody's consent is asked).
    pub board_decided: bool,
    /// Whose consent it needs when not: `guardian` or `student`.
    pub basis: &'static str,
    /// The decision for each child the person decides for (name, state as the consent
    /// overview names it: `none`, `granted`, `withdrawn`, `expired`, `outdated`, `lapsed`).
    pub states: Vec<(String, &'static str)>,
}

/// Form of `POST /consent`.
#[derive(Debug, Deserialize)]
pub struct ConsentForm {
    csrf_token: String,
    request: String,
    decision: String,
}

/// The pending request and the session it continues in, or the response to send instead.
async fn load(
    state: &AppState,
    headers: &HeaderMap,
    request: &str,
) -> Result<std::result::Result<(ValidRequest, SessionRow), Response>> {
    let Some(session) = crate::session::current(state, headers).await? else {
        return Ok(Err(renkei_platform::web::see_other(
            &crate::login::page_for(request),
            [],
        )));
    };
    match authorize::resume(state, request).await? {
        // The request asked for a fresher sign-in than this session: sign in first.
        Some(Ok(valid)) if !authorize::fresh_enough(&valid, &session, true) => Ok(Err(
            renkei_platform::web::see_other(&crate::login::page_for(request), []),
        )),
        Some(Ok(valid)) => Ok(Ok((valid, session))),
        Some(Err((target, refusal))) => Ok(Err(redirect_error(state, &target, &refusal))),
        None => Err(expired_request()),
    }
}

/// `GET /consent`.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Response {
    let result = async {
        let (valid, session) = match load(&state, &headers, &query.request).await? {
            Ok(loaded) => loaded,
            Err(response) => return Ok(response),
        };
        let locale = state.locale(
            query.lang.as_deref(),
            valid.raw.ui_locales.as_deref(),
            &headers,
        );
        let user = state
            .store
            .user(&session.user_id)
            .await?
            .ok_or_else(|| Error::internal("session of a deleted user"))?;
        let t = locale.texts_for(&user);
        let (csrf_token, csrf_cookie) = state.csrf.token(&headers);
        let data_use = match state.data_use() {
            Some(notices) => notices.data_use(&valid.client.id, &user, locale).await?,
            None => DataUse::default(),
        };
        let page = ConsentPage::new(
            t,
            toggle_href(t, "/consent", &[("request", &query.request)]),
            &valid,
            &user,
            data_use,
            &csrf_token,
            &query.request,
        );
        let cookies = csrf_cookie
            .into_iter()
            .chain(state.remember_locale(query.lang.as_deref(), locale));
        Ok::<_, Error>(renkei_platform::web::with_cookies(render(&page), cookies))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `POST /consent`.
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<ConsentForm>,
) -> Response {
    let result = async {
        if !state.csrf.verify(&headers, &form.csrf_token) {
            return Err(Error::page(
                StatusCode::FORBIDDEN,
                "ページの有効期限が切れました。アプリに戻って、もう一度ためしてください。",
                "This page has expired. Please go back to the app and try again.",
            ));
        }
        let (valid, session) = match load(&state, &headers, &form.request).await? {
            Ok(loaded) => loaded,
            Err(response) => return Ok(response),
        };
        state.store.delete_auth_request(&form.request).await?;
        match form.decision.as_str() {
            "approve" => {
                let mut scopes = valid.scopes.clone();
                if let Some(before) = state
                    .store
                    .approval(&session.user_id, &valid.client.id)
                    .await?
                {
                    scopes.extend(
                        crate::scope::parse(&before)
                            .into_iter()
                            .filter(|s| !valid.scopes.contains(s)),
                    );
                }
                state
                    .store
                    .upsert_approval(&session.user_id, &valid.client.id, &scopes.join(" "), now())
                    .await?;
                authorize::issue_code(&state, &valid, &session).await
            }
            _ => Ok(authorize::deny(&state, &valid)),
        }
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}
