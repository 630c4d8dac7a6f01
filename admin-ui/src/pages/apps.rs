//! `/admin/apps`: the apps, registering one (its secret shown once), and each app's page: its
//! registration, its policies with their history, the policy form with the preview of who
//! would be covered, a new secret, disabling.

use std::collections::HashMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use renkei_idp::pages::{Locale, Texts, filters, render, toggle_href};

use super::dashboard::LangQuery;
use super::{ConsoleTexts, FormFields, Frame, Section, Visit, date, enter, enter_form, failure};
use crate::Console;
use crate::apps::{self, App, NewApp};
use crate::error::Error;
use crate::policies::{self, PolicyBody, PolicyPreview, PolicyVersion};
use crate::reference::{self, Reference};

#[derive(Template)]
#[template(path = "admin_apps.html")]
struct AppsPage {
    t: &'static Texts,
    toggle_href: String,
    f: Frame,
    apps: Vec<(App, String)>,
    board: bool,
    form: RegisterForm,
}

/// The registration form as typed, with what is wrong with it.
#[derive(Default)]
struct RegisterForm {
    name: String,
    vendor: String,
    policy_uri: String,
    redirect_uris: String,
    public: bool,
    app_only: bool,
    /// The app also gets the pupils' classes (the `classes` scope).
    classes: bool,
    name_error: Option<&'static str>,
    error: Option<String>,
    /// What the last form did (disabling an app), said once.
    notice: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "admin_registered.html")]
struct RegisteredPage {
    t: &'static Texts,
    toggle_href: String,
    f: Frame,
    title: &'static str,
    client_id: String,
    secret: Option<String>,
}

/// `GET /admin/apps`.
pub async fn list(
    State(console): State<Console>,
    headers: HeaderMap,
    Query(query): Query<LangQuery>,
) -> Response {
    let mut visit = match enter(&console, &headers, query.lang(), "/admin/apps").await {
        Ok(visit) => visit,
        Err(refused) => return refused,
    };
    let (word, clear) = renkei_idp::notice::take(&console.idp, &headers);
    visit.cookies.extend(clear);
    let form = RegisterForm {
        notice: word
            .filter(|w| w == "app-disabled")
            .map(|_| visit.c.disabled),
        ..RegisterForm::default()
    };
    apps_page(&console, visit, form, StatusCode::OK).await
}

async fn apps_page(
    console: &Console,
    visit: Visit,
    form: RegisterForm,
    status: StatusCode,
) -> Response {
    let apps = match apps::list(console, &visit.actor).await {
        Ok(apps) => apps,
        Err(error) => return failure(error),
    };
    let page = AppsPage {
        t: visit.t,
        toggle_href: toggle_href(visit.t, "/admin/apps", &[]),
        f: visit.frame(console, Section::Apps).await,
        apps: apps
            .into_iter()
            .map(|app| {
                let on = visit.locale.date(app.registered_at);
                (app, on)
            })
            .collect(),
        board: visit.actor.school().is_none(),
        form,
    };
    let mut response = render(&page);
    *response.status_mut() = status;
    visit.respond(response)
}

