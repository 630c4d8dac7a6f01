//! People: search the board's people by name, kana, username, class, school and role; a
//! school administrator searches their own school only.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use renkei_directory::{PeopleQuery, Person};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::Console;
use crate::actor::{self, Actor};
use crate::error::{Error, Problem, Result};

/// How many people a page lists unless asked otherwise.
pub const PAGE: u32 = 50;

/// A search.
#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
pub struct Search {
    /// Part of a name, its kana, or a username.
    #[serde(default)]
    pub q: String,
    /// Only this school (a school administrator's own school always).
    pub school: Option<String>,
    /// Only this class.
    pub class: Option<String>,
    /// Only this role: student, teacher, guardian, administrator.
    pub role: Option<String>,
    /// How many to skip.
    #[serde(default)]
    pub offset: u32,
    /// How many (1–200, default 50).
    pub limit: Option<u32>,
}

/// A person as listed.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PersonView {
    /// The account's id.
    pub account_id: String,
    /// The roster's sourcedId.
    pub sourced_id: Option<String>,
    /// Sign-in name.
    pub username: String,
    /// Role.
    pub role: String,
    /// Name (family name first).
    pub name: String,
    /// Kana.
    pub kana: String,
    /// Primary school.
    pub school_id: Option<String>,
    /// Grade code.
    pub grade: Option<String>,
    /// Whether the account may sign in.
    pub enabled: bool,
    /// Titles of the classes the person is enrolled in as a pupil.
    pub classes: Vec<String>,
}

impl From<Person> for PersonView {
    fn from(person: Person) -> Self {
        PersonView {
            account_id: person.account_id,
            sourced_id: person.sourced_id,
            username: person.username,
            role: person.role,
            name: person.name,
            kana: person.kana,
            school_id: person.school_id,
            grade: person.grade,
            enabled: person.enabled,
            classes: person.classes.into_iter().map(|c| c.title).collect(),
        }
    }
}

/// A page of people.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PeoplePage {
    /// The people.
    pub people: Vec<PersonView>,
    /// The offset of the next page, if there may be one.
    pub next_offset: Option<u32>,
}

/// Searches within what the actor reaches; audited as a read of the people listed.
pub async fn search(console: &Console, actor: &Actor, search: &Search) -> Result<PeoplePage> {
    let school = match (actor.school(), &search.school) {
        (Some(own), Some(asked)) if own != asked => {
            return Err(Error::Forbidden(format!(
                "you administer school {own:?}, not {asked:?}"
            )));
        }
        (Some(own), _) => Some(own.to_owned()),
        (None, asked) => asked.clone().filter(|s| !s.is_empty()),
    };
    if let Some(role) = &search.role
        && !role.is_empty()
        && renkei_directory::Role::parse(role).is_none()
    {
        return Err(Error::Invalid(format!(
            "unknown role {role:?}; use one of {}",
            renkei_directory::Role::names()
        )));
    }
    let limit = search
        .limit
        .unwrap_or(PAGE)
        .clamp(1, renkei_directory::people::MAX_PAGE);
    let people = console
        .idp
        .directory
        .search_people(&PeopleQuery {
            text: search.q.clone(),
            school,
            class: search.class.clone().filter(|c| !c.is_empty()),
            role: search.role.clone().filter(|r| !r.is_empty()),
            offset: search.offset,
            limit,
        })
        .await?;
    let full = people.len() as u32 == limit;
    crate::read::audit(
        console,
        actor,
        people.iter().filter_map(|p| p.sourced_id.clone()).collect(),
        "people search: names, kana, usernames, roles and classes",
    );
    Ok(PeoplePage {
        next_offset: full.then(|| search.offset.saturating_add(limit)),
        people: people.into_iter().map(PersonView::from).collect(),
    })
}

/// `GET /admin/api/people`.
#[utoipa::path(get, path = "/admin/api/people", tag = "people", params(Search),
    responses((status = 200, body = PeoplePage), (status = 400, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_search(
    State(console): State<Console>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<PeoplePage>> {
    let actor = actor::for_api(&console.idp, &headers, false).await?;
    let query: Search = crate::api::query(query.as_deref())?;
    Ok(Json(search(&console, &actor, &query).await?))
}
