//! The rostering endpoints. Each read: verify the capability (extractor), require the
//! category, keep only the children the token covers (also in counts), drop fields of
//! categories it lacks, and audit the read.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::response::{IntoResponse, Response};
use renkei_consent::capability::verify::{Capability, Child};
use serde_json::{Value, json};

use crate::Gateway;
use crate::audit::AuditEvent;
use crate::error::{Error, Result};
use crate::paging::{Params, by_sourced_id};
use crate::store::{Members, Record};

/// Names, classes and enrollments.
pub const ROSTER_CORE: &str = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly";
/// The roster with contact data.
pub const ROSTER: &str = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster.readonly";

/// User fields that are contact data (category [`ROSTER`]).
const CONTACT_FIELDS: [&str; 4] = ["email", "sms", "phone", "userIds"];

/// A record as served: stored JSON with status and dateLastModified from the columns.
fn served(record: &Record) -> Value {
    let mut value: Value = serde_json::from_str(&record.data).unwrap_or_else(|_| json!({}));
    if let Value::Object(object) = &mut value {
        object.insert("sourcedId".into(), json!(record.sourced_id));
        object.insert("status".into(), json!(record.status));
        object.insert("dateLastModified".into(), json!(record.date_last_modified));
    }
    value
}

/// The users among `members` that the capability lets the app read under roster-core, as
/// served (contact fields only with the roster category).
async fn readable_users(
    gateway: &Gateway,
    capability: &Capability,
    members: &Members,
) -> Result<Vec<(String, Value)>> {
    let users = gateway.store.users(members).await?;
    let mut schools: HashMap<String, Vec<String>> = HashMap::new();
    let mut classes: HashMap<String, Vec<String>> = HashMap::new();
    for row in gateway.store.placements(members).await? {
        if let Some(school) = row.school_id {
            schools.entry(row.user_id.clone()).or_default().push(school);
        }
        if let Some(class) = row.class_id {
            classes.entry(row.user_id).or_default().push(class);
        }
    }
    let contact = capability.has_category(ROSTER);
    let none = Vec::new();
    let mut readable = Vec::new();
    for user in users {
        let child = Child {
            id: &user.sourced_id,
            schools: schools.get(&user.sourced_id).unwrap_or(&none),
            classes: classes.get(&user.sourced_id).unwrap_or(&none),
        };
        if !capability.may_read_child(ROSTER_CORE, &child) {
            continue;
        }
        let mut value = served(&user);
        if !(contact && capability.may_read_child(ROSTER, &child))
            && let Value::Object(object) = &mut value
        {
            for field in CONTACT_FIELDS {
                object.remove(field);
            }
        }
        readable.push((user.sourced_id, value));
    }
    Ok(readable)
}

/// Audits and answers a read; refusals are audited too.
async fn audited(
    gateway: &Gateway,
    capability: Option<&Capability>,
    endpoint: String,
    read: impl std::future::Future<Output = Result<(Response, Vec<String>)>>,
) -> Response {
    let outcome = read.await;
    let (outcome_word, detail, children, response) = match outcome {
        Ok((response, children)) => ("allowed", None, children, response),
        Err(error) => {
            let detail = Some(error.to_string());
            ("refused", detail, Vec::new(), error.into_response())
        }
    };
    gateway.audit.record(AuditEvent {
        at: renkei_idp::crypto::now(),
        kind: "read".into(),
        client_id: capability.map(|c| c.client_id.clone()),
        token_id: capability.map(|c| c.token_id.clone()),
        categories: vec![ROSTER_CORE.into()],
        records: children.len() as i64,
        children,
        endpoint,
        outcome: outcome_word.into(),
        detail,
    });
    response
}

fn require_core(capability: &Capability) -> Result<()> {
    if capability.has_category(ROSTER_CORE) {
        Ok(())
    } else {
        Err(Error::Capability(renkei_consent::Error::InsufficientScope(
            ROSTER_CORE.into(),
        )))
    }
}

fn collection(
    key: &str,
    users: Vec<(String, Value)>,
    params: &Params,
    base: &str,
) -> Result<(Response, Vec<String>)> {
    let mut records: Vec<Value> = users.into_iter().map(|(_, v)| v).collect();
    records.sort_by(by_sourced_id);
    let page = params.apply(records, base)?;
    let children = page.ids;
    let mut response = Json(json!({ key: page.records })).into_response();
    response.headers_mut().extend(page.headers);
    Ok((response, children))
}

