//! Renkei's data gateway: learning apps read school-affairs data over OneRoster 1.2 REST with
//! a capability token, and get exactly what it allows; every read is audited.
//!
//! - [`rostering`], [`gradebook`]: the OneRoster 1.2 endpoints.
//! - [`affairs`]: the school-affairs extension endpoints and their import.
//! - [`view`]: what a capability lets an app see, record by record.
//! - [`read`]: one read from request to audited response.
//! - [`paging`]: `limit`/`offset`, `filter`, `sort`/`orderBy`, `fields`.
//! - [`portal`]: the reads of a child's data, for the guardians' and pupils' portal.
//! - [`store`]: the storage interface.
//!
//! Verification uses `renkei-capability`, the library any 校務系 vendor uses.

pub mod affairs;
pub mod error;
pub mod gradebook;
pub mod paging;
pub mod portal;
pub mod read;
pub mod rostering;
pub mod store;
pub mod view;

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::get;
use renkei_capability::Verifier;
use renkei_platform::rate::AddressLimit;
use renkei_platform::{AuditLog, Database};

pub use error::{Error, Result};

/// Where the rostering service is mounted.
pub const ROSTERING: &str = "/ims/oneroster/rostering/v1p2";
/// Where the gradebook service is mounted.
pub const GRADEBOOK: &str = "/ims/oneroster/gradebook/v1p2";

/// The collection path a GUIDRef's `type` points into.
pub fn collection_of(kind: &str) -> Option<String> {
    let (service, collection) = match kind {
        "org" => (ROSTERING, "orgs"),
        "academicSession" => (ROSTERING, "academicSessions"),
        "course" => (ROSTERING, "courses"),
        "class" => (ROSTERING, "classes"),
        "user" | "student" | "teacher" => (ROSTERING, "users"),
        "enrollment" => (ROSTERING, "enrollments"),
        "demographics" => (ROSTERING, "demographics"),
        "category" => (GRADEBOOK, "categories"),
        "lineItem" => (GRADEBOOK, "lineItems"),
        "result" => (GRADEBOOK, "results"),
        _ => return None,
    };
    Some(format!("{service}/{collection}"))
}

/// The gateway's shared state.
#[derive(Clone)]
pub struct Gateway {
    /// Verifies capability tokens.
    pub verifier: Arc<Verifier>,
    /// The records it serves (the roster's through the directory, school-affairs records).
    pub store: Arc<dyn store::GatewayStore>,
    /// The roster directory (placements, guardianship links).
    pub directory: Arc<dyn renkei_directory::Directory>,
    /// Where reads are recorded (the process's audit log).
    pub audit: AuditLog,
    /// Scheme, host and port of the public URL (for `href`s).
    pub origin: Arc<str>,
    /// Proxies whose `X-Forwarded-For` is believed (the client's address for the limit).
    pub trusted_proxies: Arc<[IpAddr]>,
    /// Anonymous refusals per address: past [`ANONYMOUS_REFUSALS_PER_MINUTE`], an address
    /// is answered 429 without its token being read.
    pub refusals: Arc<AddressLimit>,
}

/// Reads refused without a valid token that one address may make per minute before it is
/// answered 429 (a misconfigured app retrying with an expired token stays well below).
pub const ANONYMOUS_REFUSALS_PER_MINUTE: u32 = 300;

impl FromRef<Gateway> for Arc<Verifier> {
    fn from_ref(gateway: &Gateway) -> Self {
        gateway.verifier.clone()
    }
}

impl Gateway {
    /// The gateway on a database, verifying with `verifier`, served at the origin of `issuer`
    /// (`https://renkei.example.ed.jp/…`), recording reads in `audit`.
    pub fn open(
        database: &Database,
        verifier: Arc<Verifier>,
        issuer: &str,
        audit: AuditLog,
    ) -> Self {
        let directory = renkei_directory::open(database);
        let store = store::open(database, directory.clone());
        let after_scheme = issuer.find("://").map_or(0, |i| i + 3);
        let origin = match issuer[after_scheme..].find('/') {
            Some(slash) => &issuer[..after_scheme + slash],
            None => issuer,
        };
        Gateway {
            verifier,
            directory,
            store,
            audit,
            origin: origin.into(),
            trusted_proxies: Arc::from([]),
            refusals: Arc::new(AddressLimit::new(ANONYMOUS_REFUSALS_PER_MINUTE, 60)),
        }
    }

    /// Believes `X-Forwarded-For` from these proxies (the provider's `--trusted-proxy`).
    pub fn with_trusted_proxies(mut self, proxies: &[IpAddr]) -> Self {
        self.trusted_proxies = proxies.into();
        self
    }

    /// Adds absolute `href`s to the GUIDRefs of a served record.
    pub fn add_hrefs(&self, value: &mut serde_json::Value) {
        read::add_hrefs(&self.origin, value);
    }

