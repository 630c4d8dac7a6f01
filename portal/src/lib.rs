//! Renkei's pages for guardians and pupils (the portal): for each child they decide for, what
//! each app the school uses may read and why, on which basis, in which state; consent given or
//! withdrawn with one button (in force at once); and the child's read history in words.
//!
//! A surface: it parses, calls the consent service's and the gateway's operations (the same
//! ones the JSON API calls), and renders with the provider's layout and language toggle.

pub mod account;
pub mod error;
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
    Router::new()
        .route(account::PATH, get(account::page))
        .route(account::CHANGE_PATH, post(account::change))
        .with_state(portal)
}
