//! The audit log in the console: find events by app, person, category, kind and date; export
//! them as CSV (safe to open in a spreadsheet) or JSON lines; verify the chain. A school
//! administrator sees the events about their school's people and their own actions, with
//! other schools' children left out.

use std::collections::HashSet;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use renkei_platform::audit::ChainedEvent;
use renkei_platform::audit::search::{self, AuditFilter, AuditPage};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::Console;
use crate::actor::{self, Actor};
use crate::error::{Error, Problem, Result};

/// A search of the log.
#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
pub struct Search {
    /// From this day (YYYY-MM-DD, Japan time).
    pub from: Option<String>,
    /// Through this day (YYYY-MM-DD, Japan time).
    pub until: Option<String>,
    /// The app's client id.
    pub app: Option<String>,
    /// A child's sourcedId.
    pub person: Option<String>,
    /// A data category's id.
    pub category: Option<String>,
    /// `read`, `admin` or `consent`.
    pub kind: Option<String>,
    /// Text in who acted or what was done.
    pub text: Option<String>,
    /// Events before this one (the previous page's `next_before`).
    pub before: Option<i64>,
    /// How many (1–500, default 50).
    pub limit: Option<usize>,
    /// Export format: `csv` or `jsonl` (export only).
    pub format: Option<String>,
}

/// An event as listed.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct EventView {
    /// Its place in the chain.
    pub seq: i64,
    /// When (Unix seconds).
    pub at: i64,
    /// `read`, `admin` or `consent`.
    pub kind: String,
    /// The app.
    pub client_id: Option<String>,
    /// Categories involved.
    pub categories: Vec<String>,
    /// Children whose data it concerns (those the reader may see).
    pub children: Vec<String>,
    /// The endpoint, or the command or console page and who acted.
    pub endpoint: String,
    /// Records returned.
    pub records: i64,
    /// `allowed` or `refused`.
    pub outcome: String,
    /// What was done, or why refused.
    pub detail: Option<String>,
}

/// A page of events.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct EventPage {
    /// Newest first.
    pub events: Vec<EventView>,
    /// Pass as `before` for the next page; absent at the log's start.
    pub next_before: Option<i64>,
}

/// The chain's check.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ChainCheck {
    /// Events checked.
    pub events: i64,
    /// Whether every link holds.
    pub intact: bool,
    /// The first broken event, if any.
    pub broken_at: Option<i64>,
    /// What is wrong there.
    pub problem: Option<String>,
}

/// What the actor may see of the log.
#[derive(Clone)]
struct Sight {
    /// The school's people (`None`: the whole board).
    people: Option<Arc<HashSet<String>>>,
    /// The actor, whose own actions they always see.
    actor: Actor,
}

impl Sight {
    async fn of(console: &Console, actor: &Actor) -> Result<Self> {
        let people = match actor.school() {
            Some(school) => Some(Arc::new(
                console
                    .idp
                    .directory
                    .people_in_school(school)
                    .await?
                    .into_iter()
                    .collect::<HashSet<_>>(),
            )),
            None => None,
        };
        Ok(Sight {
            people,
            actor: actor.clone(),
        })
    }

    fn admits(&self, event: &ChainedEvent) -> bool {
        match &self.people {
            None => true,
            Some(people) => {
                event.event.children.iter().any(|c| people.contains(c))
                    || self.actor.did(&event.event.endpoint)
            }
        }
    }

    fn view(&self, event: ChainedEvent) -> EventView {
        let e = event.event;
        let children = match &self.people {
            None => e.children,
            Some(people) => e
                .children
                .into_iter()
                .filter(|c| people.contains(c))
                .collect(),
        };
        EventView {
            seq: event.seq,
            at: e.at,
            kind: e.kind,
            client_id: e.client_id,
            categories: e.categories,
            children,
            endpoint: e.endpoint,
            records: e.records,
            outcome: e.outcome,
            detail: e.detail,
        }
    }
}

