//! Policies: which categories an app may read, for which schools, grades and classes, on
//! which basis, for what purpose; each change a new version with its history; and before
//! saving, a preview of exactly which pupils the app would see today and what would change.
//! A school administrator sees the policies reaching their school and sets only policies
//! within it; the pupils counted and listed are only their school's.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use renkei_consent::policy::{self, Basis, Policy, PolicyInput, Reach};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Console;
use crate::actor::{self, Actor};
use crate::error::{Error, Problem, Result};

/// How many pupils a preview lists by name at most (the counts are always complete).
pub const PREVIEW_LIST: usize = 500;

/// A policy as administrators write it.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyBody {
    /// The data category's id (`GET /admin/api/categories` lists them).
    pub category: String,
    /// `school` (the board's decision), `guardian` or `student` (their consent).
    pub basis: String,
    /// Schools covered (sourcedIds).
    #[serde(default)]
    pub schools: Vec<String>,
    /// Classes covered (sourcedIds).
    #[serde(default)]
    pub classes: Vec<String>,
    /// Grades covered, board-wide (P1–P6, J1–J3, H1–H3).
    #[serde(default)]
    pub grades: Vec<String>,
    /// 利用目的 (Japanese).
    #[serde(default)]
    pub purpose_ja: Option<String>,
    /// Purpose of use (English).
    #[serde(default)]
    pub purpose_en: Option<String>,
    /// The last day it holds (YYYY-MM-DD, Japan time), if it ends.
    #[serde(default)]
    pub valid_until: Option<String>,
    /// Why the board's duties cover special-care (class I) data without consent.
    #[serde(default)]
    pub justification: Option<String>,
}

/// The most schools, classes and grades one policy names, together.
const MAX_REACH: usize = 1000;

/// The longest purpose or justification, in characters.
const MAX_TEXT: usize = 2000;

impl PolicyBody {
    /// The operation's input, checked for size; the operation checks the rest.
    fn input(&self, client_id: &str, by: String) -> Result<PolicyInput> {
        let basis = Basis::parse(&self.basis)?;
        let reach: Vec<Reach> = self
            .schools
            .iter()
            .map(|id| Reach::School(id.trim().to_owned()))
            .chain(
                self.classes
                    .iter()
                    .map(|id| Reach::Class(id.trim().to_owned())),
            )
            .chain(
                self.grades
                    .iter()
                    .map(|g| Reach::Grade(g.trim().to_owned())),
            )
            .collect();
        if reach.len() > MAX_REACH {
            return Err(Error::Invalid(format!(
                "a policy names at most {MAX_REACH} schools, classes and grades together; this one names {}",
                reach.len()
            )));
        }
        let text = |value: &Option<String>, what: &str| -> Result<Option<String>> {
            match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                Some(v) if v.chars().count() > MAX_TEXT => Err(Error::Invalid(format!(
                    "the {what} is longer than {MAX_TEXT} characters"
                ))),
                other => Ok(other.map(str::to_owned)),
            }
        };
        Ok(PolicyInput {
            client_id: client_id.to_owned(),
            category_id: self.category.trim().to_owned(),
            basis,
            reach,
            purpose_ja: text(&self.purpose_ja, "Japanese purpose")?,
            purpose_en: text(&self.purpose_en, "English purpose")?,
            valid_until: self
                .valid_until
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|day| crate::api::end_of_day("valid_until", day))
                .transpose()?,
            justification: text(&self.justification, "justification")?,
            by,
        })
    }
}

/// What a policy covers, one part.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ReachPart {
    /// `school`, `class` or `grade`.
    pub kind: &'static str,
    /// The school's or class's sourcedId, or the grade code.
    pub id: String,
}

/// A stored policy version.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PolicyVersion {
    /// The data category.
    pub category: String,
    /// Its version (1, 2, …).
    pub version: i64,
    /// `school`, `guardian` or `student`.
    pub basis: &'static str,
    /// What it covers.
    pub reach: Vec<ReachPart>,
    /// 利用目的.
    pub purpose_ja: Option<String>,
    /// Purpose of use.
    pub purpose_en: Option<String>,
    /// When it ends (Unix seconds).
    pub valid_until: Option<i64>,
    /// The recorded justification.
    pub justification: Option<String>,
    /// When it was set (Unix seconds).
    pub set_at: i64,
    /// Who set it.
    pub set_by: String,
    /// Whether it is the latest version and not past its end.
    pub in_force: bool,
}

impl PolicyVersion {
    fn of(policy: &Policy, latest: bool, now: i64) -> Self {
        PolicyVersion {
            category: policy.category_id.clone(),
            version: policy.version,
            basis: policy.basis.as_str(),
            reach: policy
                .reach
                .iter()
                .map(|part| match part {
                    Reach::School(id) => ReachPart {
                        kind: "school",
                        id: id.clone(),
                    },
                    Reach::Class(id) => ReachPart {
                        kind: "class",
                        id: id.clone(),
                    },
                    Reach::Grade(id) => ReachPart {
                        kind: "grade",
                        id: id.clone(),
                    },
                })
                .collect(),
            purpose_ja: policy.purpose_ja.clone(),
            purpose_en: policy.purpose_en.clone(),
            valid_until: policy.valid_until,
            justification: policy.justification.clone(),
            set_at: policy.created_at,
            set_by: policy.created_by.clone(),
            in_force: latest && policy.in_force(now),
        }
    }
}

