//! The demo of `renkei serve --demo`: a seeded board ([`seed`]) and a small learning app
//! ([`app`]) served in the same process, so that a newcomer can try sign-in, approval,
//! capability tokens, the gateway and a guardian's consent in a browser without writing an
//! app first. The app uses only the public protocol, as a vendor's would.

pub mod app;
mod error;
pub mod seed;

pub use app::DemoApp;
pub use error::{Error, Result};
pub use seed::{DEMO_PASSWORD, DemoBoard};

use renkei_consent::service::ConsentService;
use renkei_gateway::Gateway;
use renkei_idp::AppState;
use renkei_platform::AuditLog;

/// What `--demo` prepared: the board when it was seeded now, and the demo app when its
/// registration was found.
pub struct Demo {
    /// The seeded board (`None` when the database already had accounts).
    pub board: Option<DemoBoard>,
    /// The demo app (`None` when the database has no demo app registered for this issuer).
    pub app: Option<DemoApp>,
}

/// Seeds an empty database and prepares the demo app. On a database seeded by an earlier
/// start, the demo app's registration is found by its name and redirect URI and given a new
/// secret (audited), since only its digest was kept.
pub async fn prepare(
    provider: &AppState,
    consent: &ConsentService,
    gateway: &Gateway,
    audit: &AuditLog,
) -> Result<Demo> {
    let issuer = &provider.config.issuer;
    if let Some(board) = seed::seed(provider, consent, gateway, audit).await? {
        let app = DemoApp::new(issuer, board.client_id.clone(), board.client_secret.clone())?;
        return Ok(Demo {
            board: Some(board),
            app: Some(app),
        });
    }
    let redirect = seed::redirect_uri(issuer);
    // Exactly the registration the seed made: its name, its one redirect URI, its grants.
    let registered = provider.store.clients().await?.into_iter().find(|client| {
        client.name == seed::APP_NAME
            && client.redirect_uris == redirect
            && client.grant_types == "authorization_code refresh_token"
            && client.secret_hash.is_some()
    });
    let app = match registered {
        Some(client) => {
            let secret = renkei_idp::client::rotate_secret(
                provider.store.as_ref(),
                audit,
                "renkei serve --demo",
                &client.id,
            )
            .await?;
            Some(DemoApp::new(issuer, client.id, secret)?)
        }
        None => None,
    };
    Ok(Demo { board: None, app })
}
