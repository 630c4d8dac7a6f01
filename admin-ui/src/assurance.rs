//! The board's sign-in rules per role (MEXT's guideline: staff reaching class II data and above
//! sign in with more than a password): what each role must use, with a grace period in which a
//! password sign-in is followed by a request to register a passkey. Every administrator sees
//! them; the board sets them, through the provider's operation (audited), as the command
//! line's `renkei assurance set` does.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use renkei_idp::assurance::{self, Requirement, Rule};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Console;
use crate::actor::{self, Actor};
use crate::error::{Problem, Result};

/// The roles a rule is set for, staff first.
pub const ROLES: [&str; 4] = ["teacher", "administrator", "guardian", "student"];

/// A role's rule.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RuleView {
    /// The role.
    pub role: String,
    /// `passkey` (a password alone does not count) or `password` (any method).
    pub require: String,
    /// The last day (YYYY-MM-DD, Japan) on which a password still counts, if any.
    pub grace_until: Option<String>,
    /// When it was set (Unix seconds); absent for a role with no rule (any method counts).
    pub set_at: Option<i64>,
    /// Who set it.
    pub set_by: Option<String>,
}

/// A rule to set.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct RuleBody {
    /// `passkey` or `password`.
    pub require: String,
    /// With `passkey`: the last day (YYYY-MM-DD, Japan) on which a password still counts.
    pub grace_until: Option<String>,
}

impl From<Rule> for RuleView {
    fn from(rule: Rule) -> Self {
        RuleView {
            role: rule.role,
            require: rule.require.as_str().to_owned(),
            grace_until: rule.grace_until,
            set_at: Some(rule.set_at),
            set_by: Some(rule.set_by),
        }
    }
}

/// Every role's rule (a role without one: any method counts).
pub async fn rules(console: &Console, _actor: &Actor) -> Result<Vec<RuleView>> {
    let set = assurance::show(console.idp.store.as_ref()).await?;
    Ok(ROLES
        .iter()
        .map(|role| match set.iter().find(|rule| rule.role == *role) {
            Some(rule) => RuleView::from(rule.clone()),
            None => RuleView {
                role: (*role).to_owned(),
                require: Requirement::Password.as_str().to_owned(),
                grace_until: None,
                set_at: None,
                set_by: None,
            },
        })
        .collect())
}

/// Sets a role's rule; board administrators only.
pub async fn set(
    console: &Console,
    actor: &Actor,
    role: &str,
    body: &RuleBody,
) -> Result<RuleView> {
    actor.board_only("set the sign-in rules")?;
    actor.in_person("sets the sign-in rules")?;
    let require = Requirement::parse(&body.require)?;
    let grace = body.grace_until.as_deref().filter(|day| !day.is_empty());
    let rule = assurance::set(
        console.idp.store.as_ref(),
        &console.audit,
        &actor.via(),
        role,
        require,
        grace,
    )
    .await?;
    Ok(rule.into())
}

/// `GET /admin/api/assurance`.
#[utoipa::path(get, path = "/admin/api/assurance", tag = "security",
    responses((status = 200, body = [RuleView]), (status = 403, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_rules(
    State(console): State<Console>,
    headers: HeaderMap,
) -> Result<Json<Vec<RuleView>>> {
    let actor = actor::for_api(&console.idp, &headers, false).await?;
    Ok(Json(rules(&console, &actor).await?))
}

/// `PUT /admin/api/assurance/{role}`.
#[utoipa::path(put, path = "/admin/api/assurance/{role}", tag = "security",
    params(("role" = String, Path, description = "teacher, administrator, guardian or student")),
    request_body = RuleBody,
    responses((status = 200, body = RuleView), (status = 400, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_set(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(role): Path<String>,
    body: Bytes,
) -> Result<Json<RuleView>> {
    let actor = actor::for_api(&console.idp, &headers, true).await?;
    let body: RuleBody = crate::api::json_body(&body)?;
    Ok(Json(set(&console, &actor, &role, &body).await?))
}
