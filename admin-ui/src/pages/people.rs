//! `/admin/people`: search people by name, kana, username, role (and school for the board).

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use renkei_idp::pages::{Texts, filters, render, toggle_href};

use super::{Frame, Section, enter, enter_form, failure};
use crate::Console;
use crate::people::{self, AccessChange, PersonView, Search};

#[derive(Template)]
#[template(path = "admin_people.html")]
struct PeoplePage {
    t: &'static Texts,
    toggle_href: String,
    f: Frame,
    search: Search,
    searched: bool,
    roles: Vec<(&'static str, &'static str)>,
    schools: Vec<(String, String)>,
    /// The classes to filter by, per school: (school name, [(class id, title)]).
    classes: Vec<(String, Vec<(String, String)>)>,
    /// The chosen class, when it is one the administrator reaches: its cards can be printed.
    print_class: Option<String>,
    people: Vec<(PersonView, &'static str)>,
    next: Option<String>,
    /// A board administrator (acts on administrators too).
    board: bool,
}

/// `GET /admin/people`.
pub async fn page(
    State(console): State<Console>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let search: Search = match crate::api::query(raw.as_deref()) {
        Ok(search) => search,
        Err(error) => return failure(error),
    };
    let lang = super::lang_of(raw.as_deref());
    let visit = match enter(&console, &headers, lang.as_deref(), "/admin/people").await {
        Ok(visit) => visit,
        Err(refused) => return refused,
    };
    let searched = raw.as_deref().is_some_and(|r| r.contains("q="));
    let found = if searched {
        match people::search(&console, &visit.actor, &search).await {
            Ok(found) => Some(found),
            Err(error) => return failure(error),
        }
    } else {
        None
    };
    let reference = match crate::reference::reference(&console, &visit.actor).await {
        Ok(reference) => reference,
        Err(error) => return failure(error),
    };
    let schools = if visit.actor.school().is_none() {
        reference
            .schools
            .iter()
            .map(|s| (s.id.clone(), s.name.clone()))
            .collect()
    } else {
        Vec::new()
    };
    let print_class = search.class.clone().filter(|chosen| {
        reference
            .schools
            .iter()
            .any(|s| s.classes.iter().any(|c| &c.id == chosen))
    });
    let classes = reference
        .schools
        .into_iter()
        .filter(|s| !s.classes.is_empty())
        .map(|s| {
            let classes = s.classes.into_iter().map(|c| (c.id, c.title)).collect();
            (s.name, classes)
        })
        .collect();
    let c = visit.c;
    let next = found.as_ref().and_then(|f| f.next_offset).map(|offset| {
        let mut query: Vec<(&str, String)> = vec![("q", search.q.clone())];
        for (key, value) in [
            ("school", &search.school),
            ("class", &search.class),
            ("role", &search.role),
        ] {
            if let Some(value) = value {
                query.push((key, value.clone()));
            }
        }
        query.push(("offset", offset.to_string()));
        format!(
            "/admin/people?{}",
            serde_urlencoded::to_string(query).unwrap_or_default()
        )
    });
    let page = PeoplePage {
        t: visit.t,
        toggle_href: toggle_href(visit.t, "/admin/people", &[("q", &search.q)]),
        f: visit.frame(&console, Section::People).await,
        roles: ["student", "teacher", "guardian", "administrator"]
            .into_iter()
            .map(|r| (r, c.role(r)))
            .collect(),
        schools,
        classes,
        print_class,
        people: found
            .map(|f| f.people)
            .unwrap_or_default()
            .into_iter()
            .map(|p| {
                let role = c.role(&p.role);
                (p, role)
            })
            .collect(),
        searched,
        search,
        next,
        board: visit.actor.school().is_none(),
    };
    visit.respond(render(&page))
}

#[derive(Template)]
#[template(path = "admin_person_done.html")]
struct DonePage {
    t: &'static Texts,
    toggle_href: String,
    f: Frame,
    title: &'static str,
    lead: &'static str,
    username: String,
    password: Option<String>,
}

/// `POST /admin/people/{account_id}/password`: a new password, shown once as a slip.
pub async fn issue_password(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
    body: Bytes,
) -> Response {
    let (visit, _) = match enter_form(&console, &headers, &body, "/admin/people").await {
        Ok(entered) => entered,
        Err(refused) => return refused,
    };
    match people::issue_password(&console, &visit.actor, &account_id).await {
        Ok(issued) => {
            let (title, lead) = (visit.c.password_issued, visit.c.password_slip_lead);
            done(
                &console,
                visit,
                title,
                lead,
                issued.username,
                Some(issued.password),
            )
            .await
        }
        Err(error) => failure(error),
    }
}

/// `POST /admin/people/{account_id}/passkeys`: every passkey removed, signed out everywhere.
pub async fn remove_passkeys(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
    body: Bytes,
) -> Response {
    let (visit, _) = match enter_form(&console, &headers, &body, "/admin/people").await {
        Ok(entered) => entered,
        Err(refused) => return refused,
    };
    match people::remove_passkeys(&console, &visit.actor, &account_id).await {
        Ok(removed) => {
            let (title, lead) = (visit.c.passkeys_removed, visit.c.passkeys_removed_lead);
            done(&console, visit, title, lead, removed.username, None).await
        }
        Err(error) => failure(error),
    }
}

/// `POST /admin/people/{account_id}/lock`, `…/unlock`, `…/sign-out`.
async fn access(
    console: Console,
    headers: HeaderMap,
    account_id: String,
    body: Bytes,
    change: AccessChange,
) -> Response {
    let (visit, _) = match enter_form(&console, &headers, &body, "/admin/people").await {
        Ok(entered) => entered,
        Err(refused) => return refused,
    };
    match people::change_access(&console, &visit.actor, &account_id, change).await {
        Ok(state) => {
            let c = visit.c;
            let (title, lead) = match change {
                AccessChange::Lock => (c.locked_title, c.locked_lead),
                AccessChange::Unlock if state.enabled => (c.unlocked_title, c.unlocked_lead),
                AccessChange::Unlock => (c.unlocked_title, c.unlocked_roster_lead),
                AccessChange::SignOut => (c.signed_out_title, c.signed_out_lead),
            };
            done(&console, visit, title, lead, state.username, None).await
        }
        Err(error) => failure(error),
    }
}

/// `POST /admin/people/{account_id}/lock`.
pub async fn lock(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
    body: Bytes,
) -> Response {
    access(console, headers, account_id, body, AccessChange::Lock).await
}

/// `POST /admin/people/{account_id}/unlock`.
pub async fn unlock(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
    body: Bytes,
) -> Response {
    access(console, headers, account_id, body, AccessChange::Unlock).await
}

/// `POST /admin/people/{account_id}/sign-out`.
pub async fn sign_out(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
    body: Bytes,
) -> Response {
    access(console, headers, account_id, body, AccessChange::SignOut).await
}

#[derive(Template)]
#[template(path = "admin_enrolment.html")]
struct EnrolmentPage {
    t: &'static Texts,
    toggle_href: String,
    f: Frame,
    link: people::EnrolmentLink,
    expires: String,
    /// The link as a QR code (SVG), for a phone's camera.
    qr_svg: String,
}

/// `POST /admin/people/{account_id}/enrolment`: a one-time passkey enrolment link, with its QR
/// code.
pub async fn enrolment_link(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
    body: Bytes,
) -> Response {
    let (visit, _) = match enter_form(&console, &headers, &body, "/admin/people").await {
        Ok(entered) => entered,
        Err(refused) => return refused,
    };
    let link = match people::enrolment_link(&console, &visit.actor, &account_id).await {
        Ok(link) => link,
        Err(error) => return failure(error),
    };
    let qr_svg = match crate::cards::qr_svg(&link.url, 240) {
        Ok(svg) => svg,
        Err(error) => return failure(error),
    };
    let page = EnrolmentPage {
        t: visit.t,
        toggle_href: toggle_href(visit.t, "/admin/people", &[]),
        f: visit.frame(&console, Section::People).await,
        expires: visit.locale.date_time(link.expires_at),
        link,
        qr_svg,
    };
    let mut response = render(&page);
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    visit.respond(response)
}

/// The page that says what was done to `username` (with the password issued, if any).
async fn done(
    console: &Console,
    visit: super::Visit,
    title: &'static str,
    lead: &'static str,
    username: String,
    password: Option<String>,
) -> Response {
    let page = DonePage {
        t: visit.t,
        toggle_href: toggle_href(visit.t, "/admin/people", &[]),
        f: visit.frame(console, Section::People).await,
        title,
        lead,
        username,
        password,
    };
    visit.respond(render(&page))
}
