//! What the console's forms choose from: the schools and classes the actor reaches, the data
//! categories, the grades.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::Serialize;
use utoipa::ToSchema;

use crate::Console;
use crate::actor::{self, Actor};
use crate::error::{Problem, Result};

/// A class.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Class {
    /// sourcedId.
    pub id: String,
    /// Title, e.g. 1年1組.
    pub title: String,
}

/// A school and its classes.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SchoolClasses {
    /// sourcedId.
    pub id: String,
    /// Name.
    pub name: String,
    /// Its active classes.
    pub classes: Vec<Class>,
}

/// A data category.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Category {
    /// Its id (a OneRoster scope or `urn:renkei:…`).
    pub id: String,
    /// Name in Japanese.
    pub name_ja: String,
    /// Name in English.
    pub name_en: String,
    /// Special-care information (class I): guardian consent, or the board's recorded
    /// justification.
    pub special_care: bool,
}

/// What the forms choose from.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Reference {
    /// Schools and classes within the actor's reach.
    pub schools: Vec<SchoolClasses>,
    /// Data categories.
    pub categories: Vec<Category>,
    /// Grade codes (a policy by grade is board-wide).
    pub grades: Vec<&'static str>,
}

/// The schools, classes, categories and grades for `actor`.
pub async fn reference(console: &Console, actor: &Actor) -> Result<Reference> {
    let directory = console.idp.directory.as_ref();
    let mut schools = Vec::new();
    for org in directory.schools().await? {
        if !actor.reaches_school(&org.id) {
            continue;
        }
        let classes = directory
            .classes_of_school(&org.id)
            .await?
            .into_iter()
            .map(|c| Class {
                id: c.id,
                title: c.title,
            })
            .collect();
        schools.push(SchoolClasses {
            id: org.id,
            name: org.name,
            classes,
        });
    }
    let categories = console
        .consent
        .store
        .categories()
        .await?
        .into_iter()
        .map(|c| Category {
            special_care: c.is_highly_sensitive(),
            id: c.id,
            name_ja: c.name_ja,
            name_en: c.name_en,
        })
        .collect();
    Ok(Reference {
        schools,
        categories,
        grades: renkei_directory::import::schema::GRADES.to_vec(),
    })
}

/// `GET /admin/api/reference`.
#[utoipa::path(get, path = "/admin/api/reference", tag = "overview",
    responses((status = 200, body = Reference), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_reference(
    State(console): State<Console>,
    headers: HeaderMap,
) -> Result<Json<Reference>> {
    let actor = actor::for_api(&console.idp, &headers, false).await?;
    Ok(Json(reference(&console, &actor).await?))
}
