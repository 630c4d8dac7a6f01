//! Renkei (連携) assembled: one [`App`] holds every part of a running installation — the
//! database, the audit log, the provider, the consent service and the gateway — and serves
//! them. `renkei serve`, the end-to-end tests and the load harness (which runs `renkei serve`)
//! all build the server here, so what is tested is what runs.

pub mod error;

use std::future::Future;
use std::sync::Arc;

use renkei_consent::service::ConsentService;
use renkei_gateway::Gateway;
use renkei_idp::store::Store;
use renkei_idp::{AppState, Config};
use renkei_platform::{AuditLog, Database};
use tokio::net::TcpListener;

pub use error::{Error, Result};

/// A running installation's parts, wired together.
#[derive(Clone)]
pub struct App {
    /// The database every part stores in.
    pub database: Database,
    /// The process's audit log (reads, administrative actions, consent changes).
    pub audit: AuditLog,
    /// The OpenID Connect provider.
    pub provider: AppState,
    /// The consent service (policies, consent records, capability tokens).
    pub consent: Arc<ConsentService>,
    /// The data gateway.
    pub gateway: Gateway,
    /// The demo learning app, served at `/demo-app/` after [`App::prepare_demo`].
    pub demo_app: Option<renkei_demo::DemoApp>,
}

impl App {
    /// Opens the database at `database_url`, applies pending migrations, and prepares every
    /// part (signing keys and the capability root key are created on first start). The audit
    /// writer starts here, so this runs inside a tokio runtime.
    pub async fn open(database_url: &str, config: Config) -> Result<Self> {
        let database = open_database(database_url).await?;
        let audit = AuditLog::start(&database);
        let store = renkei_idp::store::open(&database);
        let provider = AppState::new(
            store,
            renkei_directory::open(&database),
            config,
            audit.clone(),
        )
        .await?;
        let consent = ConsentService::open(&database, audit.clone()).await?;
        let provider = consent.install(provider);
        let gateway = Gateway::open(
            &database,
            consent.verifier.clone(),
            &provider.config.issuer,
            audit.clone(),
        )
        .with_trusted_proxies(&provider.config.trusted_proxies);
        Ok(App {
            database,
            audit,
            provider,
            consent,
            gateway,
            demo_app: None,
        })
    }

    /// The provider's storage.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.provider.store
    }

    /// `renkei serve --demo`: seeds the demo board into an empty database and serves the demo
    /// learning app; returns the board when it was seeded now (`None` if the database already
    /// had accounts).
    pub async fn prepare_demo(&mut self) -> Result<Option<renkei_demo::DemoBoard>> {
        let demo =
            renkei_demo::prepare(&self.provider, &self.consent, &self.gateway, &self.audit).await?;
        self.demo_app = demo.app;
        Ok(demo.board)
    }

    /// Serves every route on `listener` until `shutdown` completes, then drains open requests
    /// and stores every audit event they queued. Background upkeep (key refresh, purges) runs
    /// while serving.
    pub async fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let upkeep = self.consent.spawn_upkeep();
        let mut routes = self
            .consent
            .router(&self.provider)
            .merge(self.gateway.router(&self.provider))
            .merge(renkei_portal::router(
                self.consent.clone(),
                self.gateway.clone(),
                &self.provider,
            ))
            .merge(renkei_admin::router(
                &self.provider,
                self.consent.clone(),
                self.audit.clone(),
            ));
        if let Some(demo) = &self.demo_app {
            routes = routes.merge(demo.router());
        }
        let served = renkei_idp::serve(listener, self.provider.clone(), routes, shutdown).await;
        upkeep.abort();
        self.audit.flush().await;
        served
    }
}

/// Serves the gateway alone (`renkei gateway`), verifying with the keys and revocations in the
/// shared database, until `shutdown`.
pub async fn serve_gateway(
    database_url: &str,
    listener: TcpListener,
    public_url: &str,
    trusted_proxies: &[std::net::IpAddr],
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let database = open_database(database_url).await?;
    let audit = AuditLog::start(&database);
    let consent = ConsentService::open(&database, audit.clone()).await?;
    let upkeep = consent.spawn_upkeep();
    let gateway = Gateway::open(&database, consent.verifier.clone(), public_url, audit)
        .with_trusted_proxies(trusted_proxies);
    let served = gateway.serve_alone(listener, shutdown).await;
    upkeep.abort();
    served.map_err(|e| Error::Invalid(format!("the gateway failed: {e}")))
}

/// Imports the board's OneRoster files on `database`: the consent service's import operation
/// ([`renkei_consent::capability::roster::import`]), which the console calls too.
pub async fn import_roster(
    database: &Database,
    audit: &AuditLog,
    via: &str,
    path: &std::path::Path,
    options: &renkei_directory::ImportOptions,
) -> Result<renkei_directory::ImportReport> {
    Ok(renkei_consent::capability::roster::import(
        renkei_directory::open(database).as_ref(),
        renkei_consent::store::open(database).as_ref(),
        audit,
        via,
        path,
        options,
    )
    .await?)
}

/// Opens the database at `url` and applies pending migrations, or says why it cannot.
pub async fn open_database(url: &str) -> Result<Database> {
    Database::open(url).await.map_err(|e| {
        Error::Invalid(format!(
            "cannot open the database {}: {e}",
            renkei_platform::database::redacted(url)
        ))
    })
}
