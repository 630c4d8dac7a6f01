//! `/admin/audit`: the audit log, filtered; export as CSV or JSON lines; verify the chain.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use renkei_idp::pages::{Texts, filters, render, toggle_href};

use super::dashboard::EventRow;
use super::{Frame, Section, Visit, enter, failure};
use crate::Console;
use crate::audit::{self, Search};

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    t: &'static Texts,
    toggle_href: String,
    f: Frame,
    search: Search,
    kinds: Vec<(&'static str, &'static str)>,
    apps: Vec<(String, String)>,
    /// The data categories to filter by: (id, name).
    categories: Vec<(String, String)>,
    events: Vec<EventRow>,
    older: Option<String>,
    export_query: String,
    board: bool,
    verified: Option<String>,
}

/// The search of the page's address, and its language toggle.
fn parse(raw: Option<&str>) -> crate::Result<(Search, Option<String>)> {
    let search: Search = crate::api::query(raw)?;
    Ok((search, super::lang_of(raw)))
}

/// The filters of `search` as a query string (without paging).
fn filters(search: &Search) -> Vec<(&'static str, String)> {
    [
        ("from", &search.from),
        ("until", &search.until),
        ("app", &search.app),
        ("person", &search.person),
        ("category", &search.category),
        ("kind", &search.kind),
        ("text", &search.text),
    ]
    .into_iter()
    .filter_map(|(key, value)| value.clone().filter(|v| !v.is_empty()).map(|v| (key, v)))
    .collect()
}

async fn show(
    console: &Console,
    visit: Visit,
    search: Search,
    verified: Option<String>,
) -> Response {
    let loaded = async {
        let page = audit::find(console, &visit.actor, &search).await?;
        let labels = super::Labels::load(console, visit.locale).await?;
        Ok::<_, crate::Error>((page, labels))
    }
    .await;
    let (page, labels) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return failure(error),
    };
    let apps = match console.idp.store.clients().await {
        Ok(clients) => clients.into_iter().map(|c| (c.id, c.name)).collect(),
        Err(error) => return failure(error.into()),
    };
    let categories = match console.consent.store.categories().await {
        Ok(categories) => categories
            .into_iter()
            .map(|c| {
                let name = match visit.locale {
                    renkei_idp::pages::Locale::Ja => c.name_ja,
                    renkei_idp::pages::Locale::En => c.name_en,
                };
                (c.id, name)
            })
            .collect(),
        Err(error) => return failure(error.into()),
    };
    let c = visit.c;
    let base = filters(&search);
    let older = page.next_before.map(|before| {
        let mut query = base.clone();
        query.push(("before", before.to_string()));
        format!(
            "/admin/audit?{}",
            serde_urlencoded::to_string(query).unwrap_or_default()
        )
    });
    let page = AuditPage {
        t: visit.t,
        toggle_href: toggle_href(visit.t, "/admin/audit", &[]),
        f: visit.frame(console, Section::Audit).await,
        kinds: vec![
            ("read", c.kind_read),
            ("admin", c.kind_admin),
            ("consent", c.kind_consent),
        ],
        apps,
        categories,
        events: page
            .events
            .iter()
            .map(|e| EventRow::of(e, visit.locale, c, &labels))
            .collect(),
        older,
        export_query: serde_urlencoded::to_string(&base).unwrap_or_default(),
        board: visit.actor.school().is_none(),
        verified,
        search,
    };
    visit.respond(render(&page))
}

/// `GET /admin/audit`.
pub async fn page(
    State(console): State<Console>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let (search, lang) = match parse(raw.as_deref()) {
        Ok(parsed) => parsed,
        Err(error) => return failure(error),
    };
    let visit = match enter(&console, &headers, lang.as_deref(), "/admin/audit").await {
        Ok(visit) => visit,
        Err(refused) => return refused,
    };
    show(&console, visit, search, None).await
}

/// `GET /admin/audit/export?format=csv|jsonl&…`: the filtered log as a download.
pub async fn export(
    State(console): State<Console>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let (search, _) = match parse(raw.as_deref()) {
        Ok(parsed) => parsed,
        Err(error) => return failure(error),
    };
    let visit = match enter(&console, &headers, None, "/admin/audit").await {
        Ok(visit) => visit,
        Err(refused) => return refused,
    };
    match audit::export(&console, &visit.actor, search).await {
        Ok(response) => response,
        Err(error) => failure(error),
    }
}

/// `POST /admin/audit/verify`: checks the chain and shows the result above the log.
pub async fn verify(
    State(console): State<Console>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let visit = match super::enter_form(&console, &headers, &body, "/admin/audit").await {
        Ok((visit, _)) => visit,
        Err(refused) => return refused,
    };
    let checked = match audit::verify(&console, &visit.actor).await {
        Ok(checked) => checked,
        Err(error) => return failure(error),
    };
    let said = match checked.broken_at {
        None => format!("{}{}", visit.c.verified, checked.events),
        Some(seq) => format!("{}{seq}", visit.c.broken),
    };
    show(&console, visit, Search::default(), Some(said)).await
}