/// The class's structure is in the token's scope.
async fn class_in_scope(gateway: &Gateway, capability: &Capability, id: &str) -> Result<Record> {
    let class = gateway
        .store
        .class(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no class {id}")))?;
    let schools: Vec<String> = class.school_id.iter().cloned().collect();
    if !capability.may_read_structure(ROSTER_CORE, &schools, &[id.to_owned()]) {
        return Err(Error::NotFound(format!("no class {id}")));
    }
    Ok(class)
}

fn base_url(uri: &OriginalUri) -> String {
    uri.path().to_owned()
}

/// `GET /classes/{id}`.
pub async fn class(
    State(gateway): State<Gateway>,
    capability: Capability,
    Path(id): Path<String>,
    uri: OriginalUri,
) -> Response {
    audited(
        &gateway,
        Some(&capability),
        format!("GET {}", uri.path()),
        async {
            require_core(&capability)?;
            let class = class_in_scope(&gateway, &capability, &id).await?;
            Ok((
                Json(json!({ "class": served(&class) })).into_response(),
                Vec::new(),
            ))
        },
    )
    .await
}

/// Lists the students of `scopes` the token covers (after checking that `class`, if given,
/// lies in the token's scope): the body of every students collection.
async fn list_students(
    gateway: &Gateway,
    capability: &Capability,
    uri: &OriginalUri,
    params: &Params,
    class: Option<&str>,
    scopes: Vec<Members>,
) -> Response {
    audited(
        gateway,
        Some(capability),
        format!("GET {}", uri.path()),
        async {
            require_core(capability)?;
            if let Some(id) = class {
                class_in_scope(gateway, capability, id).await?;
            }
            let mut users = Vec::new();
            for members in &scopes {
                users.extend(readable_users(gateway, capability, members).await?);
            }
            users.sort_by(|a, b| a.0.cmp(&b.0));
            users.dedup_by(|a, b| a.0 == b.0);
            collection("users", users, params, &base_url(uri))
        },
    )
    .await
}

/// `GET /classes/{id}/students`.
pub async fn class_students(
    State(gateway): State<Gateway>,
    capability: Capability,
    Path(id): Path<String>,
    Query(params): Query<Params>,
    uri: OriginalUri,
) -> Response {
    let scopes = vec![Members::Class(id.clone())];
    list_students(&gateway, &capability, &uri, &params, Some(&id), scopes).await
}

/// `GET /schools/{id}/students`.
pub async fn school_students(
    State(gateway): State<Gateway>,
    capability: Capability,
    Path(id): Path<String>,
    Query(params): Query<Params>,
    uri: OriginalUri,
) -> Response {
    list_students(
        &gateway,
        &capability,
        &uri,
        &params,
        None,
        vec![Members::School(id)],
    )
    .await
}

/// `GET /students`: every student the token lets the app read, across its schools and classes.
pub async fn students(
    State(gateway): State<Gateway>,
    capability: Capability,
    Query(params): Query<Params>,
    uri: OriginalUri,
) -> Response {
    let scopes = capability
        .schools
        .iter()
        .map(|s| Members::School(s.clone()))
        .chain(capability.classes.iter().map(|c| Members::Class(c.clone())))
        .collect();
    list_students(&gateway, &capability, &uri, &params, None, scopes).await
}

async fn one(
    gateway: &Gateway,
    capability: &Capability,
    id: String,
    role_filter: Option<&str>,
) -> Result<(Response, Vec<String>)> {
    require_core(capability)?;
    let mut users = readable_users(gateway, capability, &Members::One(id.clone())).await?;
    let (child, user) = users
        .pop()
        .ok_or_else(|| Error::NotFound(format!("no user {id}")))?;
    if role_filter == Some("student")
        && user
            .get("role")
            .and_then(Value::as_str)
            .is_some_and(|r| r != "student")
    {
        return Err(Error::NotFound(format!("no student {id}")));
    }
    Ok((Json(json!({ "user": user })).into_response(), vec![child]))
}

/// `GET /students/{id}`.
pub async fn student(
    State(gateway): State<Gateway>,
    capability: Capability,
    Path(id): Path<String>,
    uri: OriginalUri,
) -> Response {
    audited(
        &gateway,
        Some(&capability),
        format!("GET {}", uri.path()),
        one(&gateway, &capability, id, Some("student")),
    )
    .await
}

/// `GET /users/{id}`.
pub async fn user(
    State(gateway): State<Gateway>,
    capability: Capability,
    Path(id): Path<String>,
    uri: OriginalUri,
) -> Response {
    audited(
        &gateway,
        Some(&capability),
        format!("GET {}", uri.path()),
        one(&gateway, &capability, id, None),
    )
    .await
}
