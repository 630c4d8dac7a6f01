//! Printed sign-in cards: the sheet a teacher prints for their class (or one pupil's new card)
//! from `/class`, and an administrator from the people page for a class they reach; voiding a
//! lost card. The sheet is A4 with cut lines, and only the cards print.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use renkei_idp::pages::{Locale, MessagePage, Texts, filters, render, toggle_href};

use super::class::{TeacherVisit, enter_teacher_form};
use super::{ConsoleTexts, FormFields, enter_form, failure};
use crate::Console;
use crate::cards::{self, PrintedCard, Printer};

/// One card as printed.
struct CardView {
    name: String,
    kana: String,
    class: String,
    number: Option<i64>,
    qr_svg: String,
    code: String,
    pin: Option<String>,
    until: String,
}

#[derive(Template)]
#[template(path = "admin_cards.html")]
struct SheetPage {
    t: &'static Texts,
    c: &'static ConsoleTexts,
    toggle_href: String,
    csrf_token: String,
    /// Where the page's "back" leads: the class view or the people page (empty: a document
    /// printed from the command line, with no way around a site).
    back: &'static str,
    cards: Vec<CardView>,
    /// For a document on its own: the stylesheet, inline.
    inline_style: Option<&'static str>,
}

/// The sheet as a document on its own (the command line's `--format html`, for boards that
/// print elsewhere): the stylesheet inline, no links.
pub fn standalone(locale: Locale, cards: Vec<PrintedCard>) -> String {
    let page = SheetPage {
        t: locale.texts(),
        c: ConsoleTexts::of(locale),
        toggle_href: String::new(),
        csrf_token: String::new(),
        back: "",
        cards: cards.into_iter().map(|p| view(locale, p)).collect(),
        inline_style: Some(renkei_idp::pages::STYLESHEET),
    };
    page.render().unwrap_or_default()
}

fn view(locale: Locale, printed: PrintedCard) -> CardView {
    CardView {
        name: printed.card.name,
        kana: printed.card.kana,
        class: printed.class,
        number: printed.number,
        qr_svg: printed.qr_svg,
        code: printed.card.code,
        pin: printed.card.pin,
        until: locale.date(printed.card.expires_at),
    }
}

/// The sheet of `cards`, shown once (the codes are not kept): never cached.
fn sheet(
    t: &'static Texts,
    c: &'static ConsoleTexts,
    locale: Locale,
    csrf_token: String,
    back: &'static str,
    cards: Vec<PrintedCard>,
) -> Response {
    let page = SheetPage {
        t,
        c,
        toggle_href: toggle_href(t, back, &[]),
        csrf_token,
        back,
        cards: cards.into_iter().map(|p| view(locale, p)).collect(),
        inline_style: None,
    };
    let mut response = render(&page);
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}

/// The school year a form's PIN starts from (`pin_from`, 1–12), if any.
fn pin_from(fields: &FormFields) -> Option<u8> {
    fields
        .get("pin_from")
        .parse::<u8>()
        .ok()
        .filter(|year| (1..=12).contains(year))
}

/// A teacher's sheet of `printed` cards, leading back to the class view.
fn teacher_sheet(visit: TeacherVisit, printed: Vec<PrintedCard>) -> Response {
    let sheet = sheet(
        visit.t,
        visit.c,
        visit.locale,
        visit.csrf_token,
        "/class",
        printed,
    );
    renkei_platform::web::with_cookies(sheet, visit.cookies)
}

/// `POST /class/{class_id}/cards`: a teacher prints their class's cards.
pub async fn teacher_class(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(class_id): Path<String>,
    body: Bytes,
) -> Response {
    let (visit, fields) = match enter_teacher_form(&console, &headers, &body).await {
        Ok(entered) => entered,
        Err(refused) => return refused,
    };
    let printer = Printer::Teacher(&visit.teacher);
    match cards::print_class(&console, &printer, &class_id, pin_from(&fields)).await {
        Ok(printed) => teacher_sheet(visit, printed),
        Err(error) => failure(error),
    }
}

/// `POST /class/{class_id}/pupils/{pupil_id}/card`: a new card for one pupil.
pub async fn teacher_pupil(
    State(console): State<Console>,
    headers: HeaderMap,
    Path((class_id, pupil_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let (visit, fields) = match enter_teacher_form(&console, &headers, &body).await {
        Ok(entered) => entered,
        Err(refused) => return refused,
    };
    let printer = Printer::Teacher(&visit.teacher);
    match cards::print_pupil(&console, &printer, &class_id, &pupil_id, pin_from(&fields)).await {
        Ok(printed) => teacher_sheet(visit, vec![printed]),
        Err(error) => failure(error),
    }
}

/// `POST /class/{class_id}/pupils/{pupil_id}/card/void`: a lost card stops working.
pub async fn teacher_void(
    State(console): State<Console>,
    headers: HeaderMap,
    Path((class_id, pupil_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let (visit, _) = match enter_teacher_form(&console, &headers, &body).await {
        Ok(entered) => entered,
        Err(refused) => return refused,
    };
    let printer = Printer::Teacher(&visit.teacher);
    match cards::void_pupil(&console, &printer, &class_id, &pupil_id).await {
        Ok(voided) => {
            let (t, c) = (visit.t, visit.c);
            let page = MessagePage {
                t,
                toggle_href: toggle_href(t, "/class", &[]),
                title: c.card_void.to_owned(),
                lines: vec![if voided { c.card_voided } else { c.card_none }.to_owned()],
                links: vec![("/class".to_owned(), c.to_class)],
                action: None,
                footer: vec![("/".to_owned(), c.nav_home)],
                csrf_token: visit.csrf_token,
            };
            renkei_platform::web::with_cookies(render(&page), visit.cookies)
        }
        Err(error) => failure(error),
    }
}

/// `POST /admin/classes/{class_id}/cards`: an administrator prints a class's cards.
pub async fn admin_class(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(class_id): Path<String>,
    body: Bytes,
) -> Response {
    let (visit, fields) = match enter_form(&console, &headers, &body, "/admin/people").await {
        Ok(entered) => entered,
        Err(refused) => return refused,
    };
    let printer = Printer::Administrator(&visit.actor);
    match cards::print_class(&console, &printer, &class_id, pin_from(&fields)).await {
        Ok(printed) => {
            let response = sheet(
                visit.t,
                visit.c,
                visit.locale,
                visit.csrf_token.clone(),
                "/admin/people",
                printed,
            );
            visit.respond(response)
        }
        Err(error) => failure(error),
    }
}
