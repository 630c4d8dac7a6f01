//! `/class`: the teachers' class view.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use renkei_directory::Role;
use renkei_idp::pages::{MessagePage, Texts, filters, render, toggle_href};

use super::dashboard::LangQuery;
use super::{ConsoleTexts, Labels, failure};
use crate::Console;
use crate::class::{self, ClassView};

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

/// `GET /class`.
pub async fn page(
    State(console): State<Console>,
    headers: HeaderMap,
    Query(query): Query<LangQuery>,
) -> Response {
    let locale = console.idp.locale(query.lang(), None, &headers);
    let (t, c) = (locale.texts(), ConsoleTexts::of(locale));
    let mut cookies: Vec<_> = console
        .idp
        .remember_locale(query.lang(), locale)
        .into_iter()
        .collect();
    let (csrf_token, csrf_cookie) = console.idp.csrf.token(&headers);
    cookies.extend(csrf_cookie);
    let user = match renkei_idp::session::current(&console.idp, &headers).await {
        Ok(Some(session)) => console
            .idp
            .store
            .user(&session.user_id)
            .await
            .ok()
            .flatten()
            .filter(|u| u.enabled),
        Ok(None) => None,
        Err(error) => return failure(error.into()),
    };
    let teacher = user.filter(|u| Role::parse(&u.role) == Some(Role::Teacher));
    let Some(teacher) = teacher else {
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
        return renkei_platform::web::with_cookies(response, cookies);
    };
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
