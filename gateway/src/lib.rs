//! Renkei's data gateway: learning apps read school-affairs data over OneRoster 1.2 REST with
//! a capability token, and get exactly what it allows; every read is audited.
//!
//! - [`rostering`]: the rostering endpoints (`/ims/oneroster/rostering/v1p2/…`).
//! - [`paging`]: `limit`/`offset`, `filter`, `sort`/`orderBy`, `fields`.
//! - [`audit`]: the tamper-evident audit chain, written in batches.
//! - [`portal`]: the reads of a child's data, for the guardians' and pupils' portal.
//! - [`store`]: the storage interface.
//!
//! Verification uses `renkei_consent::capability::verify`, the library any 校務系 vendor uses.

pub mod audit;
pub mod error;
pub mod paging;
pub mod portal;
pub mod rostering;
pub mod store;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::get;
use renkei_consent::capability::verify::Verifier;
use renkei_idp::store::Database;

pub use error::{Error, Result};

/// Where the rostering service is mounted.
pub const ROSTERING: &str = "/ims/oneroster/rostering/v1p2";

/// The gateway's shared state.
#[derive(Clone)]
pub struct Gateway {
    /// Verifies capability tokens.
    pub verifier: Arc<Verifier>,
    /// Roster records and the audit chain.
    pub store: Arc<dyn store::GatewayStore>,
    /// Where reads are recorded.
    pub audit: audit::AuditLog,
}

impl FromRef<Gateway> for Arc<Verifier> {
    fn from_ref(gateway: &Gateway) -> Self {
        gateway.verifier.clone()
    }
}

impl Gateway {
    /// The gateway on a database, verifying with `verifier`; starts the audit writer.
    pub fn open(database: &Database, verifier: Arc<Verifier>) -> Self {
        let store = store::open(database);
        let audit = audit::AuditLog::start(store.clone());
        Gateway {
            verifier,
            store,
            audit,
        }
    }

    /// The gateway's routes, and the portal's list of reads (which uses the provider's
    /// sessions and the roster's guardianship links).
    pub fn router(
        &self,
        idp: &renkei_idp::AppState,
        consent: Arc<dyn renkei_consent::store::ConsentStore>,
    ) -> Router {
        let portal = portal::Portal {
            gateway: self.clone(),
            idp: idp.clone(),
            consent,
        };
        Router::new()
            .route(portal::PATH, get(portal::reads))
            .with_state(portal)
            .merge(self.api())
    }

    fn api(&self) -> Router {
        use rostering as r;
        Router::new()
            .route(&format!("{ROSTERING}/classes/{{id}}"), get(r::class))
            .route(
                &format!("{ROSTERING}/classes/{{id}}/students"),
                get(r::class_students),
            )
            .route(
                &format!("{ROSTERING}/schools/{{id}}/students"),
                get(r::school_students),
            )
            .route(&format!("{ROSTERING}/students"), get(r::students))
            .route(&format!("{ROSTERING}/students/{{id}}"), get(r::student))
            .route(&format!("{ROSTERING}/users/{{id}}"), get(r::user))
            .with_state(self.clone())
    }
}
