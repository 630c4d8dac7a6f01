//! Renkei's administrators' console and its JSON admin API: the pages under `/admin` and the
//! endpoints under `/admin/api/` (OpenAPI at `/admin/api/openapi.json`).
//!
//! A surface: each concept's module holds its operation (which asks [`actor`] what the caller
//! reaches), its API handlers and what its pages need; the operations call the provider's,
//! the directory's and the consent service's own operations, which audit what they change.
//!
//! - [`actor`]: who acts and what they reach (board or one school).
//! - [`overview`]: the dashboard.
//! - [`apps`], [`policies`]: learning apps and what each may read, with the preview.
//! - [`people`]: finding people.
//! - [`consents`]: where each pupil stands with each app; paper consents recorded.
//! - [`audit`]: the audit log: search, export, verify.
//! - [`keys`]: signing and capability keys, and their rotation.
//! - [`assurance`]: which sign-in methods count for each role.
//! - [`upstreams`]: the board's upstream sign-in providers (Google, Microsoft).
//! - [`reference`]: what forms choose from.
//! - [`roster`]: roster imports in the background.
//! - [`read`]: auditing what the console shows of people.
//! - [`class`]: the teachers' class view.
//! - [`cards`]: a class's sign-in cards, printed.
//! - [`api`]: the API's routes and its OpenAPI document.
//! - [`pages`]: the console's pages.

pub mod actor;
pub mod api;
pub mod apps;
pub mod assurance;
pub mod audit;
pub mod cards;
pub mod class;
pub mod consents;
pub mod error;
pub mod keys;
pub mod overview;
pub mod pages;
pub mod people;
pub mod policies;
pub mod read;
pub mod reference;
pub mod roster;
pub mod upstreams;

use std::sync::Arc;

use axum::Router;
use renkei_consent::service::ConsentService;
use renkei_idp::AppState;
use renkei_platform::AuditLog;

pub use error::{Error, Result};

/// What the console needs.
#[derive(Clone)]
pub struct Console {
    /// The provider: sessions, CSRF, accounts, apps, the directory, the page layout.
    pub idp: AppState,
    /// Consent: categories, policies, consents.
    pub consent: Arc<ConsentService>,
    /// The audit log.
    pub audit: AuditLog,
    /// Turns for long reads of the whole log (exports, chain checks), a few at a time.
    long_reads: Arc<tokio::sync::Semaphore>,
    /// The roster imports this process started.
    roster_jobs: Arc<roster::Jobs>,
}

/// How many exports and chain checks may run at once.
pub const LONG_READS: usize = 2;

impl Console {
    /// A turn for a long read, or [`Error::Busy`] while others hold them all.
    pub fn long_read(&self) -> Result<tokio::sync::OwnedSemaphorePermit> {
        self.long_reads.clone().try_acquire_owned().map_err(|_| {
            Error::Busy(format!(
                "{LONG_READS} exports or checks of the audit log are running; try again in a minute"
            ))
        })
    }
}

/// The console's routes: its pages and its API.
pub fn router(idp: &AppState, consent: Arc<ConsentService>, audit: AuditLog) -> Router {
    let console = Console {
        idp: idp.clone(),
        consent,
        audit,
        long_reads: Arc::new(tokio::sync::Semaphore::new(LONG_READS)),
        roster_jobs: Arc::default(),
    };
    let pages = renkei_idp::error_page::localized(pages::router().with_state(console.clone()), idp);
    api::router().with_state(console).merge(pages)
}