/// An app's policies: the latest version of each category, and every version.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AppPolicies {
    /// The latest version per category.
    pub latest: Vec<PolicyVersion>,
    /// Every version, by category, newest first.
    pub history: Vec<PolicyVersion>,
}

/// The policies of an app that the actor sees.
pub async fn of_app(console: &Console, actor: &Actor, client_id: &str) -> Result<AppPolicies> {
    crate::apps::find(console, client_id).await?;
    let now = renkei_platform::clock::now();
    let directory = console.idp.directory.as_ref();
    let mut latest = Vec::new();
    let mut history = Vec::new();
    let mut category: Option<String> = None;
    for version in console.consent.store.policy_versions(client_id).await? {
        // Versions come newest first per category: the first of each is the one that counts,
        // whether or not the actor sees it.
        let is_latest = category.as_deref() != Some(version.category_id.as_str());
        if is_latest {
            category = Some(version.category_id.clone());
        }
        if !actor.sees_policy(directory, &version.reach).await? {
            continue;
        }
        if is_latest {
            latest.push(PolicyVersion::of(&version, true, now));
        }
        history.push(PolicyVersion::of(&version, is_latest, now));
    }
    Ok(AppPolicies { latest, history })
}

/// The operation's input for `body`, after what the actor may do: a school administrator's
/// policy stays within their school, may not replace the board's policy reaching beyond it,
/// and provides no special-care data on the school's decision. Saving and previewing check
/// the same.
async fn checked_input(
    console: &Console,
    actor: &Actor,
    client_id: &str,
    body: &PolicyBody,
) -> Result<PolicyInput> {
    let input = body.input(client_id, actor.name.clone())?;
    crate::apps::find(console, client_id).await?;
    let directory = console.idp.directory.as_ref();
    actor.check_policy_reach(directory, &input.reach).await?;
    if let Some(current) = console
        .consent
        .store
        .latest_policy(client_id, &input.category_id)
        .await?
    {
        actor
            .check_policy_reach(directory, &current.reach)
            .await
            .map_err(|_| {
                Error::Forbidden(format!(
                    "this policy (version {}) reaches beyond your school; only the board may change it",
                    current.version
                ))
            })?;
    }
    if let Some(category) = console.consent.store.category(&input.category_id).await? {
        actor.check_special_care(category.is_highly_sensitive(), input.basis)?;
    }
    Ok(input)
}

/// Sets a new version of a policy (its reach within the actor's), audited by the operation.
pub async fn set(
    console: &Console,
    actor: &Actor,
    client_id: &str,
    body: &PolicyBody,
) -> Result<PolicyVersion> {
    let input = checked_input(console, actor, client_id, body).await?;
    let directory = console.idp.directory.as_ref();
    let now = renkei_platform::clock::now();
    let policy = policy::set(
        console.consent.store.as_ref(),
        directory,
        &console.audit,
        &actor.via(),
        input,
        now,
    )
    .await?;
    Ok(PolicyVersion::of(&policy, true, now))
}

/// A class's pupils in a preview.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ClassCount {
    /// The class's sourcedId (empty for pupils in no class).
    pub class_id: String,
    /// Its title.
    pub title: String,
    /// Pupils of the class the policy would reach.
    pub reached: usize,
    /// Of them, those the app would read.
    pub visible: usize,
    /// Of them, those waiting for consent.
    pub waiting: usize,
}

/// A pupil in a preview.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PreviewPupil {
    /// sourcedId.
    pub sourced_id: String,
    /// Name.
    pub name: String,
    /// Kana.
    pub kana: String,
    /// Their classes' titles.
    pub classes: Vec<String>,
    /// Whether the app would read them once saved.
    pub visible: bool,
    /// Whether the app reads them today.
    pub visible_today: bool,
}

/// What a policy would show its app, beside what the one in force shows.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PolicyPreview {
    /// The version in force, if any.
    pub current_version: Option<i64>,
    /// Pupils the app reads today under it.
    pub visible_today: usize,
    /// Pupils the proposed policy reaches.
    pub reached: usize,
    /// Of them, those the app would read once saved.
    pub visible: usize,
    /// Of them, those who would wait for a guardian's or the pupil's consent.
    pub waiting: usize,
    /// Pupils the app would start reading.
    pub added: usize,
    /// Pupils the app would stop reading.
    pub removed: usize,
    /// Saving makes a new version: consents given to the one in force must be given again.
    pub consents_start_over: bool,
    /// Per class.
    pub classes: Vec<ClassCount>,
    /// The pupils, by class and kana: at most [`PREVIEW_LIST`].
    pub pupils: Vec<PreviewPupil>,
    /// More pupils than listed.
    pub pupils_truncated: bool,
}