    /// Serves the gateway's routes alone (and `/healthz`) under Renkei's middleware until
    /// `shutdown`, then drains requests and stores every audit event they queued.
    pub async fn serve_alone(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let app = renkei_platform::web::harden(
            self.api().route("/healthz", get(|| async { "ok" })),
            self.origin.starts_with("https://"),
        );
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        self.audit.flush().await;
        served
    }

    /// The gateway's routes, and the portal's list of reads (which uses the provider's
    /// sessions and the roster's guardianship rule).
    pub fn router(&self, idp: &renkei_idp::AppState) -> Router {
        let portal = portal::Portal {
            gateway: self.clone(),
            idp: idp.clone(),
        };
        Router::new()
            .route(portal::PATH, get(portal::reads))
            .with_state(portal)
            .merge(self.api())
    }

    /// The OneRoster and school-affairs routes alone (for a gateway-only process).
    pub fn api(&self) -> Router {
        use gradebook as g;
        use rostering::{self as r, Classes, Enrollments, People, Role};
        use view::{DEMOGRAPHICS, GRADEBOOK as GRADES, ROSTER_CORE as CORE};
        let ro = |path: &str| format!("{ROSTERING}{path}");
        let gb = |path: &str| format!("{GRADEBOOK}{path}");
        let mut router = Router::new()
            .route(&ro("/orgs"), endpoint!(CORE, read => r::orgs(read, false)))
            .route(
                &ro("/orgs/{id}"),
                endpoint!(CORE, read => r::org(read, false)),
            )
            .route(
                &ro("/schools"),
                endpoint!(CORE, read => r::orgs(read, true)),
            )
            .route(
                &ro("/schools/{id}"),
                endpoint!(CORE, read => r::org(read, true)),
            )
            .route(
                &ro("/academicSessions"),
                endpoint!(CORE, read => r::sessions(read, None, false)),
            )
            .route(
                &ro("/academicSessions/{id}"),
                endpoint!(CORE, read => r::session(read, None)),
            )
            .route(
                &ro("/terms"),
                endpoint!(CORE, read => r::sessions(read, Some("term"), false)),
            )
            .route(
                &ro("/terms/{id}"),
                endpoint!(CORE, read => r::session(read, Some("term"))),
            )
            .route(
                &ro("/gradingPeriods"),
                endpoint!(CORE, read => r::sessions(read, Some("gradingPeriod"), false)),
            )
            .route(
                &ro("/gradingPeriods/{id}"),
                endpoint!(CORE, read => r::session(read, Some("gradingPeriod"))),
            )
            .route(
                &ro("/terms/{id}/gradingPeriods"),
                endpoint!(CORE, read => r::grading_periods_of_term(read)),
            )
            .route(
                &ro("/terms/{id}/classes"),
                endpoint!(CORE, read => r::classes(read, Classes::OfTerm)),
            )
            .route(
                &ro("/schools/{id}/terms"),
                endpoint!(CORE, read => r::sessions(read, Some("term"), true)),
            )
            .route(
                &ro("/courses"),
                endpoint!(CORE, read => r::courses(read, false)),
            )
            .route(
                &ro("/courses/{id}"),
                endpoint!(CORE, read => r::course(read)),
            )
            .route(
                &ro("/courses/{id}/classes"),
                endpoint!(CORE, read => r::classes(read, Classes::OfCourse)),
            )
            .route(
                &ro("/schools/{id}/courses"),
                endpoint!(CORE, read => r::courses(read, true)),
            )
            .route(
                &ro("/classes"),
                endpoint!(CORE, read => r::classes(read, Classes::All)),
            )
            .route(
                &ro("/classes/{id}"),
                endpoint!(CORE, read => r::class(read)),
            )
            .route(
                &ro("/schools/{id}/classes"),
                endpoint!(CORE, read => r::classes(read, Classes::OfSchool)),
            )
            .route(
                &ro("/users/{id}/classes"),
                endpoint!(CORE, read => r::classes(read, Classes::OfUser(Role::Any))),
            )
            .route(
                &ro("/students/{id}/classes"),
                endpoint!(CORE, read => r::classes(read, Classes::OfUser(Role::Student))),
            )
            .route(
                &ro("/teachers/{id}/classes"),
                endpoint!(CORE, read => r::classes(read, Classes::OfUser(Role::Teacher))),
            )
            .route(
                &ro("/users"),
                endpoint!(CORE, read => r::users(read, People::All, Role::Any)),
            )
            .route(
                &ro("/students"),
                endpoint!(CORE, read => r::users(read, People::All, Role::Student)),
            )
            .route(
                &ro("/teachers"),
                endpoint!(CORE, read => r::users(read, People::All, Role::Teacher)),
            )
            .route(
                &ro("/users/{id}"),
                endpoint!(CORE, read => r::user(read, Role::Any)),
            )
            .route(
                &ro("/students/{id}"),
                endpoint!(CORE, read => r::user(read, Role::Student)),
            )
            .route(
                &ro("/teachers/{id}"),
                endpoint!(CORE, read => r::user(read, Role::Teacher)),
            )
            .route(
                &ro("/classes/{id}/students"),
                endpoint!(CORE, read => r::users(read, People::OfClass, Role::Student)),
            )
            .route(
                &ro("/classes/{id}/teachers"),
                endpoint!(CORE, read => r::users(read, People::OfClass, Role::Teacher)),
            )
            .route(
                &ro("/schools/{id}/students"),
                endpoint!(CORE, read => r::users(read, People::OfSchool, Role::Student)),
            )
            .route(
                &ro("/schools/{id}/teachers"),
                endpoint!(CORE, read => r::users(read, People::OfSchool, Role::Teacher)),
            )
            .route(
                &ro("/schools/{id}/classes/{class}/students"),
                endpoint!(CORE, read => r::users(read, People::OfSchoolClass, Role::Student)),
            )
            .route(
                &ro("/schools/{id}/classes/{class}/teachers"),
                endpoint!(CORE, read => r::users(read, People::OfSchoolClass, Role::Teacher)),
            )
            .route(
                &ro("/enrollments"),
                endpoint!(CORE, read => r::enrollments(read, Enrollments::All)),
            )
            .route(
                &ro("/enrollments/{id}"),
                endpoint!(CORE, read => r::enrollment(read)),
            )
            .route(
                &ro("/schools/{id}/enrollments"),
                endpoint!(CORE, read => r::enrollments(read, Enrollments::OfSchool)),
            )
            .route(
                &ro("/schools/{id}/classes/{class}/enrollments"),
                endpoint!(CORE, read => r::enrollments(read, Enrollments::OfSchoolClass)),
            )
            .route(
                &ro("/demographics"),
                endpoint!(DEMOGRAPHICS, read => r::demographics(read)),
            )
            .route(
                &ro("/demographics/{id}"),
                endpoint!(DEMOGRAPHICS, read => r::demographic(read)),
            )
            .route(
                &gb("/categories"),
                endpoint!(GRADES, read => g::categories(read, false)),
            )
            .route(
                &gb("/categories/{id}"),
                endpoint!(GRADES, read => g::category(read)),
            )
            .route(
                &gb("/classes/{id}/categories"),
                endpoint!(GRADES, read => g::categories(read, true)),
            )
            .route(
                &gb("/lineItems"),
                endpoint!(GRADES, read => g::line_items(read, g::From::All)),
            )
            .route(
                &gb("/lineItems/{id}"),
                endpoint!(GRADES, read => g::line_item(read)),
            )
            .route(
                &gb("/classes/{id}/lineItems"),
                endpoint!(GRADES, read => g::line_items(read, g::From::OfClass)),
            )
            .route(
                &gb("/schools/{id}/lineItems"),
                endpoint!(GRADES, read => g::line_items(read, g::From::OfSchool)),
            )
            .route(
                &gb("/results"),
                endpoint!(GRADES, read => g::results(read, g::From::All)),
            )
            .route(
                &gb("/results/{id}"),
                endpoint!(GRADES, read => g::result(read)),
            )
            .route(
                &gb("/lineItems/{id}/results"),
                endpoint!(GRADES, read => g::results(read, g::From::OfLineItem)),
            )
            .route(
                &gb("/classes/{id}/results"),
                endpoint!(GRADES, read => g::results(read, g::From::OfClass)),
            )
            .route(
                &gb("/schools/{id}/results"),
                endpoint!(GRADES, read => g::results(read, g::From::OfSchool)),
            )
            .route(
                &gb("/classes/{id}/lineItems/{item}/results"),
                endpoint!(GRADES, read => g::results(read, g::From::OfLineItem)),
            )
            .route(
                &gb("/classes/{id}/students/{student}/results"),
                endpoint!(GRADES, read => g::results(read, g::From::OfStudent)),
            );
        for collection in &affairs::COLLECTIONS {
            use affairs::{AFFAIRS, From};
            let name = collection.path;
            let category = collection.category;
            router = router
                .route(
                    &format!("{AFFAIRS}/{name}"),
                    endpoint!(category, read => collection.list(read, From::All)),
                )
                .route(
                    &format!("{AFFAIRS}/{name}/{{id}}"),
                    endpoint!(category, read => collection.one(read)),
                )
                .route(
                    &format!("{AFFAIRS}/classes/{{id}}/{name}"),
                    endpoint!(category, read => collection.list(read, From::OfClass)),
                )
                .route(
                    &format!("{AFFAIRS}/schools/{{id}}/{name}"),
                    endpoint!(category, read => collection.list(read, From::OfSchool)),
                );
            if !collection.per_class {
                router = router.route(
                    &format!("{AFFAIRS}/students/{{id}}/{name}"),
                    endpoint!(category, read => collection.list(read, From::OfStudent)),
                );
            }
        }
        router.with_state(self.clone())
    }
}
