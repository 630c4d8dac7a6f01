//! `/admin/security`: the sign-in rules per role (every administrator sees them; the board sets
//! them) and the signing keys with their rotation (the board's).

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use renkei_idp::pages::{Texts, filters, render, toggle_href};

use super::{Frame, Section, Visit, enter, enter_form, failure, lang_of};
use crate::Console;
use crate::assurance::{self, RuleBody};
use crate::keys::{self, KeyState};

/// The page's path.
const PATH: &str = "/admin/security";

/// A rule as listed.
struct RuleRow {
    role: &'static str,
    require: &'static str,
    grace_until: String,
    set: String,
}

/// A key as listed.
struct KeyRow {
    purpose: &'static str,
    kid: String,
    alg: String,
    created: String,
    signs_from: String,
    state: &'static str,
}

#[derive(Template)]
#[template(path = "admin_security.html")]
struct SecurityPage {
    t: &'static Texts,
    toggle_href: String,
    f: Frame,
    board: bool,
    rules: Vec<RuleRow>,
    roles: Vec<(&'static str, &'static str)>,
    keys: Vec<KeyRow>,
    notice: Option<&'static str>,
    error: Option<String>,
    form: RuleBody,
    form_role: String,
}

/// `GET /admin/security`.
pub async fn page(
    State(console): State<Console>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let mut visit = match enter(&console, &headers, lang_of(raw.as_deref()).as_deref(), PATH).await
    {
        Ok(visit) => visit,
        Err(refused) => return refused,
    };
    let (word, clear) = renkei_idp::notice::take(&console.idp, &headers);
    visit.cookies.extend(clear);
    let notice = match word.as_deref() {
        Some("rule-set") => Some(visit.c.rule_saved),
        Some("keys-rotated") => Some(visit.c.keys_rotated),
        _ => None,
    };
    let form = RuleBody {
        require: "passkey".into(),
        grace_until: None,
    };
    security_page(&console, visit, notice, None, form, "teacher".into()).await
}

/// `POST /admin/security/assurance`: a role's rule set.
pub async fn set_rule(State(console): State<Console>, headers: HeaderMap, body: Bytes) -> Response {
    let (visit, fields) = match enter_form(&console, &headers, &body, PATH).await {
        Ok(entered) => entered,
        Err(refused) => return refused,
    };
    let role = fields.get("role");
    let form = RuleBody {
        require: fields.get("require"),
        grace_until: Some(fields.get("grace_until")).filter(|day| !day.is_empty()),
    };
    match assurance::set(&console, &visit.actor, &role, &form).await {
        Ok(_) => visit.notice_after(&console, PATH, "rule-set"),
        Err(error) => {
            let (status, _, _) = error.classify();
            if status == StatusCode::INTERNAL_SERVER_ERROR || status == StatusCode::FORBIDDEN {
                return failure(error);
            }
            let mut response =
                security_page(&console, visit, None, Some(error.detail()), form, role).await;
            *response.status_mut() = status;
            response
        }
    }
}

/// `POST /admin/security/keys/rotate`.
pub async fn rotate_keys(
    State(console): State<Console>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (visit, _) = match enter_form(&console, &headers, &body, PATH).await {
        Ok(entered) => entered,
        Err(refused) => return refused,
    };
    match keys::rotate(&console, &visit.actor).await {
        Ok(_) => visit.notice_after(&console, PATH, "keys-rotated"),
        Err(error) => failure(error),
    }
}

async fn security_page(
    console: &Console,
    visit: Visit,
    notice: Option<&'static str>,
    error: Option<String>,
    form: RuleBody,
    form_role: String,
) -> Response {
    let c = visit.c;
    let locale = visit.locale;
    let board = visit.actor.school().is_none();
    let loaded = async {
        let rules = assurance::rules(console, &visit.actor).await?;
        let keys = if board {
            keys::list(console, &visit.actor).await?
        } else {
            Vec::new()
        };
        Ok::<_, crate::Error>((rules, keys))
    };
    let (rules, keys) = match loaded.await {
        Ok(loaded) => loaded,
        Err(error) => return failure(error),
    };
    let page = SecurityPage {
        t: visit.t,
        toggle_href: toggle_href(visit.t, PATH, &[]),
        f: visit.frame(console, Section::Security).await,
        board,
        rules: rules
            .into_iter()
            .map(|rule| RuleRow {
                role: c.role(&rule.role),
                require: c.requirement(&rule.require),
                grace_until: rule
                    .grace_until
                    .as_deref()
                    .and_then(renkei_platform::clock::end_of_day_in_japan)
                    .map(|end| locale.date(end))
                    .unwrap_or_default(),
                set: match (rule.set_at, rule.set_by) {
                    (Some(at), Some(by)) => format!("{}{}{by}", locale.date(at), c.list_separator),
                    _ => String::new(),
                },
            })
            .collect(),
        roles: assurance::ROLES.iter().map(|r| (*r, c.role(r))).collect(),
        keys: keys
            .into_iter()
            .map(|key| KeyRow {
                purpose: if key.purpose == "capability" {
                    c.key_capability
                } else {
                    c.key_tokens
                },
                kid: key.kid,
                alg: key.alg,
                created: locale.date_time(key.created_at),
                signs_from: locale.date_time(key.signs_from),
                state: match key.state {
                    KeyState::Waiting => c.key_waiting,
                    KeyState::Signing => c.key_signing,
                    KeyState::Retired => c.key_retired,
                },
            })
            .collect(),
        notice,
        error,
        form,
        form_role,
    };
    visit.respond(render(&page))
}