/// `POST /admin/apps`: registers an app and shows its secret once.
pub async fn register(State(console): State<Console>, headers: HeaderMap, body: Bytes) -> Response {
    let (visit, fields) = match enter_form(&console, &headers, &body, "/admin/apps").await {
        Ok(entered) => entered,
        Err(refused) => return refused,
    };
    let mut form = RegisterForm {
        name: fields.get("name"),
        vendor: fields.get("vendor"),
        policy_uri: fields.get("policy_uri"),
        redirect_uris: fields.get("redirect_uris"),
        public: fields.get("kind") == "public",
        app_only: fields.get("app_only") == "yes",
        classes: fields.get("classes") == "yes",
        ..RegisterForm::default()
    };
    if form.name.is_empty() {
        form.name_error = Some(visit.c.required);
        return apps_page(&console, visit, form, StatusCode::BAD_REQUEST).await;
    }
    let mut grant_types = vec!["authorization_code".to_owned(), "refresh_token".to_owned()];
    if form.app_only {
        grant_types.push("client_credentials".to_owned());
    }
    let new = NewApp {
        name: form.name.clone(),
        vendor: Some(form.vendor.clone()),
        policy_uri: Some(form.policy_uri.clone()),
        redirect_uris: form
            .redirect_uris
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        public: form.public,
        grant_types,
        // The usual scopes, and the pupils' classes only when asked (never a default).
        scopes: if form.classes {
            renkei_idp::scope::DEFAULT_SCOPES
                .iter()
                .chain([&renkei_idp::scope::CLASSES_SCOPE])
                .map(|s| (*s).to_owned())
                .collect()
        } else {
            Vec::new()
        },
        admin_school: None,
    };
    match apps::register(&console, &visit.actor, new).await {
        Ok(registered) => {
            let page = RegisteredPage {
                t: visit.t,
                toggle_href: toggle_href(visit.t, "/admin/apps", &[]),
                f: visit.frame(&console, Section::Apps).await,
                title: visit.c.registered,
                client_id: registered.app.client_id,
                secret: registered.client_secret,
            };
            visit.respond(render(&page))
        }
        Err(error @ (Error::Invalid(_) | Error::Provider(renkei_idp::Error::Invalid(_)))) => {
            form.error = Some(error.detail());
            apps_page(&console, visit, form, StatusCode::BAD_REQUEST).await
        }
        Err(error) => failure(error),
    }
}

/// A policy version as a row.
struct PolicyRow {
    category: String,
    version: i64,
    basis: &'static str,
    reach: String,
    purpose: String,
    until: String,
    set: String,
    in_force: bool,
}

/// The policy form as typed.
#[derive(Default)]
struct PolicyForm {
    category: String,
    basis: String,
    schools: Vec<String>,
    classes: Vec<String>,
    grades: Vec<String>,
    purpose_ja: String,
    purpose_en: String,
    until: String,
    justification: String,
    error: Option<String>,
}

impl PolicyForm {
    fn of(fields: &FormFields) -> Self {
        PolicyForm {
            category: fields.get("category"),
            basis: fields.get("basis"),
            schools: fields.all("school"),
            classes: fields.all("class"),
            grades: fields.all("grade"),
            purpose_ja: fields.get("purpose_ja"),
            purpose_en: fields.get("purpose_en"),
            until: fields.get("until"),
            justification: fields.get("justification"),
            error: None,
        }
    }

    fn body(&self) -> PolicyBody {
        let some = |v: &String| (!v.is_empty()).then(|| v.clone());
        PolicyBody {
            category: self.category.clone(),
            basis: self.basis.clone(),
            schools: self.schools.clone(),
            classes: self.classes.clone(),
            grades: self.grades.clone(),
            purpose_ja: some(&self.purpose_ja),
            purpose_en: some(&self.purpose_en),
            valid_until: some(&self.until),
            justification: some(&self.justification),
        }
    }

    fn has(list: &[String], id: &str) -> bool {
        list.iter().any(|x| x == id)
    }
}

#[derive(Template)]
#[template(path = "admin_app.html")]
struct AppPage {
    t: &'static Texts,
    toggle_href: String,
    f: Frame,
    app: App,
    registered_on: String,
    board: bool,
    notice: Option<&'static str>,
    latest: Vec<PolicyRow>,
    history: Vec<PolicyRow>,

    reference: Reference,
    form: PolicyForm,
    preview: Option<PolicyPreview>,
    bases: [(&'static str, &'static str); 3],
}

impl AppPage {
    fn checked(&self, list: &[String], id: &str) -> bool {
        PolicyForm::has(list, id)
    }
}

