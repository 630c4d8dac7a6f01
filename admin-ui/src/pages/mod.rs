//! The console's pages: server-rendered, Japanese first, usable with a keyboard and on a
//! tablet. Each page asks [`crate::actor`] who is signed in, calls the same operation as the
//! JSON API, and renders. Forms carry the provider's CSRF token.

pub mod apps;
pub mod audit;
pub mod cards;
pub mod class;
pub mod consents;
pub mod dashboard;
pub mod people;
pub mod roster;
pub mod security;
pub mod texts;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use renkei_idp::pages::{Locale, MessagePage, Texts, render, toggle_href};

use crate::Console;
use crate::actor::{self, Actor, Refusal};
use crate::error::Error;
pub use texts::ConsoleTexts;

/// The console's page routes.
pub fn router() -> Router<Console> {
    Router::new()
        .route("/admin", get(dashboard::page))
        .route("/admin/apps", get(apps::list).post(apps::register))
        .route("/admin/apps/{client_id}", get(apps::show))
        .route("/admin/apps/{client_id}/reads", get(apps::reads))
        .route("/admin/apps/{client_id}/policies", post(apps::policy))
        .route("/admin/apps/{client_id}/secret", post(apps::rotate))
        .route("/admin/apps/{client_id}/disable", post(apps::disable))
        .route("/admin/people", get(people::page))
        .route(
            "/admin/people/{account_id}/password",
            post(people::issue_password),
        )
        .route(
            "/admin/people/{account_id}/passkeys",
            post(people::remove_passkeys),
        )
        .route("/admin/people/{account_id}/lock", post(people::lock))
        .route("/admin/people/{account_id}/unlock", post(people::unlock))
        .route(
            "/admin/people/{account_id}/sign-out",
            post(people::sign_out),
        )
        .route(
            "/admin/people/{account_id}/enrolment",
            post(people::enrolment_link),
        )
        .route(
            "/admin/roster",
            get(roster::page)
                .post(roster::upload)
                .layer(axum::extract::DefaultBodyLimit::max(
                    crate::roster::MAX_UPLOAD + 64 * 1024,
                )),
        )
        .route("/admin/roster/jobs/{id}", get(roster::job))
        .route(
            "/admin/roster/held/{import_id}/confirm",
            post(roster::confirm),
        )
        .route("/admin/consents", get(consents::page))
        .route("/admin/consents/classes/{class_id}", get(consents::class))
        .route(
            "/admin/consents/pupils/{student_id}",
            get(consents::pupil).post(consents::record),
        )
        .route("/admin/audit", get(audit::page))
        .route("/admin/audit/export", get(audit::export))
        .route("/admin/audit/verify", post(audit::verify))
        .route("/admin/security", get(security::page))
        .route("/admin/security/assurance", post(security::set_rule))
        .route("/admin/security/keys/rotate", post(security::rotate_keys))
        .route("/admin/security/upstreams", post(security::add_upstream))
        .route(
            "/admin/security/upstreams/{name}/{change}",
            post(security::change_upstream),
        )
        .route("/class", get(class::page))
        .route("/class/pupils/{pupil_id}/password", post(class::issue_slip))
        .route("/class/{class_id}/cards", post(cards::teacher_class))
        .route(
            "/class/{class_id}/pupils/{pupil_id}/card",
            post(cards::teacher_pupil),
        )
        .route(
            "/class/{class_id}/pupils/{pupil_id}/card/void",
            post(cards::teacher_void),
        )
        .route("/admin/classes/{class_id}/cards", post(cards::admin_class))
}

/// Which menu item a page is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The dashboard.
    Dashboard,
    /// Apps and their policies.
    Apps,
    /// People.
    People,
    /// Consents.
    Consents,
    /// Roster imports.
    Roster,
    /// The audit log.
    Audit,
    /// Sign-in rules and keys.
    Security,
}

/// What every console page shows around its content: the menu, who is signed in, sign-out.
pub struct Frame {
    /// The console's words.
    pub c: &'static ConsoleTexts,
    /// The page's section.
    pub section: Section,
    /// CSRF token for the page's forms.
    pub csrf_token: String,
    /// Who is signed in and what they administer.
    pub who: String,
    /// The page is in Japanese (names with both languages show the Japanese one).
    pub ja: bool,
}

impl Frame {
    /// Whether `section` is this page's (the menu marks it `aria-current`).
    pub fn is(&self, section: Section) -> bool {
        self.section == section
    }
}