impl Search {
    fn filter(&self) -> Result<AuditFilter> {
        let day = |field: &str, value: &Option<String>| -> Result<Option<i64>> {
            value
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|day| crate::api::end_of_day(field, day))
                .transpose()
        };
        let kind = self.kind.clone().filter(|k| !k.is_empty());
        if let Some(kind) = &kind
            && !["read", "admin", "consent"].contains(&kind.as_str())
        {
            return Err(Error::Invalid(format!(
                "unknown kind {kind:?}; use read, admin or consent"
            )));
        }
        let some = |value: &Option<String>| {
            value
                .clone()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        Ok(AuditFilter {
            // The end of the day before `from` is where `from` starts.
            from: day("from", &self.from)?.map(|end| end + 1 - 86_400),
            until: day("until", &self.until)?.map(|end| end + 1),
            client: some(&self.app),
            category: some(&self.category),
            child: some(&self.person),
            kind,
            text: some(&self.text).map(|t| t.chars().take(200).collect()),
        })
    }
}

/// A page of the events the actor may see.
pub async fn find(console: &Console, actor: &Actor, query: &Search) -> Result<EventPage> {
    let filter = query.filter()?;
    let sight = Sight::of(console, actor).await?;
    let AuditPage {
        events,
        next_before,
        ..
    } = search::search(
        console.audit.store(),
        &filter,
        query.before,
        query.limit.unwrap_or(50),
        |event| sight.admits(event),
    )
    .await?;
    Ok(EventPage {
        events: events.into_iter().map(|e| sight.view(e)).collect(),
        next_before,
    })
}

/// Verifies the whole chain (board administrators).
pub async fn verify(console: &Console, actor: &Actor) -> Result<ChainCheck> {
    actor.board_only("verify the whole audit chain")?;
    let _turn = console.long_read()?;
    let checked = renkei_platform::audit::verify(console.audit.store(), &[]).await?;
    Ok(ChainCheck {
        events: checked.events,
        intact: checked.broken_at.is_none(),
        broken_at: checked.broken_at,
        problem: checked.problem,
    })
}