/// `GET /admin/apps/{client_id}`.
pub async fn show(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(client_id): Path<String>,
    Query(query): Query<LangQuery>,
) -> Response {
    let path = format!("/admin/apps/{client_id}");
    let mut visit = match enter(&console, &headers, query.lang(), &path).await {
        Ok(visit) => visit,
        Err(refused) => return refused,
    };
    let (word, clear) = renkei_idp::notice::take(&console.idp, &headers);
    visit.cookies.extend(clear);
    let notice = word.filter(|w| w == "policy-saved").map(|_| visit.c.saved);
    let form = PolicyForm {
        basis: "school".into(),
        ..PolicyForm::default()
    };
    app_page(
        &console,
        visit,
        &client_id,
        form,
        None,
        notice,
        StatusCode::OK,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn app_page(
    console: &Console,
    visit: Visit,
    client_id: &str,
    form: PolicyForm,
    preview: Option<PolicyPreview>,
    notice: Option<&'static str>,
    status: StatusCode,
) -> Response {
    let loaded = async {
        let app = App::from(&apps::find(console, client_id).await?);
        let policies = policies::of_app(console, &visit.actor, client_id).await?;
        let reference = reference::reference(console, &visit.actor).await?;
        Ok::<_, Error>((app, policies, reference))
    }
    .await;
    let (app, policies, reference) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return failure(error),
    };
    let names = Names::of(&reference, visit.locale);
    let rows = |versions: &[PolicyVersion]| -> Vec<PolicyRow> {
        versions
            .iter()
            .map(|v| names.row(v, visit.locale, visit.c))
            .collect()
    };
    let c = visit.c;
    let page = AppPage {
        t: visit.t,
        toggle_href: toggle_href(visit.t, &format!("/admin/apps/{client_id}"), &[]),
        f: visit.frame(console, Section::Apps).await,
        registered_on: visit.locale.date(app.registered_at),
        app,
        board: visit.actor.school().is_none(),
        notice,
        latest: rows(&policies.latest),
        history: rows(&policies.history),
        reference,
        form,
        preview,
        bases: [
            ("school", c.basis_school),
            ("guardian", c.basis_guardian),
            ("student", c.basis_student),
        ],
    };
    let mut response = render(&page);
    *response.status_mut() = status;
    visit.respond(response)
}

/// What an app read of one category in the last week.
struct ReadRow {
    category: String,
    reads: u64,
    records: Option<i64>,
    pupils: usize,
}

#[derive(Template)]
#[template(path = "admin_app_reads.html")]
struct ReadsPage {
    t: &'static Texts,
    toggle_href: String,
    f: Frame,
    client_id: String,
    name: String,
    since: String,
    rows: Vec<ReadRow>,
    refused: u64,
    /// False when the week held more reads than one summary counts.
    complete: bool,
    /// The audit log, filtered to the app's reads of the week.
    log_href: String,
}

/// `GET /admin/apps/{client_id}/reads`: what the app read in the last week, summed from the
/// audit log on request (a long read).
pub async fn reads(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(client_id): Path<String>,
    Query(query): Query<LangQuery>,
) -> Response {
    let path = format!("/admin/apps/{client_id}/reads");
    let visit = match enter(&console, &headers, query.lang(), &path).await {
        Ok(visit) => visit,
        Err(refused) => return refused,
    };
    let loaded = async {
        let app = apps::find(&console, &client_id).await?;
        let reads = crate::audit::reads_of_app(&console, &visit.actor, &client_id).await?;
        let reference = reference::reference(&console, &visit.actor).await?;
        Ok::<_, Error>((app, reads, reference))
    }
    .await;
    let (app, reads, reference) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return failure(error),
    };
    let names = Names::of(&reference, visit.locale);
    let c = visit.c;
    let page = ReadsPage {
        t: visit.t,
        toggle_href: toggle_href(visit.t, &path, &[]),
        f: visit.frame(&console, Section::Apps).await,
        name: app.name,
        since: visit.locale.date(reads.from),
        rows: reads
            .categories
            .iter()
            .map(|r| ReadRow {
                category: if r.category.is_empty() {
                    c.roster_reads.to_owned()
                } else {
                    names
                        .categories
                        .get(&r.category)
                        .cloned()
                        .unwrap_or_else(|| r.category.clone())
                },
                reads: r.reads,
                records: r.records,
                pupils: r.pupils,
            })
            .collect(),
        refused: reads.refused,
        complete: reads.complete,
        log_href: format!(
            "/admin/audit?app={}&kind=read&from={}",
            client_id,
            renkei_platform::clock::japan_date(reads.from)
        ),
        client_id,
    };
    visit.respond(render(&page))
}

/// Names of schools, classes and categories, for a policy's row.
struct Names {
    places: HashMap<String, String>,
    categories: HashMap<String, String>,
}

