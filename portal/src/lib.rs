//! Renkei's pages for the people it signs in (the portal): the home page (who you are, the
//! apps you use, your sign-in methods and devices) and, for guardians and pupils, for each
//! child they decide for, what each app the school uses may read and why, on which basis, in
//! which state; consent given or withdrawn with one button (in force at once); and the child's
//! read history in words.
//!
//! A surface: it parses, calls the consent service's and the gateway's operations (the same
//! ones the JSON API calls), and renders with the provider's layout and language toggle.

pub mod account;
pub mod error;
pub mod home;
pub mod notice;
pub mod texts;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use renkei_consent::service::ConsentService;
use renkei_gateway::Gateway;
use renkei_idp::AppState;

pub use error::{Error, Result};

/// What the portal's pages need.
#[derive(Clone)]
pub struct Portal {
    /// Consent: policies, decisions, the overview of what each app asks.
    pub consent: Arc<ConsentService>,
    /// The gateway's reads of a child's data (its audit chain).
    pub reads: renkei_gateway::portal::Portal,
    /// The provider: sessions, CSRF, accounts, apps, the page layout.
    pub idp: AppState,
}

/// The portal's routes.
pub fn router(consent: Arc<ConsentService>, gateway: Gateway, idp: &AppState) -> Router {
    let portal = Portal {
        consent,
        reads: renkei_gateway::portal::Portal {
            gateway,
            idp: idp.clone(),
        },
        idp: idp.clone(),
    };
    let pages = Router::new()
        .route(home::PATH, get(home::page))
        .route(home::STOP_PATH, post(home::stop))
        .route(home::OTHERS_PATH, post(home::sign_out_others))
        .route(account::PATH, get(account::page))
        .route(account::CHANGE_PATH, post(account::change))
        .with_state(portal);
    renkei_idp::error_page::localized(pages, idp)
}

/// The browser's session and its enabled account, if signed in.
pub(crate) async fn signed_in(
    portal: &Portal,
    headers: &axum::http::HeaderMap,
) -> Result<Option<(renkei_idp::store::SessionRow, renkei_idp::store::UserRow)>> {
    let Some(session) = renkei_idp::session::current(&portal.idp, headers).await? else {
        return Ok(None);
    };
    let user = portal
        .idp
        .store
        .user(&session.user_id)
        .await?
        .filter(|u| u.enabled);
    Ok(user.map(|user| (session, user)))
}
