//! The consent service assembled: storage, capability keys, verifier, the token exchanger it
//! installs in the provider and its own routes (the capability key set and revocation list).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use renkei_directory::Directory;
use renkei_idp::AppState;
use renkei_platform::{AuditLog, Database};
use serde_json::json;

use crate::capability::exchange::CapabilityExchanger;
use crate::capability::keys::CapabilityKeys;
use crate::capability::revocations::StoredRevocations;
use crate::error::Result;
use crate::store::ConsentStore;
use renkei_capability::Verifier;

/// Path of the capability root keys' JWK set.
pub const KEYS_PATH: &str = "/capability/keys";
/// Path of the revocation list.
pub const REVOKED_PATH: &str = "/capability/revoked";

/// The running consent service.
pub struct ConsentService {
    /// Storage.
    pub store: Arc<dyn ConsentStore>,
    /// Capability root keys.
    pub keys: Arc<CapabilityKeys>,
    /// Verifier over this installation's keys and revocations.
    pub verifier: Arc<Verifier>,
    /// The process's audit log, where consent changes made through the portal are recorded.
    pub audit: AuditLog,
    /// The roster directory (who may act for which child).
    pub directory: Arc<dyn Directory>,
}

impl ConsentService {
    /// Opens the service on a migrated database (creates the first root key if needed),
    /// auditing in `audit`.
    pub async fn open(database: &Database, audit: AuditLog) -> Result<Arc<Self>> {
        let store = crate::store::open(database);
        let keys =
            Arc::new(CapabilityKeys::load(store.as_ref(), renkei_platform::clock::now()).await?);
        let verifier = Arc::new(Verifier::new(
            keys.clone(),
            Arc::new(StoredRevocations(store.clone())),
        )?);
        Ok(Arc::new(ConsentService {
            audit,
            directory: renkei_directory::open(database),
            store,
            keys,
            verifier,
        }))
    }

    /// Installs the capability token exchange in the provider and announces it in discovery.
    pub fn install(&self, state: AppState) -> AppState {
        let mut metadata = serde_json::Map::new();
        metadata.insert(
            "capability_keys_uri".into(),
            json!(state.config.endpoint(KEYS_PATH)),
        );
        metadata.insert(
            "capability_revocation_uri".into(),
            json!(state.config.endpoint(REVOKED_PATH)),
        );
        metadata.insert(
            "capability_token_type".into(),
            json!(crate::capability::TOKEN_TYPE),
        );
        let exchanger = CapabilityExchanger {
            store: self.store.clone(),
            directory: self.directory.clone(),
            keys: self.keys.clone(),
        };
        let notice = PolicyNotice {
            store: self.store.clone(),
            directory: self.directory.clone(),
            apps: state.store.clone(),
        };
        state
            .with_token_exchange(Arc::new(exchanger), metadata)
            .with_data_use_notice(Arc::new(notice))
    }

    /// The service's routes: the capability key set and revocation list, and the portal's
    /// JSON API (which uses the provider's sessions).
    pub fn router(self: &Arc<Self>, idp: &AppState) -> Router {
        let api = crate::api::Api {
            service: self.clone(),
            idp: idp.clone(),
        };
        Router::new()
            .route(KEYS_PATH, get(keys))
            .route(REVOKED_PATH, get(revoked))
            .with_state(self.clone())
            .merge(
                Router::new()
                    .route(
                        crate::api::PATH,
                        get(crate::api::overview).post(crate::api::change),
                    )
                    .with_state(api),
            )
    }

    /// Re-reads the root keys every minute (rotations by other processes) until dropped.
    pub fn spawn_upkeep(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let service = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(error) = service
                    .keys
                    .refresh(service.store.as_ref(), renkei_platform::clock::now())
                    .await
                {
                    tracing::error!(%error, "could not refresh capability keys");
                }
            }
        })
    }
}