impl Names {
    fn of(reference: &Reference, locale: Locale) -> Self {
        let mut places = HashMap::new();
        for school in &reference.schools {
            places.insert(school.id.clone(), school.name.clone());
            for class in &school.classes {
                places.insert(class.id.clone(), format!("{}{}", school.name, class.title));
            }
        }
        let categories = reference
            .categories
            .iter()
            .map(|c| {
                let name = match locale {
                    Locale::Ja => c.name_ja.clone(),
                    Locale::En => c.name_en.clone(),
                };
                (c.id.clone(), name)
            })
            .collect();
        Names { places, categories }
    }

    fn row(&self, v: &PolicyVersion, locale: Locale, c: &ConsoleTexts) -> PolicyRow {
        PolicyRow {
            category: self
                .categories
                .get(&v.category)
                .cloned()
                .unwrap_or_else(|| v.category.clone()),
            version: v.version,
            basis: c.basis(v.basis),
            reach: v
                .reach
                .iter()
                .map(|part| {
                    self.places
                        .get(&part.id)
                        .cloned()
                        .unwrap_or_else(|| part.id.clone())
                })
                .collect::<Vec<_>>()
                .join(c.list_separator),
            purpose: match locale {
                Locale::Ja => v.purpose_ja.clone().or_else(|| v.purpose_en.clone()),
                Locale::En => v.purpose_en.clone().or_else(|| v.purpose_ja.clone()),
            }
            .unwrap_or_default(),
            until: date(locale, v.valid_until),
            set: format!(
                "{}{}{}",
                date(locale, Some(v.set_at)),
                c.list_separator,
                v.set_by
            ),
            in_force: v.in_force,
        }
    }
}

/// `POST /admin/apps/{client_id}/policies`: `action=preview` shows who would be covered;
/// `action=save` saves a new version.
pub async fn policy(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(client_id): Path<String>,
    body: Bytes,
) -> Response {
    let path = format!("/admin/apps/{client_id}");
    let (visit, fields) = match enter_form(&console, &headers, &body, &path).await {
        Ok(entered) => entered,
        Err(refused) => return refused,
    };
    let mut form = PolicyForm::of(&fields);
    let body = form.body();
    let outcome = if fields.get("action") == "save" {
        policies::set(&console, &visit.actor, &client_id, &body)
            .await
            .map(|_| None)
    } else {
        policies::preview(&console, &visit.actor, &client_id, &body)
            .await
            .map(Some)
    };
    match outcome {
        Ok(None) => visit.notice_after(&console, &path, "policy-saved"),
        Ok(Some(preview)) => {
            app_page(
                &console,
                visit,
                &client_id,
                form,
                Some(preview),
                None,
                StatusCode::OK,
            )
            .await
        }
        Err(error) => {
            let (status, _, _) = error.classify();
            if status == StatusCode::INTERNAL_SERVER_ERROR || status == StatusCode::NOT_FOUND {
                return failure(error);
            }
            form.error = Some(error.detail());
            app_page(&console, visit, &client_id, form, None, None, status).await
        }
    }
}

/// `POST /admin/apps/{client_id}/secret`: a new secret, shown once.
pub async fn rotate(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(client_id): Path<String>,
    body: Bytes,
) -> Response {
    let (visit, _) = match enter_form(
        &console,
        &headers,
        &body,
        &format!("/admin/apps/{client_id}"),
    )
    .await
    {
        Ok(entered) => entered,
        Err(refused) => return refused,
    };
    match apps::rotate_secret(&console, &visit.actor, &client_id).await {
        Ok(secret) => {
            let page = RegisteredPage {
                t: visit.t,
                toggle_href: toggle_href(visit.t, &format!("/admin/apps/{client_id}"), &[]),
                f: visit.frame(&console, Section::Apps).await,
                title: visit.c.rotated,
                client_id: secret.client_id,
                secret: Some(secret.client_secret),
            };
            visit.respond(render(&page))
        }
        Err(error) => failure(error),
    }
}

/// `POST /admin/apps/{client_id}/disable`.
pub async fn disable(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(client_id): Path<String>,
    body: Bytes,
) -> Response {
    let (visit, _) = match enter_form(&console, &headers, &body, "/admin/apps").await {
        Ok(entered) => entered,
        Err(refused) => return refused,
    };
    match apps::disable(&console, &visit.actor, &client_id).await {
        Ok(_) => visit.notice_after(&console, "/admin/apps", "app-disabled"),
        Err(error) => failure(error),
    }
}
