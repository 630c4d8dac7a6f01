//! `/`: the home page. Signed in, it says who you are (name, role, school, classes or
//! children), lists the apps you approved with "stop using", your sign-in methods and your
//! signed-in devices with "sign out the other devices", and leads to the consent page
//! (guardians and pupils), the passkeys page, and sign-out. Signed out, it leads to sign-in.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use renkei_directory::Role;
use renkei_directory::served::{By, RosterTable};
use renkei_idp::pages::{Locale, MessagePage, Texts, filters, render, toggle_href};
use renkei_idp::store::UserRow;
use serde::Deserialize;

use crate::notice::{self, Notice};
use crate::texts::{self, PortalTexts};
use crate::{Portal, Result};

/// The page.
pub const PATH: &str = "/";
/// Where "stop using" posts.
pub const STOP_PATH: &str = "/apps/stop";
/// Where "sign out the other devices" posts.
pub const OTHERS_PATH: &str = "/sessions/others";

/// Query of `GET /`.
#[derive(Debug, Default, Deserialize)]
pub struct HomeQuery {
    lang: Option<String>,
}

/// Form of `POST /apps/stop`.
#[derive(Debug, Deserialize)]
pub struct StopForm {
    csrf_token: String,
    client_id: String,
}

/// Form of `POST /sessions/others`.
#[derive(Debug, Deserialize)]
pub struct OthersForm {
    csrf_token: String,
}

/// An approved app, as listed.
struct AppItem {
    client_id: String,
    name: String,
    approved_on: String,
    /// The button's name for screen readers: which app.
    aria_label: String,
}