/// Previews a policy without saving it (the same checks as saving); audited as a read of the
/// pupils it lists.
pub async fn preview(
    console: &Console,
    actor: &Actor,
    client_id: &str,
    body: &PolicyBody,
) -> Result<PolicyPreview> {
    let input = checked_input(console, actor, client_id, body).await?;
    let directory = console.idp.directory.as_ref();
    let now = renkei_platform::clock::now();
    let seen = policy::preview(console.consent.store.as_ref(), directory, &input, now).await?;
    let own = actor.own_pupils(directory).await?;
    let mine = |set: &BTreeSet<String>| -> BTreeSet<String> {
        match &own {
            Some(own) => set.intersection(own).cloned().collect(),
            None => set.clone(),
        }
    };
    let today = seen
        .current
        .as_ref()
        .map(|(_, sight)| mine(&sight.visible))
        .unwrap_or_default();
    let reached = mine(&seen.proposed.reached);
    let visible = mine(&seen.proposed.visible);
    let everyone: Vec<String> = reached.union(&today).cloned().collect();
    let mut people = directory.people(&everyone).await?;
    people.sort_by(|a, b| {
        let first = |p: &renkei_directory::Person| p.classes.first().map(|c| c.title.clone());
        (first(a), &a.kana, &a.username).cmp(&(first(b), &b.kana, &b.username))
    });
    let mut classes: BTreeMap<(String, String), ClassCount> = BTreeMap::new();
    for person in &people {
        let Some(id) = &person.sourced_id else {
            continue;
        };
        if !reached.contains(id) {
            continue;
        }
        let shown = visible.contains(id);
        let homes: Vec<(String, String)> = if person.classes.is_empty() {
            vec![(String::new(), String::new())]
        } else {
            person
                .classes
                .iter()
                .map(|c| (c.title.clone(), c.id.clone()))
                .collect()
        };
        for (title, class_id) in homes {
            let count = classes
                .entry((title.clone(), class_id.clone()))
                .or_insert(ClassCount {
                    class_id,
                    title,
                    reached: 0,
                    visible: 0,
                    waiting: 0,
                });
            count.reached += 1;
            if shown {
                count.visible += 1;
            } else {
                count.waiting += 1;
            }
        }
    }
    let pupils: Vec<PreviewPupil> = people
        .iter()
        .filter_map(|person| {
            let id = person.sourced_id.clone()?;
            Some(PreviewPupil {
                visible: visible.contains(&id),
                visible_today: today.contains(&id),
                sourced_id: id,
                name: person.name.clone(),
                kana: person.kana.clone(),
                classes: person.classes.iter().map(|c| c.title.clone()).collect(),
            })
        })
        .collect();
    let listed: Vec<PreviewPupil> = pupils.iter().take(PREVIEW_LIST).cloned().collect();
    crate::read::audit(
        console,
        actor,
        listed.iter().map(|p| p.sourced_id.clone()).collect(),
        "policy preview: names, kana and classes of the pupils listed",
    );
    Ok(PolicyPreview {
        current_version: seen.current.as_ref().map(|(p, _)| p.version),
        visible_today: today.len(),
        reached: reached.len(),
        visible: visible.len(),
        waiting: reached.len() - visible.len(),
        added: visible.difference(&today).count(),
        removed: today.difference(&visible).count(),
        consents_start_over: seen.consents_start_over,
        classes: classes.into_values().collect(),
        pupils_truncated: pupils.len() > PREVIEW_LIST,
        pupils: listed,
    })
}

/// `GET /admin/api/apps/{client_id}/policies`.
#[utoipa::path(get, path = "/admin/api/apps/{client_id}/policies", tag = "policies",
    params(("client_id" = String, Path, description = "The app's client id")),
    responses((status = 200, body = AppPolicies), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_list(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(client_id): Path<String>,
) -> Result<Json<AppPolicies>> {
    let actor = actor::for_api(&console.idp, &headers, false).await?;
    Ok(Json(of_app(&console, &actor, &client_id).await?))
}

/// `PUT /admin/api/apps/{client_id}/policies`: a new version of the category's policy.
#[utoipa::path(put, path = "/admin/api/apps/{client_id}/policies", tag = "policies",
    params(("client_id" = String, Path, description = "The app's client id")),
    request_body = PolicyBody,
    responses((status = 200, body = PolicyVersion), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_set(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(client_id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<PolicyVersion>> {
    let actor = actor::for_api(&console.idp, &headers, true).await?;
    let body: PolicyBody = crate::api::json_body(&body)?;
    Ok(Json(set(&console, &actor, &client_id, &body).await?))
}

/// `POST /admin/api/apps/{client_id}/policies/preview`: what saving would show the app.
#[utoipa::path(post, path = "/admin/api/apps/{client_id}/policies/preview", tag = "policies",
    params(("client_id" = String, Path, description = "The app's client id")),
    request_body = PolicyBody,
    responses((status = 200, body = PolicyPreview), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_preview(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(client_id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<PolicyPreview>> {
    let actor = actor::for_api(&console.idp, &headers, true).await?;
    let body: PolicyBody = crate::api::json_body(&body)?;
    Ok(Json(preview(&console, &actor, &client_id, &body).await?))
}
