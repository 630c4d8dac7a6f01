//! `/admin/consents`: consents by school, class and pupil. A school (the board chooses one)
//! lists its classes; a class lists every pupil with where they stand with each app that asks
//! consent; a pupil's page shows their decisions, the history, and the form that records a
//! consent given on paper (紙の同意書) or its withdrawal.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use renkei_directory::ClassRef;
use renkei_idp::pages::{Locale, Texts, filters, render, toggle_href};
use serde::Deserialize;

use super::{Frame, Section, Visit, date, enter, enter_form, failure, lang_of};
use crate::Console;
use crate::consents::{self, ClassConsents, PaperConsent, PupilConsents, RecordView, Standing};

/// Query of `GET /admin/consents`.
#[derive(Debug, Default, Deserialize)]
pub struct SchoolQuery {
    school: Option<String>,
    lang: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_consents.html")]
struct SchoolPage {
    t: &'static Texts,
    toggle_href: String,
    f: Frame,
    /// For the board: the schools to choose from.
    schools: Vec<(String, String)>,
    school: String,
    classes: Vec<ClassRef>,
}

/// `GET /admin/consents`: a school's classes.
pub async fn page(
    State(console): State<Console>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let query: SchoolQuery = match crate::api::query(raw.as_deref()) {
        Ok(query) => query,
        Err(error) => return failure(error),
    };
    let path = "/admin/consents";
    let visit = match enter(&console, &headers, query.lang.as_deref(), path).await {
        Ok(visit) => visit,
        Err(refused) => return refused,
    };
    let loaded = async {
        let schools: Vec<(String, String)> = match visit.actor.school() {
            Some(_) => Vec::new(),
            None => console
                .idp
                .directory
                .schools()
                .await?
                .into_iter()
                .map(|s| (s.id, s.name))
                .collect(),
        };
        let school = match (visit.actor.school(), query.school.filter(|s| !s.is_empty())) {
            (Some(own), _) => Some(own.to_owned()),
            (None, Some(asked)) => Some(asked),
            (None, None) if schools.len() == 1 => Some(schools[0].0.clone()),
            (None, None) => None,
        };
        let classes = match &school {
            Some(id) => consents::classes(&console, &visit.actor, id).await?,
            None => Vec::new(),
        };
        Ok::<_, crate::Error>((schools, school.unwrap_or_default(), classes))
    };
    let (schools, school, classes) = match loaded.await {
        Ok(loaded) => loaded,
        Err(error) => return failure(error),
    };
    let page = SchoolPage {
        t: visit.t,
        toggle_href: toggle_href(visit.t, path, &[("school", &school)]),
        f: visit.frame(&console, Section::Consents).await,
        schools,
        school,
        classes,
    };
    visit.respond(render(&page))
}

/// One pupil's standing with one app, as a table cell says it.
struct Cell {
    state: &'static str,
    /// Who decided and when, if anyone did.
    decided: String,
}

#[derive(Template)]
#[template(path = "admin_consents_class.html")]
struct ClassPage {
    t: &'static Texts,
    toggle_href: String,
    f: Frame,
    class: ClassConsents,
    /// The apps' categories asking consent in this class: (app, category) headings.
    columns: Vec<(String, String, String)>,
    /// Per pupil, a cell per column (`None`: the policy does not reach the pupil).
    cells: Vec<Vec<Option<Cell>>>,
}

/// `GET /admin/consents/classes/{class_id}`.
pub async fn class(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(class_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let path = format!("/admin/consents/classes/{class_id}");
    let visit = match enter(
        &console,
        &headers,
        lang_of(raw.as_deref()).as_deref(),
        &path,
    )
    .await
    {
        Ok(visit) => visit,
        Err(refused) => return refused,
    };
    let class = match consents::of_class(&console, &visit.actor, &class_id).await {
        Ok(class) => class,
        Err(error) => return failure(error),
    };
    let mut columns: Vec<(String, String, String)> = Vec::new();
    for standing in class.pupils.iter().flat_map(|p| &p.standings) {
        let key = (standing.client_id.clone(), standing.category_id.clone());
        if !columns.iter().any(|(a, c, _)| (a, c) == (&key.0, &key.1)) {
            let heading = format!(
                "{}{}{}",
                standing.app,
                visit.c.list_separator,
                category_name(visit.locale, standing)
            );
            columns.push((key.0, key.1, heading));
        }
    }
    let cells = class
        .pupils
        .iter()
        .map(|pupil| {
            columns
                .iter()
                .map(|(app, category, _)| {
                    pupil
                        .standings
                        .iter()
                        .find(|s| &s.client_id == app && &s.category_id == category)
                        .map(|s| Cell {
                            state: visit.c.consent_state(&s.state),
                            decided: s
                                .decision
                                .as_ref()
                                .map(|d| decided(&visit, d))
                                .unwrap_or_default(),
                        })
                })
                .collect()
        })
        .collect();
    let page = ClassPage {
        t: visit.t,
        toggle_href: toggle_href(visit.t, &path, &[]),
        f: visit.frame(&console, Section::Consents).await,
        class,
        columns,
        cells,
    };
    visit.respond(render(&page))
}

/// A standing as the pupil's page lists it.
struct StandingRow {
    standing: Standing,
    heading: String,
    state: &'static str,
    decided: String,
}

/// A record as the history lists it.
struct HistoryRow {
    at: String,
    heading: String,
    action: &'static str,
    by: String,
    version: i64,
    until: String,
}

#[derive(Template)]
#[template(path = "admin_consents_pupil.html")]
struct PupilPage {
    t: &'static Texts,
    toggle_href: String,
    f: Frame,
    pupil: PupilConsents,
    rows: Vec<StandingRow>,
    history: Vec<HistoryRow>,
    notice: Option<&'static str>,
    /// The form's problem, if the last recording failed.
    error: Option<String>,
    /// The form's values after a failure (app|category, action, guardian, until).
    form: PaperForm,
}

/// The paper-consent form's values.
#[derive(Clone, Default)]
struct PaperForm {
    subject: String,
    action: String,
    guardian: String,
    until: String,
}

/// `GET /admin/consents/pupils/{student_id}`.
pub async fn pupil(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(student_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let path = format!("/admin/consents/pupils/{student_id}");
    let mut visit = match enter(
        &console,
        &headers,
        lang_of(raw.as_deref()).as_deref(),
        &path,
    )
    .await
    {
        Ok(visit) => visit,
        Err(refused) => return refused,
    };
    let (word, clear) = renkei_idp::notice::take(&console.idp, &headers);
    visit.cookies.extend(clear);
    let notice = word
        .filter(|w| w == "consent-recorded")
        .map(|_| visit.c.consent_recorded);
    pupil_page(
        &console,
        visit,
        &student_id,
        notice,
        None,
        PaperForm::default(),
    )
    .await
}

/// `POST /admin/consents/pupils/{student_id}`: a paper consent or withdrawal recorded.
pub async fn record(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(student_id): Path<String>,
    body: Bytes,
) -> Response {
    let path = format!("/admin/consents/pupils/{student_id}");
    let (visit, fields) = match enter_form(&console, &headers, &body, &path).await {
        Ok(entered) => entered,
        Err(refused) => return refused,
    };
    let form = PaperForm {
        subject: fields.get("subject"),
        action: fields.get("action"),
        guardian: fields.get("guardian"),
        until: fields.get("until"),
    };
    let Some((client_id, category_id)) = form.subject.split_once('|') else {
        let error = visit.c.choose_app_category.to_owned();
        return pupil_page(&console, visit, &student_id, None, Some(error), form).await;
    };
    let paper = PaperConsent {
        client_id: client_id.to_owned(),
        category_id: category_id.to_owned(),
        action: form.action.clone(),
        guardian: Some(form.guardian.clone()).filter(|g| !g.is_empty()),
        until: Some(form.until.clone()).filter(|u| !u.is_empty()),
    };
    match consents::record_paper(&console, &visit.actor, &student_id, paper).await {
        Ok(_) => visit.notice_after(&console, &path, "consent-recorded"),
        Err(error) => {
            let (status, _, _) = error.classify();
            if status == StatusCode::INTERNAL_SERVER_ERROR || status == StatusCode::NOT_FOUND {
                return failure(error);
            }
            let mut response = pupil_page(
                &console,
                visit,
                &student_id,
                None,
                Some(error.detail()),
                form,
            )
            .await;
            *response.status_mut() = status;
            response
        }
    }
}

async fn pupil_page(
    console: &Console,
    visit: Visit,
    student_id: &str,
    notice: Option<&'static str>,
    error: Option<String>,
    form: PaperForm,
) -> Response {
    let pupil = match consents::of_pupil(console, &visit.actor, student_id).await {
        Ok(pupil) => pupil,
        Err(error) => return failure(error),
    };
    let heading = |app: &str, category: &str| {
        let standing = pupil
            .standings
            .iter()
            .find(|s| s.client_id == app && s.category_id == category);
        match standing {
            Some(s) => format!(
                "{}{}{}",
                s.app,
                visit.c.list_separator,
                category_name(visit.locale, s)
            ),
            None => format!("{app}{}{category}", visit.c.list_separator),
        }
    };
    let rows = pupil
        .standings
        .iter()
        .map(|s| StandingRow {
            heading: heading(&s.client_id, &s.category_id),
            state: visit.c.consent_state(&s.state),
            decided: s
                .decision
                .as_ref()
                .map(|d| decided(&visit, d))
                .unwrap_or_default(),
            standing: s.clone(),
        })
        .collect();
    let history = pupil
        .history
        .iter()
        .rev()
        .map(|r| HistoryRow {
            at: visit.locale.date_time(r.at),
            heading: heading(&r.client_id, &r.category_id),
            action: if r.action == "grant" {
                visit.c.action_grant
            } else {
                visit.c.action_withdraw
            },
            by: by(&visit, r),
            version: r.policy_version,
            until: date(visit.locale, r.until),
        })
        .collect();
    let path = format!("/admin/consents/pupils/{student_id}");
    let page = PupilPage {
        t: visit.t,
        toggle_href: toggle_href(visit.t, &path, &[]),
        f: visit.frame(console, Section::Consents).await,
        pupil,
        rows,
        history,
        notice,
        error,
        form,
    };
    visit.respond(render(&page))
}

fn category_name(locale: Locale, standing: &Standing) -> &str {
    match locale {
        Locale::Ja => &standing.category_ja,
        Locale::En => &standing.category_en,
    }
}

/// Who recorded a decision: a guardian, the pupil, or an administrator from a paper.
fn by(visit: &Visit, record: &RecordView) -> String {
    match &record.paper_from {
        Some(guardian) => visit.c.on_paper(guardian, &record.by),
        None => format!(
            "{}{}{}",
            record.by,
            visit.c.list_separator,
            visit.c.role(&record.by_role)
        ),
    }
}

/// The latest decision, briefly: who and on which day.
fn decided(visit: &Visit, record: &RecordView) -> String {
    format!(
        "{}{}{}",
        by(visit, record),
        visit.c.list_separator,
        visit.locale.date(record.at)
    )
}
