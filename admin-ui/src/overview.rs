//! The dashboard: the schools, people by role, apps, the last roster imports, consent coverage
//! (for each app and category, how many pupils it may read and how many wait for consent), and
//! recent audit events: within what the actor reaches.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use renkei_consent::policy::{self, Basis};
use serde::Serialize;
use utoipa::ToSchema;

use crate::Console;
use crate::actor::{self, Actor};
use crate::error::{Problem, Result};

/// A school.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct School {
    /// sourcedId.
    pub id: String,
    /// Name.
    pub name: String,
}

/// How many enabled accounts a role has.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RoleCount {
    /// The role.
    pub role: String,
    /// Accounts.
    pub count: i64,
}

/// A roster import.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Import {
    /// When it ended (Unix seconds).
    pub finished_at: i64,
    /// `applied`, `dry-run`, `rejected` or `held` (waiting for confirmation of a mass change).
    pub outcome: String,
    /// Who ran it.
    pub actor: String,
    /// Whether it waits for confirmation of a mass change.
    pub held: bool,
}

/// What an app reads of one category.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Coverage {
    /// The app.
    pub client_id: String,
    /// Its name.
    pub app_name: String,
    /// The category.
    pub category: String,
    /// Its name in Japanese.
    pub category_ja: String,
    /// Its name in English.
    pub category_en: String,
    /// The basis.
    pub basis: &'static str,
    /// Pupils the policy reaches.
    pub reached: usize,
    /// Pupils the app may read.
    pub visible: usize,
    /// Pupils waiting for consent.
    pub waiting: usize,
}

/// The dashboard.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Overview {
    /// What the reader administers: `board`, or the school's id.
    pub administers: String,
    /// The schools within it.
    pub schools: Vec<School>,
    /// Enabled accounts by role.
    pub people: Vec<RoleCount>,
    /// Registered apps.
    pub apps: usize,
    /// The latest roster imports, newest first (board administrators).
    pub imports: Vec<Import>,
    /// Consent coverage per app and category in force.
    pub coverage: Vec<Coverage>,
    /// The latest audit events the reader may see.
    pub recent: Vec<crate::audit::EventView>,
    /// The signing keys and their state (board administrators; empty otherwise).
    pub keys: Vec<crate::keys::KeyView>,
}

/// The dashboard for `actor`.
pub async fn overview(console: &Console, actor: &Actor) -> Result<Overview> {
    let directory = console.idp.directory.as_ref();
    let schools: Vec<School> = directory
        .schools()
        .await?
        .into_iter()
        .filter(|org| actor.reaches_school(&org.id))
        .map(|org| School {
            id: org.id,
            name: org.name,
        })
        .collect();
    let mut people: Vec<RoleCount> = directory
        .people_by_role(actor.school())
        .await?
        .into_iter()
        .map(|(role, count)| RoleCount { role, count })
        .collect();
    people.sort_by_key(|r| renkei_directory::Role::parse(&r.role));
    let clients = console.idp.store.clients().await?;
    let imports = if actor.school().is_none() {
        directory
            .recent_imports(5)
            .await?
            .into_iter()
            .map(|record| Import {
                finished_at: record.finished_at,
                held: record.outcome == "held",
                outcome: record.outcome,
                actor: record.actor,
            })
            .collect()
    } else {
        Vec::new()
    };
    let own = actor.own_pupils(directory).await?;
    let categories = console.consent.store.categories().await?;
    let now = renkei_platform::clock::now();
    let mut coverage = Vec::new();
    for (client, current) in crate::apps::policies_in_force(console, &clients, now).await? {
        if !actor.sees_policy(directory, &current.reach).await? {
            continue;
        }
        let sight = policy::sight(console.consent.store.as_ref(), directory, &current, now).await?;
        let count = |set: &BTreeSet<String>| match &own {
            Some(own) => set.intersection(own).count(),
            None => set.len(),
        };
        let reached = count(&sight.reached);
        let visible = count(&sight.visible);
        let category = categories.iter().find(|c| c.id == current.category_id);
        coverage.push(Coverage {
            client_id: client.id.clone(),
            app_name: client.name.clone(),
            category_ja: category.map(|c| c.name_ja.clone()).unwrap_or_default(),
            category_en: category.map(|c| c.name_en.clone()).unwrap_or_default(),
            category: current.category_id.clone(),
            basis: current.basis.as_str(),
            reached,
            visible,
            waiting: if current.basis == Basis::School {
                0
            } else {
                reached - visible
            },
        });
    }
    let recent = crate::audit::find(
        console,
        actor,
        &crate::audit::Search {
            limit: Some(10),
            ..Default::default()
        },
    )
    .await?
    .events;
    let keys = match actor.school() {
        None => crate::keys::list(console, actor).await?,
        Some(_) => Vec::new(),
    };
    Ok(Overview {
        keys,
        administers: actor.school().unwrap_or("board").to_owned(),
        schools,
        people,
        apps: clients.len(),
        imports,
        coverage,
        recent,
    })
}

/// `GET /admin/api/overview`.
#[utoipa::path(get, path = "/admin/api/overview", tag = "overview",
    responses((status = 200, body = Overview), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_overview(
    State(console): State<Console>,
    headers: HeaderMap,
) -> Result<Json<Overview>> {
    let actor = actor::for_api(&console.idp, &headers, false).await?;
    Ok(Json(overview(&console, &actor).await?))
}
