//! `/admin`: the dashboard.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use renkei_idp::pages::{Texts, filters, render, toggle_href};
use serde::Deserialize;

use super::{Frame, Section, date, enter, failure};
use crate::Console;
use crate::overview::{self, Overview};

/// Query of the console's pages: the language toggle.
#[derive(Debug, Default, Deserialize)]
pub struct LangQuery {
    lang: Option<String>,
}

impl LangQuery {
    /// The toggle's language, if the link was followed.
    pub fn lang(&self) -> Option<&str> {
        self.lang.as_deref()
    }
}

/// An audit event as a row of a table.
pub struct EventRow {
    pub when: String,
    pub who: String,
    pub what: String,
    pub kind: &'static str,
    pub outcome: &'static str,
    pub children: String,
    pub records: i64,
}

impl EventRow {
    /// The row of `event` in `locale`.
    pub fn of(
        event: &crate::audit::EventView,
        locale: renkei_idp::pages::Locale,
        c: &super::ConsoleTexts,
        labels: &super::Labels,
    ) -> Self {
        let categories: Vec<&str> = event
            .categories
            .iter()
            .map(|id| labels.category(id))
            .collect();
        EventRow {
            when: locale.date_time(event.at),
            who: event.endpoint.clone(),
            what: [
                event
                    .client_id
                    .as_deref()
                    .map(|id| labels.app(id).to_owned())
                    .unwrap_or_default(),
                categories.join(c.list_separator),
                event.detail.clone().unwrap_or_default(),
            ]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(c.list_separator),
            kind: c.event_kind(&event.kind),
            outcome: if event.outcome == "allowed" {
                c.allowed
            } else {
                c.refused
            },
            children: event.children.join(" "),
            records: event.records,
        }
    }
}

#[derive(Template)]
#[template(path = "admin_dashboard.html")]
struct DashboardPage {
    t: &'static Texts,
    toggle_href: String,
    f: Frame,
    overview: Overview,
    roles: Vec<(&'static str, i64)>,
    imports: Vec<(String, &'static str, String)>,
    coverage: Vec<(String, String, &'static str, usize, usize, usize)>,
    events: Vec<EventRow>,
    /// The keys in a line (board administrators): how many sign, wait, and are retired, and
    /// when the newest was made.
    keys: Option<String>,
}

/// `GET /admin`.
pub async fn page(
    State(console): State<Console>,
    headers: HeaderMap,
    Query(query): Query<LangQuery>,
) -> Response {
    let visit = match enter(&console, &headers, query.lang.as_deref(), "/admin").await {
        Ok(visit) => visit,
        Err(refused) => return refused,
    };
    let loaded = async {
        let overview = overview::overview(&console, &visit.actor).await?;
        let labels = super::Labels::load(&console, visit.locale).await?;
        Ok::<_, crate::Error>((overview, labels))
    }
    .await;
    let (overview, labels) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return failure(error),
    };
    let (c, locale) = (visit.c, visit.locale);
    let keys = overview
        .keys
        .iter()
        .map(|k| k.created_at)
        .max()
        .map(|newest| {
            let count = |state: crate::keys::KeyState| {
                overview.keys.iter().filter(|k| k.state == state).count()
            };
            c.key_summary(
                count(crate::keys::KeyState::Signing),
                count(crate::keys::KeyState::Waiting),
                count(crate::keys::KeyState::Retired),
                &visit.locale.date(newest),
            )
        });
    let page = DashboardPage {
        keys,
        t: visit.t,
        toggle_href: toggle_href(visit.t, "/admin", &[]),
        f: visit.frame(&console, Section::Dashboard).await,
        roles: overview
            .people
            .iter()
            .map(|r| (c.role(&r.role), r.count))
            .collect(),
        imports: overview
            .imports
            .iter()
            .map(|i| {
                (
                    date(locale, Some(i.finished_at)),
                    c.outcome(&i.outcome),
                    i.actor.clone(),
                )
            })
            .collect(),
        coverage: overview
            .coverage
            .iter()
            .map(|row| {
                (
                    row.app_name.clone(),
                    match locale {
                        renkei_idp::pages::Locale::Ja => row.category_ja.clone(),
                        renkei_idp::pages::Locale::En => row.category_en.clone(),
                    },
                    c.basis(row.basis),
                    row.reached,
                    row.visible,
                    row.waiting,
                )
            })
            .collect(),
        events: overview
            .recent
            .iter()
            .map(|e| EventRow::of(e, locale, c, &labels))
            .collect(),
        overview,
    };
    visit.respond(render(&page))
}
