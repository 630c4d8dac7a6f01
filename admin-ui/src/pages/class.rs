//! `/class`: the teachers' class view.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use renkei_directory::Role;
use renkei_idp::pages::{MessagePage, Texts, filters, render, toggle_href};

use super::dashboard::LangQuery;
use super::{ConsoleTexts, Labels, failure};
use crate::Console;
use crate::class::{self, ClassView, Slip};

#[derive(Template)]
#[template(path = "admin_class.html")]
struct ClassPage {
    t: &'static Texts,
    c: &'static ConsoleTexts,
    toggle_href: String,
    csrf_token: String,
    who: String,
    classes: Vec<ClassView>,
    labels: Labels,
}

/// A signed-in teacher's visit to the class view.
pub(super) struct TeacherVisit {
    pub(super) teacher: renkei_idp::store::UserRow,
    pub(super) locale: renkei_idp::pages::Locale,
    pub(super) t: &'static Texts,
    pub(super) c: &'static ConsoleTexts,
    pub(super) csrf_token: String,
    pub(super) cookies: Vec<axum::http::HeaderValue>,
}

/// Lets a signed-in teacher in, or answers with the page that says the view is for teachers.
pub(super) async fn enter_teacher(
    console: &Console,
    headers: &HeaderMap,
    lang: Option<&str>,
) -> Result<TeacherVisit, Response> {
    let locale = console.idp.locale(lang, None, headers);
    let (t, c) = (locale.texts(), ConsoleTexts::of(locale));
    let mut cookies: Vec<_> = console
        .idp
        .remember_locale(lang, locale)
        .into_iter()
        .collect();
    let (csrf_token, csrf_cookie) = console.idp.csrf.token(headers);
    cookies.extend(csrf_cookie);
    let session = match renkei_idp::session::current(&console.idp, headers).await {
        Ok(session) => session,
        Err(error) => return Err(failure(error.into())),
    };
    // A one-factor session (a password, a recovery code, an upstream's password) of a teacher
    // who must now use a passkey (the board's rule, or the end of its grace period) no longer
    // opens the class view.
    let session = match session {
        Some(s) => {
            match renkei_idp::assurance::sign_in_counts(
                console.idp.store.as_ref(),
                &s.user_id,
                &s.amr,
                renkei_platform::clock::now(),
            )
            .await
            {
                Ok(true) => Some(s),
                Ok(false) => None,
                Err(error) => return Err(failure(error.into())),
            }
        }
        None => None,
    };
    let user = match session {
        Some(session) => console
            .idp
            .store
            .user(&session.user_id)
            .await
            .ok()
            .flatten()
            .filter(|u| u.enabled),
        None => None,
    };
    match user.filter(|u| Role::parse(&u.role) == Some(Role::Teacher)) {
        Some(teacher) => Ok(TeacherVisit {
            teacher,
            locale,
            t,
            c,
            csrf_token,
            cookies,
        }),
        None => {
            let page = MessagePage {
                t,
                toggle_href: toggle_href(t, "/class", &[]),
                title: c.classes_title.to_owned(),
                lines: vec![c.not_teacher.to_owned()],
                links: vec![("/login".to_owned(), t.sign_in)],
                action: None,
                footer: vec![("/".to_owned(), c.nav_home)],
                csrf_token,
            };
            let mut response = render(&page);
            *response.status_mut() = StatusCode::FORBIDDEN;
            Err(renkei_platform::web::with_cookies(response, cookies))
        }
    }
}

/// Lets a teacher's form in: a signed-in teacher and the form's CSRF token; else the page that
/// says why not.
pub(super) async fn enter_teacher_form(
    console: &Console,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(TeacherVisit, super::FormFields), Response> {
    let fields = super::FormFields::parse(body);
    let visit = enter_teacher(console, headers, None).await?;
    if !fields.csrf_ok(console, headers) {
        return Err(super::expired_form());
    }
    Ok((visit, fields))
}

/// `GET /class`.
pub async fn page(
    State(console): State<Console>,
    headers: HeaderMap,
    Query(query): Query<LangQuery>,
) -> Response {
    let visit = match enter_teacher(&console, &headers, query.lang()).await {
        Ok(visit) => visit,
        Err(refused) => return refused,
    };
    let TeacherVisit {
        teacher,
        locale,
        t,
        c,
        csrf_token,
        cookies,
    } = visit;
    let via = format!("class view ({})", teacher.username);
    let loaded = async {
        let classes = class::of_teacher(&console, &teacher, &via).await?;
        let labels = Labels::load(&console, locale).await?;
        Ok::<_, crate::Error>((classes, labels))
    }
    .await;
    let (classes, labels) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return failure(error),
    };
    let page = ClassPage {
        t,
        c,
        toggle_href: toggle_href(t, "/class", &[]),
        csrf_token,
        who: c.signed_in_as(&renkei_idp::user::display_name(&teacher), &teacher.username),
        classes,
        labels,
    };
    renkei_platform::web::with_cookies(render(&page), cookies)
}

#[derive(Template)]
#[template(path = "admin_slip.html")]
struct SlipPage {
    t: &'static Texts,
    c: &'static ConsoleTexts,
    toggle_href: String,
    csrf_token: String,
    slip: Slip,
}

/// `POST /class/pupils/{pupil_id}/password`: a new password for a pupil of the teacher's
/// classes, as a slip to print.
pub async fn issue_slip(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(pupil_id): Path<String>,
    body: Bytes,
) -> Response {
    let (visit, _) = match enter_teacher_form(&console, &headers, &body).await {
        Ok(entered) => entered,
        Err(refused) => return refused,
    };
    let via = format!("class view ({})", visit.teacher.username);
    let slip = match class::issue_slip(&console, &visit.teacher, &pupil_id, &via).await {
        Ok(slip) => slip,
        Err(error) => return failure(error),
    };
    let page = SlipPage {
        t: visit.t,
        c: visit.c,
        toggle_href: toggle_href(visit.t, "/class", &[]),
        csrf_token: visit.csrf_token,
        slip,
    };
    let mut response = render(&page);
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    renkei_platform::web::with_cookies(response, visit.cookies)
}