/// A cell as a spreadsheet reads it without running it: text that a spreadsheet would take
/// for a formula (`=`, `+`, `-`, `@`, `|`, tab, carriage return first, after any spaces; their
/// full-width forms too, which Japanese spreadsheets accept) gets a leading apostrophe (OWASP's
/// advice on CSV injection).
pub fn spreadsheet_safe(cell: &str) -> String {
    const FORMULA: [char; 11] = ['=', '+', '-', '@', '|', '\t', '\r', '＝', '＋', '－', '＠'];
    if cell
        .trim_start_matches([' ', '\u{3000}'])
        .starts_with(FORMULA)
    {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

/// The CSV header row.
const CSV_HEADER: [&str; 10] = [
    "seq",
    "at",
    "kind",
    "client_id",
    "categories",
    "children",
    "endpoint",
    "records",
    "outcome",
    "detail",
];

fn csv_rows(events: &[EventView], header: bool) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    if header {
        writer
            .write_record(CSV_HEADER)
            .expect("CSV writes to memory");
    }
    for e in events {
        let at = renkei_platform::clock::in_japan(e.at)
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default();
        let row = [
            e.seq.to_string(),
            at,
            e.kind.clone(),
            e.client_id.clone().unwrap_or_default(),
            e.categories.join(" "),
            e.children.join(" "),
            e.endpoint.clone(),
            e.records.to_string(),
            e.outcome.clone(),
            e.detail.clone().unwrap_or_default(),
        ];
        writer
            .write_record(row.iter().map(|cell| spreadsheet_safe(cell)))
            .expect("CSV writes to memory");
    }
    writer.into_inner().expect("CSV writes to memory")
}

fn jsonl_rows(events: &[EventView]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in events {
        serde_json::to_writer(&mut out, e).expect("events serialise");
        out.push(b'\n');
    }
    out
}

/// Every matching event the actor may see, newest first, as CSV or JSON lines: read a page
/// at a time while it is sent, so memory stays bounded however long the log; audited.
pub async fn export(console: &Console, actor: &Actor, query: Search) -> Result<Response> {
    let filter = query.filter()?;
    let csv = match query.format.as_deref().unwrap_or("csv") {
        "csv" => true,
        "jsonl" => false,
        other => {
            return Err(Error::Invalid(format!(
                "unknown export format {other:?}; use csv or jsonl"
            )));
        }
    };
    let turn = console.long_read()?;
    let sight = Sight::of(console, actor).await?;
    console
        .audit
        .append(renkei_platform::AuditEvent::admin(
            &actor.via(),
            format!(
                "exported the audit log as {}",
                if csv { "CSV" } else { "JSON lines" }
            ),
        ))
        .await?;
    let log = console.audit.clone();
    let stream = futures_util::stream::unfold(Some((query.before, true)), move |state| {
        let (log, filter, sight) = (log.clone(), filter.clone(), sight.clone());
        // The turn is held until the last chunk is sent.
        let _turn = &turn;
        async move {
            let (before, first) = state?;
            let page = match search::search(log.store(), &filter, before, search::MAX_PAGE, |e| {
                sight.admits(e)
            })
            .await
            {
                Ok(page) => page,
                Err(error) => {
                    tracing::error!(%error, "audit export stopped");
                    return Some((Err(std::io::Error::other("audit export failed")), None));
                }
            };
            let events: Vec<EventView> = page.events.into_iter().map(|e| sight.view(e)).collect();
            let bytes = if csv {
                csv_rows(&events, first)
            } else {
                jsonl_rows(&events)
            };
            Some((
                Ok(bytes),
                page.next_before.map(|before| (Some(before), false)),
            ))
        }
    });
    let mut response = Body::from_stream(stream).into_response();
    let (content_type, name) = if csv {
        ("text/csv; charset=utf-8", "renkei-audit.csv")
    } else {
        ("application/x-ndjson", "renkei-audit.jsonl")
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")).expect("ASCII name"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// How far back an app's reads are summed up: a week.
pub const READS_WINDOW: i64 = 7 * 86_400;

/// How many stored events a summary of an app's reads reads at most.
pub const READS_SCANNED: usize = 5 * search::MAX_SCANNED;

/// What an app read of one category in the window.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CategoryReads {
    /// The category (empty for reads of the roster itself).
    pub category: String,
    /// Requests.
    pub reads: u64,
    /// Records returned (for the whole board only: a request's records are not split by
    /// school).
    pub records: Option<i64>,
    /// Different pupils whose data was read.
    pub pupils: usize,
}

/// What an app read in the last week (of the actor's school, for a school administrator).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AppReads {
    /// From (Unix seconds).
    pub from: i64,
    /// Per category, most read first.
    pub categories: Vec<CategoryReads>,
    /// Requests refused (no capability, beyond it).
    pub refused: u64,
    /// False when the log held more than one summary reads: the figures are the newest part.
    pub complete: bool,
}

/// Sums up what `client_id` read in the last week, from the audit log.
pub async fn reads_of_app(console: &Console, actor: &Actor, client_id: &str) -> Result<AppReads> {
    crate::apps::find(console, client_id).await?;
    // A week of a busy app is a long read of the log: a few at a time.
    let _turn = console.long_read()?;
    let sight = Sight::of(console, actor).await?;
    let from = renkei_platform::clock::now() - READS_WINDOW;
    let filter = AuditFilter {
        from: Some(from),
        client: Some(client_id.to_owned()),
        kind: Some("read".into()),
        ..AuditFilter::default()
    };
    let mut by_category: std::collections::BTreeMap<String, (u64, i64, HashSet<String>)> =
        Default::default();
    let mut refused = 0;
    let mut before = None;
    let mut scanned = 0;
    let complete = loop {
        let page = search::search(
            console.audit.store(),
            &filter,
            before,
            search::MAX_PAGE,
            |event| sight.admits(event),
        )
        .await?;
        scanned += page.scanned;
        for event in page.events {
            let view = sight.view(event);
            if view.outcome != "allowed" {
                refused += 1;
                continue;
            }
            let categories = if view.categories.is_empty() {
                vec![String::new()]
            } else {
                view.categories
            };
            for category in categories {
                let entry = by_category.entry(category).or_default();
                entry.0 += 1;
                entry.1 += view.records;
                entry.2.extend(view.children.iter().cloned());
            }
        }
        match page.next_before {
            None => break true,
            Some(_) if scanned >= READS_SCANNED => break false,
            next => before = next,
        }
    };
    let mut categories: Vec<CategoryReads> = by_category
        .into_iter()
        .map(|(category, (reads, records, pupils))| CategoryReads {
            category,
            reads,
            records: actor.school().is_none().then_some(records),
            pupils: pupils.len(),
        })
        .collect();
    categories.sort_by_key(|c| std::cmp::Reverse(c.reads));
    Ok(AppReads {
        from,
        categories,
        refused,
        complete,
    })
}

/// `GET /admin/api/apps/{client_id}/reads`: what the app read in the last week.
#[utoipa::path(get, path = "/admin/api/apps/{client_id}/reads", tag = "apps",
    params(("client_id" = String, Path, description = "The app's client id")),
    responses((status = 200, body = AppReads), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_app_reads(
    State(console): State<Console>,
    headers: HeaderMap,
    axum::extract::Path(client_id): axum::extract::Path<String>,
) -> Result<Json<AppReads>> {
    let actor = actor::for_api(&console.idp, &headers, false).await?;
    Ok(Json(reads_of_app(&console, &actor, &client_id).await?))
}

/// `GET /admin/api/audit`.
#[utoipa::path(get, path = "/admin/api/audit", tag = "audit", params(Search),
    responses((status = 200, body = EventPage), (status = 400, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_find(
    State(console): State<Console>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<EventPage>> {
    let actor = actor::for_api(&console.idp, &headers, false).await?;
    let query: Search = crate::api::query(query.as_deref())?;
    Ok(Json(find(&console, &actor, &query).await?))
}

/// `GET /admin/api/audit/export`: CSV or JSON lines.
#[utoipa::path(get, path = "/admin/api/audit/export", tag = "audit", params(Search),
    responses((status = 200, description = "text/csv or application/x-ndjson"), (status = 400, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_export(
    State(console): State<Console>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let actor = actor::for_api(&console.idp, &headers, false).await?;
    let query: Search = crate::api::query(query.as_deref())?;
    export(&console, &actor, query).await
}

/// `GET /admin/api/audit/verify`.
#[utoipa::path(get, path = "/admin/api/audit/verify", tag = "audit",
    responses((status = 200, body = ChainCheck), (status = 403, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_verify(
    State(console): State<Console>,
    headers: HeaderMap,
) -> Result<Json<ChainCheck>> {
    let actor = actor::for_api(&console.idp, &headers, false).await?;
    Ok(Json(verify(&console, &actor).await?))
}

#[cfg(test)]
mod tests {
    use super::spreadsheet_safe;

    #[test]
    fn cells_a_spreadsheet_would_run_are_quoted() {
        for formula in [
            "=1+1",
            "+cmd",
            "-2",
            "@SUM(A1)",
            "|x",
            " =x",
            "\u{3000}＝HYPERLINK()",
            "＋1",
            "\tx",
        ] {
            assert!(spreadsheet_safe(formula).starts_with('\''), "{formula:?}");
        }
        for plain in ["admin console (sato)", "2026-12-06", "出欠", ""] {
            assert_eq!(spreadsheet_safe(plain), plain);
        }
    }
}