/// A signed-in administrator's visit to a page.
pub struct Visit {
    /// Who.
    pub actor: Actor,
    /// The page's language.
    pub locale: Locale,
    /// The provider's words (layout, sign-out).
    pub t: &'static Texts,
    /// The console's words.
    pub c: &'static ConsoleTexts,
    /// The page's CSRF token.
    pub csrf_token: String,
    /// Cookies to set (language, CSRF, notice cleared).
    pub cookies: Vec<HeaderValue>,
}

impl Visit {
    /// The frame of a page in `section`.
    pub async fn frame(&self, console: &Console, section: Section) -> Frame {
        let place = match self.actor.school() {
            None => self.c.administers_board.to_owned(),
            Some(school) => {
                let name = console
                    .idp
                    .directory
                    .org(school)
                    .await
                    .ok()
                    .flatten()
                    .map_or_else(|| school.to_owned(), |org| org.name);
                format!("{}{name}", self.c.administers_school)
            }
        };
        let name = match &self.actor.user {
            Some(user) => self
                .c
                .signed_in_as(&renkei_idp::user::display_name(user), &user.username),
            None => self.actor.name.clone(),
        };
        Frame {
            c: self.c,
            section,
            csrf_token: self.csrf_token.clone(),
            who: format!("{name}{}{place}", self.c.sentence_break),
            ja: self.locale == Locale::Ja,
        }
    }

    /// The redirect to `path` after a form that did `what` (said once there), with the
    /// visit's cookies.
    pub fn notice_after(self, console: &Console, path: &str, what: &'static str) -> Response {
        let mut response = renkei_idp::notice::after(&console.idp, path, what);
        for cookie in self.cookies {
            response
                .headers_mut()
                .append(axum::http::header::SET_COOKIE, cookie);
        }
        response
    }

    /// A rendered page with the visit's cookies.
    pub fn respond(self, page: Response) -> Response {
        renkei_platform::web::with_cookies(page, self.cookies)
    }
}

/// Lets a browser in, or answers with the page that says why not and what to do.
pub async fn enter(
    console: &Console,
    headers: &HeaderMap,
    lang: Option<&str>,
    path: &str,
) -> std::result::Result<Visit, Response> {
    let locale = console.idp.locale(lang, None, headers);
    let t = locale.texts();
    let c = ConsoleTexts::of(locale);
    let mut cookies: Vec<HeaderValue> = console
        .idp
        .remember_locale(lang, locale)
        .into_iter()
        .collect();
    let (csrf_token, csrf_cookie) = console.idp.csrf.token(headers);
    cookies.extend(csrf_cookie);
    let refusal = match actor::from_session(&console.idp, headers).await {
        Ok(Ok(actor)) => {
            return Ok(Visit {
                actor,
                locale,
                t,
                c,
                csrf_token,
                cookies,
            });
        }
        Ok(Err(refusal)) => refusal,
        Err(error) => return Err(failure(error)),
    };
    let (status, line, links, action) = match refusal {
        Refusal::NotSignedIn => (
            StatusCode::UNAUTHORIZED,
            c.not_signed_in,
            vec![("/login".to_owned(), t.sign_in)],
            None,
        ),
        Refusal::NotAdministrator => (
            StatusCode::FORBIDDEN,
            c.not_administrator,
            vec![("/".to_owned(), c.nav_home)],
            Some(renkei_idp::pages::PageAction {
                path: "/logout",
                label: t.sign_out,
                fields: Vec::new(),
            }),
        ),
        Refusal::NeedsPasskey { has_passkey: true } => (
            StatusCode::FORBIDDEN,
            c.needs_passkey,
            Vec::new(),
            Some(renkei_idp::pages::PageAction {
                path: "/logout",
                label: c.sign_in_with_passkey,
                fields: Vec::new(),
            }),
        ),
        Refusal::NeedsPasskey { has_passkey: false } => (
            StatusCode::FORBIDDEN,
            c.needs_enrolment,
            vec![("/passkeys".to_owned(), c.enrol_passkey)],
            None,
        ),
    };
    let page = MessagePage {
        t,
        toggle_href: toggle_href(t, path, &[]),
        title: c.console.to_owned(),
        lines: vec![line.to_owned()],
        links,
        action,
        footer: vec![("/".to_owned(), c.nav_home)],
        csrf_token,
    };
    let mut response = render(&page);
    *response.status_mut() = status;
    Err(renkei_platform::web::with_cookies(response, cookies))
}

