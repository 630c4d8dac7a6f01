//! `/account`: for each child the signed-in guardian decides for (a pupil: themself), what each
//! app may read under a policy that needs their consent, its state, one button to agree or
//! withdraw, and the child's read history in words.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use renkei_consent::record::{self, Action, ConsentInput};
use renkei_directory::Role;
use renkei_idp::pages::{Locale, Texts, filters, render, toggle_href};
use renkei_idp::store::UserRow;
use serde::Deserialize;

use crate::texts::{self, PortalTexts};
use crate::{Portal, Result};

/// The page.
pub const PATH: &str = "/account";
/// Where its forms post.
pub const CHANGE_PATH: &str = "/account/consent";
/// Audit events about a child looked through for its reads (consent changes are events too):
/// a bound on the work of one page.
const EVENTS_SEARCHED: i64 = 1000;
/// Reads listed per child, newest first.
const READS_SHOWN: usize = 50;

/// Query of `GET /account`.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    /// Language toggle.
    lang: Option<String>,
}

/// Form of `POST /account/consent`.
#[derive(Debug, Deserialize)]
pub struct ChangeForm {
    csrf_token: String,
    student_id: String,
    client_id: String,
    category_id: String,
    /// `grant` or `withdraw`.
    action: String,
}

/// One app asking for one kind of a child's data, as shown.
pub(crate) struct RequestItem {
    app: String,
    category: String,
    special: bool,
    purpose: Option<String>,
    state: &'static str,
    state_text: &'static str,
    client_id: String,
    category_id: String,
    /// The action its button takes.
    action: &'static str,
    label: &'static str,
    /// The button's name for screen readers: what, for whom.
    aria_label: String,
}

/// One read of the child's data, in words.
pub(crate) struct ReadItem {
    at: String,
    app: String,
    what: String,
    /// Records read (with how many children they were about, when more than this one).
    records: String,
}

/// What an app receives on the board's own decision, as shown (nothing to decide).
pub(crate) struct SchoolItem {
    app: String,
    category: String,
    special: bool,
    purpose: Option<String>,
}

/// One child's section.
pub(crate) struct ChildItem {
    id: String,
    name: String,
    requests: Vec<RequestItem>,
    school: Vec<SchoolItem>,
    reads: Vec<ReadItem>,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    t: &'static Texts,
    p: &'static PortalTexts,
    toggle_href: String,
    intro: &'static str,
    notice: Option<&'static str>,
    error: Option<&'static str>,
    csrf_token: &'a str,
    children: Vec<ChildItem>,
    /// Said when a guardian has no child to decide for.
    no_children: Option<&'static str>,
}

