//! `/admin/security`: the sign-in rules per role (every administrator sees them; the board sets
//! them) and the signing keys with their rotation (the board's).

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use renkei_idp::pages::{Texts, filters, render, toggle_href};

use super::{Frame, Section, Visit, enter, enter_form, failure, lang_of};
use crate::Console;
use crate::assurance::{self, RuleBody};
use crate::keys::{self, KeyState};
use crate::upstreams::{self, Change, UpstreamBody, UpstreamView};

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

/// An upstream provider as listed.
struct UpstreamRow {
    name: String,
    label: String,
    issuer: String,
    schools: String,
    link_by: String,
    enabled: bool,
    redirect_uri: String,
}

/// The add form's fields, kept after a refusal (never the secret).
#[derive(Default)]
struct UpstreamForm {
    preset: String,
    name: String,
    issuer: String,
    client_id: String,
    tenant: String,
    domains: String,
    schools: String,
    link_by: String,
    label_ja: String,
    label_en: String,
    only: bool,
    trust_mfa: bool,
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
    notice: Option<String>,
    error: Option<String>,
    form: RuleBody,
    form_role: String,
    upstreams: Vec<UpstreamRow>,
    upstream_form: UpstreamForm,
    upstream_error: Option<String>,
}

/// What the page shows besides the lists: a notice, and a refused form with its problem.
#[derive(Default)]
struct Shown {
    notice: Option<String>,
    rule_error: Option<String>,
    rule: Option<(RuleBody, String)>,
    upstream: Option<(UpstreamForm, String)>,
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
        Some("upstream-changed") => Some(visit.c.upstream_changed),
        _ => None,
    };
    let shown = Shown {
        notice: notice.map(str::to_owned),
        ..Shown::default()
    };
    security_page(&console, visit, shown).await
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
            let shown = Shown {
                rule_error: Some(error.detail()),
                rule: Some((form, role)),
                ..Shown::default()
            };
            let mut response = security_page(&console, visit, shown).await;
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

/// `POST /admin/security/upstreams`: a new upstream provider.
pub async fn add_upstream(
    State(console): State<Console>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (visit, fields) = match enter_form(&console, &headers, &body, PATH).await {
        Ok(entered) => entered,
        Err(refused) => return refused,
    };
    let form = UpstreamForm {
        preset: fields.get("preset"),
        name: fields.get("name"),
        issuer: fields.get("issuer"),
        client_id: fields.get("client_id"),
        tenant: fields.get("tenant"),
        domains: fields.get("allowed_domains"),
        schools: fields.get("schools"),
        link_by: fields.get("link_by"),
        label_ja: fields.get("label_ja"),
        label_en: fields.get("label_en"),
        only: !fields.get("only").is_empty(),
        trust_mfa: !fields.get("trust_mfa").is_empty(),
    };
    let given = |text: &str| Some(text.trim().to_owned()).filter(|t| !t.is_empty());
    let words = |text: &str| text.split_whitespace().map(str::to_owned).collect();
    let body = UpstreamBody {
        name: form.name.trim().to_owned(),
        preset: given(&form.preset),
        issuer: given(&form.issuer),
        client_id: form.client_id.clone(),
        client_secret: fields.get("client_secret"),
        scopes: Vec::new(),
        allowed_domains: words(&form.domains),
        tenant: given(&form.tenant),
        schools: words(&form.schools),
        link_by: given(&form.link_by),
        label_ja: given(&form.label_ja),
        label_en: given(&form.label_en),
        only: form.only,
        trust_mfa: form.trust_mfa,
    };
    match upstreams::add(&console, &visit.actor, body).await {
        Ok(added) => {
            let mut notice = visit.c.upstream_added.to_owned();
            if added.discovery != "ok" {
                notice.push_str(visit.c.upstream_discovery_failed);
            }
            let shown = Shown {
                notice: Some(notice),
                ..Shown::default()
            };
            security_page(&console, visit, shown).await
        }
        Err(error) => {
            let (status, _, _) = error.classify();
            if status == StatusCode::INTERNAL_SERVER_ERROR || status == StatusCode::FORBIDDEN {
                return failure(error);
            }
            let shown = Shown {
                upstream: Some((form, error.detail())),
                ..Shown::default()
            };
            let mut response = security_page(&console, visit, shown).await;
            *response.status_mut() = status;
            response
        }
    }
}

/// `POST /admin/security/upstreams/{name}/{change}`: switch off, on, or remove.
pub async fn change_upstream(
    State(console): State<Console>,
    headers: HeaderMap,
    Path((name, verb)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let (visit, _) = match enter_form(&console, &headers, &body, PATH).await {
        Ok(entered) => entered,
        Err(refused) => return refused,
    };
    let change = match verb.as_str() {
        "disable" => Change::Disable,
        "enable" => Change::Enable,
        "remove" => Change::Remove,
        other => {
            return failure(crate::Error::NotFound(format!(
                "no action {other:?}: use disable, enable or remove"
            )));
        }
    };
    match upstreams::change(&console, &visit.actor, &name, change).await {
        Ok(()) => visit.notice_after(&console, PATH, "upstream-changed"),
        Err(error) => failure(error),
    }
}

async fn security_page(console: &Console, visit: Visit, shown: Shown) -> Response {
    let c = visit.c;
    let locale = visit.locale;
    let board = visit.actor.school().is_none();
    let loaded = async {
        let rules = assurance::rules(console, &visit.actor).await?;
        let (keys, upstreams) = if board {
            (
                keys::list(console, &visit.actor).await?,
                upstreams::list(console, &visit.actor).await?,
            )
        } else {
            (Vec::new(), Vec::new())
        };
        Ok::<_, crate::Error>((rules, keys, upstreams))
    };
    let (rules, keys, upstreams) = match loaded.await {
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
        upstreams: upstreams
            .into_iter()
            .map(|u: UpstreamView| UpstreamRow {
                label: match locale {
                    renkei_idp::pages::Locale::Ja => u.label_ja,
                    renkei_idp::pages::Locale::En => u.label_en,
                },
                schools: if u.schools.is_empty() {
                    c.upstream_whole_board.to_owned()
                } else {
                    format!(
                        "{}{}",
                        u.schools.join(c.list_separator),
                        if u.only { c.upstream_only_mark } else { "" }
                    )
                },
                name: u.name,
                issuer: u.issuer,
                link_by: match u.link_by.as_str() {
                    "email" => c.link_by_email.to_owned(),
                    "subject" => c.link_by_subject.to_owned(),
                    other => other.to_owned(),
                },
                enabled: u.enabled,
                redirect_uri: u.redirect_uri,
            })
            .collect(),
        notice: shown.notice,
        error: shown.rule_error,
        form: shown
            .rule
            .as_ref()
            .map(|r| r.0.clone())
            .unwrap_or(RuleBody {
                require: "passkey".into(),
                grace_until: None,
            }),
        form_role: shown.rule.map(|r| r.1).unwrap_or_else(|| "teacher".into()),
        upstream_error: shown.upstream.as_ref().map(|u| u.1.clone()),
        upstream_form: shown.upstream.map(|u| u.0).unwrap_or(UpstreamForm {
            preset: "google".into(),
            link_by: "email".into(),
            ..UpstreamForm::default()
        }),
    };
    visit.respond(render(&page))
}