/// A signed-in browser, as listed.
struct DeviceItem {
    this: bool,
    signed_in_at: String,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage<'a> {
    t: &'static Texts,
    p: &'static PortalTexts,
    toggle_href: String,
    notice: Option<&'static str>,
    name: String,
    /// (label, value) lines: role, school, classes or children.
    facts: Vec<(&'static str, String)>,
    /// Links styled as buttons: the consent page, passkeys.
    links: Vec<(&'static str, &'static str)>,
    apps: Vec<AppItem>,
    password: &'static str,
    passkeys: Option<String>,
    /// The board's upstream providers the person may link, with their link.
    upstreams: Vec<UpstreamItem>,
    devices: Vec<DeviceItem>,
    devices_summary: String,
    csrf_token: &'a str,
}

/// An upstream provider on the page: its words, the person's link, the forms' address.
struct UpstreamItem {
    name: String,
    label: String,
    /// "Linked (date)" or "not linked".
    state: String,
    linked: bool,
    /// The person made the link (and may undo it; an administrator's is theirs).
    own_link: bool,
}

/// `GET /`.
pub async fn page(
    State(portal): State<Portal>,
    headers: HeaderMap,
    Query(query): Query<HomeQuery>,
) -> Response {
    let result = async {
        let locale = portal.idp.locale(query.lang.as_deref(), None, &headers);
        let t = locale.texts();
        let mut cookies: Vec<_> = portal
            .idp
            .remember_locale(query.lang.as_deref(), locale)
            .into_iter()
            .collect();
        let (csrf_token, csrf_cookie) = portal.idp.csrf.token(&headers);
        cookies.extend(csrf_cookie);
        let Some((session, user)) = crate::signed_in(&portal, &headers).await? else {
            let page = MessagePage {
                t,
                toggle_href: toggle_href(t, PATH, &[]),
                title: t.home_title.to_owned(),
                lines: vec![t.not_signed_in.to_owned()],
                links: vec![("/login".to_owned(), t.sign_in)],
                action: None,
                footer: Vec::new(),
                csrf_token,
            };
            return Ok(renkei_platform::web::with_cookies(render(&page), cookies));
        };
        let (shown, clear) = notice::take(&portal, &headers);
        cookies.extend(clear);
        let response = show(&portal, locale, &session, &user, shown, &csrf_token).await?;
        Ok::<_, crate::Error>(renkei_platform::web::with_cookies(response, cookies))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Renders the page for `user`, signed in as `session`.
async fn show(
    portal: &Portal,
    locale: Locale,
    session: &renkei_idp::store::SessionRow,
    user: &UserRow,
    shown: Option<Notice>,
    csrf_token: &str,
) -> Result<Response> {
    let t = locale.texts_for(user);
    let p = texts::for_reader(locale, user);
    let store = portal.idp.store.as_ref();
    let role = Role::parse(&user.role);
    let mut facts = vec![(
        p.role,
        match role {
            Some(Role::Student) => p.role_student,
            Some(Role::Teacher) => p.role_teacher,
            Some(Role::Guardian) => p.role_guardian,
            Some(Role::Administrator) => p.role_administrator,
            None => "",
        }
        .to_owned(),
    )];
    let directory = portal.idp.directory.as_ref();
    if let Some(school) = &user.school_id
        && let Some(org) = directory.org(school).await?
    {
        facts.push((p.school, org.name));
    }
    if let Some(me) = &user.sourced_id {
        let names = match role {
            Some(Role::Student) => {
                let classes = directory
                    .placement(me)
                    .await?
                    .map(|placement| placement.classes)
                    .unwrap_or_default();
                let records = directory
                    .records(RosterTable::Classes, By::Id, &classes)
                    .await?;
                records
                    .iter()
                    .filter_map(|record| {
                        serde_json::from_str::<serde_json::Value>(&record.data)
                            .ok()
                            .and_then(|data| data["title"].as_str().map(str::to_owned))
                    })
                    .collect::<Vec<_>>()
            }
            Some(Role::Teacher) => directory
                .classes_taught_by(me)
                .await?
                .into_iter()
                .map(|class| class.title)
                .collect(),
            Some(Role::Guardian) => {
                let mut names = Vec::new();
                for child in directory.children_of(me).await? {
                    names.push(directory.person_name(&child).await?.unwrap_or(child));
                }
                names
            }
            _ => Vec::new(),
        };
        if !names.is_empty() {
            let label = if role == Some(Role::Guardian) {
                p.children
            } else {
                p.classes
            };
            facts.push((label, names.join(p.list_separator)));
        }
    }
    let mut links = Vec::new();
    match role {
        Some(Role::Administrator) => links.push(("/admin", p.console)),
        Some(Role::Teacher) => links.push(("/class", p.class_view)),
        _ => {}
    }
    if matches!(role, Some(Role::Guardian | Role::Student)) {
        links.push((crate::account::PATH, t.account_link));
    }
    if portal.idp.passkeys.is_some() {
        links.push(("/passkeys", t.passkeys_title));
    }
    let apps = store
        .approvals_of(&user.id)
        .await?
        .into_iter()
        .map(|approval| AppItem {
            aria_label: format!(
                "{}{}{}",
                p.stop_using, t.name_separator, approval.client_name
            ),
            client_id: approval.client_id,
            name: approval.client_name,
            approved_on: format!("{}{}", p.approved_on, locale.date(approval.granted_at)),
        })
        .collect();
    let passkeys = match &portal.idp.passkeys {
        Some(_) => Some(format!(
            "{}{}{}",
            p.passkeys_count,
            store.passkeys_of(&user.id).await?.len(),
            p.passkeys_count_end
        )),
        None => None,
    };
    let upstreams = renkei_idp::upstream::broker::for_person(&portal.idp, user)
        .await?
        .into_iter()
        .map(|(upstream, link)| UpstreamItem {
            label: match locale {
                Locale::Ja => upstream.label_ja,
                Locale::En => upstream.label_en,
            },
            state: match &link {
                Some(link) => format!(
                    "{}{}{}",
                    p.upstream_linked,
                    locale.date(link.linked_at),
                    p.upstream_linked_end
                ),
                None => p.upstream_not_linked.to_owned(),
            },
            linked: link.is_some(),
            own_link: link.as_ref().is_some_and(|l| l.linked_by == "person"),
            name: upstream.name,
        })
        .collect();
    let now = renkei_platform::clock::now();
    let sessions = store.sessions_of(&user.id, now).await?;
    let others = sessions.iter().filter(|s| s.sid != session.sid).count();
    let devices_summary = if others == 0 {
        p.devices_only_this.to_owned()
    } else {
        format!("{}{others}{}", p.devices_others, p.devices_others_end)
    };
    let devices = sessions
        .iter()
        .map(|s| DeviceItem {
            this: s.sid == session.sid,
            signed_in_at: format!(
                "{}{}{}",
                p.signed_in_at,
                locale.date_time(s.auth_time),
                p.signed_in_at_end
            ),
        })
        .collect();
    let page = HomePage {
        t,
        p,
        toggle_href: toggle_href(t, PATH, &[]),
        notice: shown.map(|n| n.words(p)),
        name: renkei_idp::user::display_name(user),
        facts,
        links,
        apps,
        password: if user.password_hash.is_some() {
            p.password_set
        } else {
            p.password_none
        },
        passkeys,
        upstreams,
        devices,
        devices_summary,
        csrf_token,
    };
    Ok(render(&page))
}

/// `POST /apps/stop`: the person stops using one app (approval forgotten, its tokens ended).
pub async fn stop(
    State(portal): State<Portal>,
    headers: HeaderMap,
    Form(form): Form<StopForm>,
) -> Response {
    let result = async {
        let Some((_, user)) = crate::signed_in(&portal, &headers).await? else {
            return Ok(renkei_platform::web::see_other("/login", []));
        };
        if !portal.idp.csrf.verify(&headers, &form.csrf_token) {
            return Err(crate::Error::from(renkei_idp::Error::expired_form()));
        }
        let service = portal.consent.as_ref();
        match renkei_consent::app::stop_using(
            portal.idp.store.as_ref(),
            service.store.as_ref(),
            &service.audit,
            &format!("POST {STOP_PATH}"),
            &user,
            &form.client_id,
        )
        .await
        {
            Ok(_) => Ok(notice::after(&portal, PATH, Notice::Stopped)),
            // Not an app this person uses (a second click, a stale page): nothing to do.
            Err(renkei_consent::Error::Invalid(_)) => Ok(renkei_platform::web::see_other(PATH, [])),
            Err(error) => Err(error.into()),
        }
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `POST /sessions/others`: signs out every other device of the person.
pub async fn sign_out_others(
    State(portal): State<Portal>,
    headers: HeaderMap,
    Form(form): Form<OthersForm>,
) -> Response {
    let result = async {
        let Some((session, user)) = crate::signed_in(&portal, &headers).await? else {
            return Ok(renkei_platform::web::see_other("/login", []));
        };
        if !portal.idp.csrf.verify(&headers, &form.csrf_token) {
            return Err(crate::Error::from(renkei_idp::Error::expired_form()));
        }
        renkei_idp::session::end_others(
            portal.idp.store.as_ref(),
            &portal.consent.audit,
            &format!("POST {OTHERS_PATH}"),
            &session,
            &user.username,
        )
        .await?;
        Ok(notice::after(&portal, PATH, Notice::SignedOutOthers))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}