/// `GET /account`.
pub async fn page(
    State(portal): State<Portal>,
    headers: HeaderMap,
    Query(query): Query<PageQuery>,
) -> Response {
    let result = async {
        let locale = portal.idp.locale(query.lang.as_deref(), None, &headers);
        let mut cookies: Vec<_> = portal
            .idp
            .remember_locale(query.lang.as_deref(), locale)
            .into_iter()
            .collect();
        let Some((_, user)) = crate::signed_in(&portal, &headers).await? else {
            return Ok(renkei_platform::web::see_other("/login", cookies));
        };
        let p = texts::for_reader(locale, &user);
        let (shown, clear) = crate::notice::take(&portal, &headers);
        cookies.extend(clear);
        let notice = shown.map(|n| n.words(p));
        let response = show(&portal, &headers, locale, &user, notice, None).await?;
        Ok::<_, crate::Error>(renkei_platform::web::with_cookies(response, cookies))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `POST /account/consent`: agree or withdraw for one app and kind of data, in force at once
/// (withdrawing also ends the app's outstanding capability tokens for it).
pub async fn change(
    State(portal): State<Portal>,
    headers: HeaderMap,
    Form(form): Form<ChangeForm>,
) -> Response {
    let result = async {
        let locale = portal.idp.locale(None, None, &headers);
        let Some((_, user)) = crate::signed_in(&portal, &headers).await? else {
            return Ok(renkei_platform::web::see_other("/login", []));
        };
        let p = texts::for_reader(locale, &user);
        let action = match form.action.as_str() {
            "grant" => Some(Action::Grant),
            "withdraw" => Some(Action::Withdraw),
            _ => None,
        };
        let (portal, headers, user) = (&portal, &headers, &user);
        let refused = |status| async move {
            let mut page = show(portal, headers, locale, user, None, Some(p.change_failed)).await?;
            *page.status_mut() = status;
            Ok::<_, crate::Error>(page)
        };
        if !portal.idp.csrf.verify(headers, &form.csrf_token) {
            return refused(StatusCode::FORBIDDEN).await;
        }
        let Some(action) = action else {
            return refused(StatusCode::BAD_REQUEST).await;
        };
        // Guardians decide for their children, pupils for themselves. Administrators record
        // paper consents with the command line, never through a guardian's page.
        if !matches!(
            Role::parse(&user.role),
            Some(Role::Guardian | Role::Student)
        ) {
            return refused(StatusCode::FORBIDDEN).await;
        }
        let done = match action {
            Action::Grant => crate::notice::Notice::Granted,
            Action::Withdraw => crate::notice::Notice::Withdrawn,
        };
        let service = portal.consent.as_ref();
        let recorded = record::record(
            service.store.as_ref(),
            service.directory.as_ref(),
            &service.audit,
            &format!("POST {CHANGE_PATH}"),
            user,
            ConsentInput {
                student_id: form.student_id,
                client_id: form.client_id,
                category_id: form.category_id,
                action,
                until: None,
                paper_from: None,
            },
            renkei_platform::clock::now(),
        )
        .await;
        match recorded {
            Ok(_) => Ok(crate::notice::after(portal, PATH, done)),
            Err(renkei_consent::Error::Store(error)) => {
                Err(renkei_consent::Error::Store(error).into())
            }
            Err(renkei_consent::Error::Forbidden(_)) => {
                tracing::debug!(user = %user.id, "portal change refused: not this person's to decide");
                refused(StatusCode::FORBIDDEN).await
            }
            Err(_) => {
                tracing::debug!(user = %user.id, "portal change refused: invalid");
                refused(StatusCode::BAD_REQUEST).await
            }
        }
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// A category's name in the page's language.
fn category_name(category: &renkei_consent::category::Category, ja: bool) -> String {
    if ja {
        category.name_ja.clone()
    } else {
        category.name_en.clone()
    }
}

/// A policy's purpose in the page's language, else in the other one.
fn purpose_of(request: &renkei_consent::api::Request, ja: bool) -> Option<String> {
    let (first, second) = if ja {
        (&request.purpose_ja, &request.purpose_en)
    } else {
        (&request.purpose_en, &request.purpose_ja)
    };
    first.clone().or_else(|| second.clone())
}

/// Renders the page for `user`.
async fn show(
    portal: &Portal,
    headers: &HeaderMap,
    locale: Locale,
    user: &UserRow,
    notice: Option<&'static str>,
    error: Option<&'static str>,
) -> Result<Response> {
    let t = locale.texts_for(user);
    let p = texts::for_reader(locale, user);
    let ja = locale == Locale::Ja;
    let overview =
        renkei_consent::api::overview_of(portal.consent.as_ref(), &portal.idp, user).await?;
    let mut app_names: HashMap<String, String> = HashMap::new();
    let mut category_names: HashMap<String, String> = HashMap::new();
    let mut children = Vec::new();
    for child in overview {
        let school = child
            .school_decided
            .iter()
            .map(|request| SchoolItem {
                app: request.app_name.clone(),
                category: category_name(&request.category, ja),
                special: request.category.is_highly_sensitive(),
                purpose: purpose_of(request, ja),
            })
            .collect();
        let requests = child
            .requests
            .into_iter()
            .map(|request| {
                app_names.insert(request.client_id.clone(), request.app_name.clone());
                let category = category_name(&request.category, ja);
                let purpose = purpose_of(&request, ja);
                category_names.insert(request.category.id.clone(), category.clone());
                let in_force = request.state == "granted";
                let label = if in_force { p.withdraw } else { p.grant };
                let aria_label = if ja {
                    format!(
                        "{}さんの{}（{}）について{}",
                        child.name, category, request.app_name, label
                    )
                } else {
                    format!(
                        "{label}: {category} ({}), for {}",
                        request.app_name, child.name
                    )
                };
                RequestItem {
                    app: request.app_name,
                    special: request.category.is_highly_sensitive(),
                    category,
                    purpose,
                    state: request.state,
                    state_text: t.state(request.state),
                    client_id: request.client_id,
                    category_id: request.category.id,
                    action: if in_force { "withdraw" } else { "grant" },
                    label,
                    aria_label,
                }
            })
            .collect();
        let mut reads =
            renkei_gateway::portal::reads_of(&portal.reads, user, &child.id, EVENTS_SEARCHED)
                .await?
                .unwrap_or_default();
        reads.truncate(READS_SHOWN);
        let mut items = Vec::with_capacity(reads.len());
        for read in reads {
            let app = match read.client_id.as_deref() {
                Some(id) => match app_names.get(id) {
                    Some(name) => name.clone(),
                    None => {
                        let name = portal
                            .idp
                            .store
                            .client(id)
                            .await?
                            .map_or_else(|| p.removed_app.to_owned(), |c| c.name);
                        app_names.insert(id.to_owned(), name.clone());
                        name
                    }
                },
                None => p.removed_app.to_owned(),
            };
            let mut what = Vec::new();
            for category in &read.categories {
                if !category_names.contains_key(category) {
                    let name = portal
                        .consent
                        .store
                        .category(category)
                        .await
                        .map_err(renkei_consent::Error::from)?
                        .map_or_else(|| category.clone(), |c| category_name(&c, ja));
                    category_names.insert(category.clone(), name);
                }
                what.push(category_names[category].clone());
            }
            let records = match (read.children, ja) {
                (0 | 1, _) => read.records.to_string(),
                (n, true) => format!("{}（{n}人分）", read.records),
                (n, false) => format!("{} (for {n} children)", read.records),
            };
            items.push(ReadItem {
                at: locale.date_time(read.at),
                app,
                what: what.join(if ja { "、" } else { ", " }),
                records,
            });
        }
        children.push(ChildItem {
            id: child.id,
            name: child.name,
            requests,
            school,
            reads: items,
        });
    }
    let no_children = (children.is_empty() && Role::parse(&user.role) == Some(Role::Guardian))
        .then_some(p.no_children);
    let intro = match Role::parse(&user.role) {
        Some(Role::Guardian) => p.intro_guardian,
        Some(Role::Student) => p.intro_pupil,
        _ => p.nobody,
    };
    let (csrf_token, csrf_cookie) = portal.idp.csrf.token(headers);
    let page = AccountPage {
        t,
        p,
        toggle_href: toggle_href(t, PATH, &[]),
        intro,
        notice,
        error,
        csrf_token: &csrf_token,
        children,
        no_children,
    };
    Ok(renkei_platform::web::with_cookies(
        render(&page),
        csrf_cookie,
    ))
}