/// Lets a form's POST in: a signed-in administrator, and the form's CSRF token; else the page
/// that says why not.
pub async fn enter_form(
    console: &Console,
    headers: &HeaderMap,
    body: &[u8],
    path: &str,
) -> std::result::Result<(Visit, FormFields), Response> {
    let fields = FormFields::parse(body);
    let visit = enter(console, headers, None, path).await?;
    if !fields.csrf_ok(console, headers) {
        return Err(expired_form());
    }
    Ok((visit, fields))
}

/// A failed request as a page: the reader's mistake or a refusal says what is wrong; a
/// server failure says only that.
pub fn failure(error: Error) -> Response {
    let (status, _, _) = error.classify();
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(%error, "console page failed");
        let mut page = renkei_idp::pages::error_page(
            "ページを表示できませんでした。しばらくしてから、もう一度お試しください。",
            "The page could not be shown. Please try again in a moment.",
        );
        *page.status_mut() = status;
        return page;
    }
    let detail = error.detail();
    let (ja, en) = match status {
        StatusCode::NOT_FOUND => (
            format!("見つかりませんでした。（{detail}）"),
            format!("Not found: {detail}"),
        ),
        StatusCode::FORBIDDEN => (
            format!("この操作は許可されていません。（{detail}）"),
            format!("Not allowed: {detail}"),
        ),
        _ => (
            format!("入力内容を確認してください。（{detail}）"),
            format!("Please check what you entered: {detail}"),
        ),
    };
    let mut page = renkei_idp::pages::error_page(&ja, &en);
    *page.status_mut() = status;
    page
}

/// A form's fields, with repeated names (checkboxes) kept: `application/x-www-form-urlencoded`.
pub struct FormFields(Vec<(String, String)>);

impl FormFields {
    /// Parses a form body.
    pub fn parse(body: &[u8]) -> Self {
        FormFields(url::form_urlencoded::parse(body).into_owned().collect())
    }

    /// The first value of `name`, trimmed (empty if absent).
    pub fn get(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.trim().to_owned())
            .unwrap_or_default()
    }

    /// Every non-empty value of `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(key, value)| key == name && !value.trim().is_empty())
            .map(|(_, value)| value.trim().to_owned())
            .collect()
    }

    /// Whether the form's CSRF token is this browser's.
    pub fn csrf_ok(&self, console: &Console, headers: &HeaderMap) -> bool {
        console.idp.csrf.verify(headers, &self.get("csrf_token"))
    }
}

/// The page for a form whose CSRF check failed.
pub fn expired_form() -> Response {
    renkei_idp::Error::expired_form().into_response()
}

/// What an upload page says when the browser's upload broke off (both languages, in the
/// page's lead).
pub fn upload_failed() -> String {
    "the upload did not arrive whole; choose the file and send it again".into()
}

/// The language toggle (`lang`) of a raw query string, for pages whose query is parsed as an
/// API search.
pub fn lang_of(raw: Option<&str>) -> Option<String> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .find(|(key, _)| key == "lang")
        .map(|(_, value)| value.into_owned())
}

/// A date for people, in the page's language (empty for none).
pub fn date(locale: Locale, unix: Option<i64>) -> String {
    unix.map(|u| locale.date(u)).unwrap_or_default()
}

/// Names for the ids an audit event holds: apps and data categories, in the page's language.
pub struct Labels {
    apps: std::collections::HashMap<String, String>,
    categories: std::collections::HashMap<String, String>,
}

impl Labels {
    /// The names of every app (disabled ones keep their id) and category.
    pub async fn load(console: &Console, locale: Locale) -> crate::Result<Self> {
        let apps = console
            .idp
            .store
            .clients()
            .await?
            .into_iter()
            .map(|c| (c.id, c.name))
            .collect();
        let categories = console
            .consent
            .store
            .categories()
            .await?
            .into_iter()
            .map(|c| {
                let name = if locale == Locale::Ja {
                    c.name_ja
                } else {
                    c.name_en
                };
                (c.id, name)
            })
            .collect();
        Ok(Labels { apps, categories })
    }

    /// An app's name, or its id.
    pub fn app<'a>(&'a self, id: &'a str) -> &'a str {
        self.apps.get(id).map_or(id, String::as_str)
    }

    /// A category's name, or its id.
    pub fn category<'a>(&'a self, id: &'a str) -> &'a str {
        self.categories.get(id).map_or(id, String::as_str)
    }
}