/// The approval page's notice: the categories and purposes of the app's policies in force,
/// which need consent, and the signed-in person's decisions for each child.
struct PolicyNotice {
    store: Arc<dyn ConsentStore>,
    directory: Arc<dyn Directory>,
    apps: Arc<dyn renkei_idp::store::Store>,
}

#[async_trait::async_trait]
impl renkei_idp::approval::DataUseNotice for PolicyNotice {
    async fn data_use(
        &self,
        client_id: &str,
        user: &renkei_idp::store::UserRow,
        locale: renkei_idp::pages::Locale,
    ) -> renkei_idp::Result<renkei_idp::approval::DataUse> {
        self.notice(client_id, user, locale)
            .await
            .map_err(|e| match e {
                crate::Error::Store(error) => renkei_idp::Error::Store(error),
                other => renkei_idp::Error::internal(other.to_string()),
            })
    }
}

impl PolicyNotice {
    async fn notice(
        &self,
        client_id: &str,
        user: &renkei_idp::store::UserRow,
        locale: renkei_idp::pages::Locale,
    ) -> Result<renkei_idp::approval::DataUse> {
        use renkei_idp::approval::{DataUse, DataUseItem};
        let english = locale == renkei_idp::pages::Locale::En;
        let now = renkei_platform::clock::now();
        let decisions = crate::api::decisions(
            self.store.as_ref(),
            self.directory.as_ref(),
            self.apps.as_ref(),
            user,
            Some(client_id),
        )
        .await?;
        // A guardian or pupil sees the policies that reach their children (themself); staff,
        // every policy of the app (they act for many pupils).
        let role = renkei_directory::Role::parse(&user.role);
        let family = matches!(
            role,
            Some(renkei_directory::Role::Guardian | renkei_directory::Role::Student)
        );
        // The children `decisions` read, with their placements (a pupil: themself).
        let placements: Vec<&renkei_directory::Placement> =
            decisions.iter().map(|child| &child.placement).collect();
        let mut items: Vec<DataUseItem> = Vec::new();
        // A category that several policies cover on one basis (different schools) is shown
        // once.
        let mut shown: Vec<(String, &'static str)> = Vec::new();
        for policy in self.store.policies(Some(client_id)).await? {
            let key = (policy.category_id.clone(), policy.basis.as_str());
            if !policy.in_force(now)
                || shown.contains(&key)
                || (family && !placements.iter().any(|p| policy.reaches(p)))
            {
                continue;
            }
            shown.push(key);
            let Some(category) = self.store.category(&policy.category_id).await? else {
                continue;
            };
            let states = decisions
                .iter()
                .filter_map(|child| {
                    child
                        .requests
                        .iter()
                        .find(|r| {
                            r.category.id == policy.category_id
                                && r.policy_version == policy.version
                        })
                        .map(|r| (child.name.clone(), r.state))
                })
                .collect();
            let purpose = if english {
                policy.purpose_en.or(policy.purpose_ja)
            } else {
                policy.purpose_ja.or(policy.purpose_en)
            };
            items.push(DataUseItem {
                category: if english {
                    category.name_en.clone()
                } else {
                    category.name_ja.clone()
                },
                purpose: purpose.unwrap_or_default(),
                special: category.is_highly_sensitive(),
                board_decided: policy.basis == crate::policy::Basis::School,
                basis: policy.basis.as_str(),
                states,
            });
        }
        let children = match role {
            Some(renkei_directory::Role::Guardian) => {
                decisions.into_iter().map(|child| child.name).collect()
            }
            _ => Vec::new(),
        };
        Ok(DataUse { children, items })
    }
}

async fn keys(State(service): State<Arc<ConsentService>>) -> Response {
    let mut response = Json(service.keys.jwks().as_ref().clone()).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    response
}

async fn revoked(State(service): State<Arc<ConsentService>>) -> Result<Response> {
    let now = renkei_platform::clock::now();
    let revoked = service.store.revoked_capabilities(now).await?;
    let mut response = Json(json!({ "revoked": revoked, "as_of": now })).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
