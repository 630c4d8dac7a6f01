//! People: search the board's people by name, kana, username, class, school and role; a
//! school administrator searches their own school only.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use renkei_directory::{PeopleQuery, Person};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::Console;
use crate::actor::{self, Actor};
use crate::error::{Error, Problem, Result};

/// How many people a page lists unless asked otherwise.
pub const PAGE: u32 = 50;

/// A search.
#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
pub struct Search {
    /// Part of a name, its kana, or a username.
    #[serde(default)]
    pub q: String,
    /// Only this school (a school administrator's own school always).
    pub school: Option<String>,
    /// Only this class.
    pub class: Option<String>,
    /// Only this role: student, teacher, guardian, administrator.
    pub role: Option<String>,
    /// How many to skip.
    #[serde(default)]
    pub offset: u32,
    /// How many (1–200, default 50).
    pub limit: Option<u32>,
}

/// A person as listed.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PersonView {
    /// The account's id.
    pub account_id: String,
    /// The roster's sourcedId.
    pub sourced_id: Option<String>,
    /// Sign-in name.
    pub username: String,
    /// Role.
    pub role: String,
    /// Name (family name first).
    pub name: String,
    /// Kana.
    pub kana: String,
    /// Primary school.
    pub school_id: Option<String>,
    /// Grade code.
    pub grade: Option<String>,
    /// Whether the account may sign in.
    pub enabled: bool,
    /// Whether an administrator locked it.
    pub locked: bool,
    /// Titles of the classes the person is enrolled in as a pupil.
    pub classes: Vec<String>,
}

impl From<Person> for PersonView {
    fn from(person: Person) -> Self {
        PersonView {
            account_id: person.account_id,
            sourced_id: person.sourced_id,
            username: person.username,
            role: person.role,
            name: person.name,
            kana: person.kana,
            school_id: person.school_id,
            grade: person.grade,
            enabled: person.enabled,
            locked: person.locked,
            classes: person.classes.into_iter().map(|c| c.title).collect(),
        }
    }
}

/// A page of people.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PeoplePage {
    /// The people.
    pub people: Vec<PersonView>,
    /// The offset of the next page, if there may be one.
    pub next_offset: Option<u32>,
}

/// Searches within what the actor reaches; audited as a read of the people listed.
pub async fn search(console: &Console, actor: &Actor, search: &Search) -> Result<PeoplePage> {
    let school = match (actor.school(), &search.school) {
        (Some(own), Some(asked)) if own != asked => {
            return Err(Error::Forbidden(format!(
                "you administer school {own:?}, not {asked:?}"
            )));
        }
        (Some(own), _) => Some(own.to_owned()),
        (None, asked) => asked.clone().filter(|s| !s.is_empty()),
    };
    if let Some(role) = &search.role
        && !role.is_empty()
        && renkei_directory::Role::parse(role).is_none()
    {
        return Err(Error::Invalid(format!(
            "unknown role {role:?}; use one of {}",
            renkei_directory::Role::names()
        )));
    }
    let limit = search
        .limit
        .unwrap_or(PAGE)
        .clamp(1, renkei_directory::people::MAX_PAGE);
    let people = console
        .idp
        .directory
        .search_people(&PeopleQuery {
            text: search.q.clone(),
            school,
            class: search.class.clone().filter(|c| !c.is_empty()),
            role: search.role.clone().filter(|r| !r.is_empty()),
            offset: search.offset,
            limit,
        })
        .await?;
    let full = people.len() as u32 == limit;
    crate::read::audit(
        console,
        actor,
        people.iter().filter_map(|p| p.sourced_id.clone()).collect(),
        "people search: names, kana, usernames, roles and classes",
    );
    Ok(PeoplePage {
        next_offset: full.then(|| search.offset.saturating_add(limit)),
        people: people.into_iter().map(PersonView::from).collect(),
    })
}

/// `GET /admin/api/people`.
#[utoipa::path(get, path = "/admin/api/people", tag = "people", params(Search),
    responses((status = 200, body = PeoplePage), (status = 400, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_search(
    State(console): State<Console>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<PeoplePage>> {
    let actor = actor::for_api(&console.idp, &headers, false).await?;
    let query: Search = crate::api::query(query.as_deref())?;
    Ok(Json(search(&console, &actor, &query).await?))
}

/// How long a password the console issues is (about 59 bits).
pub const ISSUED_PASSWORD_LENGTH: usize = 12;

/// A password the console issued, shown once (for a sign-in slip).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct IssuedPassword {
    /// The account.
    pub username: String,
    /// The new password: the old one and every session ended.
    pub password: String,
}

/// What removing a person's passkeys did.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RemovedPasskeys {
    /// The account.
    pub username: String,
    /// Passkeys removed.
    pub removed: usize,
    /// Sessions ended (the account is signed out everywhere).
    pub sessions_ended: u64,
    /// Unused recovery codes voided with them.
    pub recovery_codes_voided: u64,
}

/// The account an administrator acts on, if within their reach: a school administrator acts
/// on their school's pupils, teachers and guardians (never on administrators); anyone else
/// is unknown to them.
async fn within_reach(
    console: &Console,
    actor: &Actor,
    account_id: &str,
) -> Result<renkei_idp::store::UserRow> {
    let unknown = || Error::NotFound(format!("there is no account {account_id:?} you administer"));
    let user = console
        .idp
        .store
        .user(account_id)
        .await?
        .ok_or_else(unknown)?;
    let administrator =
        renkei_directory::Role::parse(&user.role) == Some(renkei_directory::Role::Administrator);
    let Some(own) = actor.school() else {
        if administrator {
            actor.in_person("acts on an administrator's account")?;
        }
        return Ok(user);
    };
    let placed = match &user.sourced_id {
        Some(id) => console.idp.directory.belongs_to_school(id, own).await?,
        None => false,
    };
    if !placed {
        return Err(unknown());
    }
    if administrator {
        return Err(Error::Forbidden(
            "an administrator's account is the board's to act on".into(),
        ));
    }
    Ok(user)
}

/// Issues a new password (a forgotten one, a slip for a young pupil): shown once, the old one
/// and every session ended; audited by the operation.
pub async fn issue_password(
    console: &Console,
    actor: &Actor,
    account_id: &str,
) -> Result<IssuedPassword> {
    actor.in_person("issues a new password")?;
    let user = within_reach(console, actor, account_id).await?;
    let password = renkei_platform::crypto::readable_password(ISSUED_PASSWORD_LENGTH);
    renkei_idp::user::set_password(
        console.idp.store.as_ref(),
        &console.audit,
        &actor.via(),
        &user.username,
        password.clone(),
    )
    .await?;
    end_capabilities(console, &user.id).await?;
    Ok(IssuedPassword {
        username: user.username,
        password,
    })
}

/// Resets a person's passkeys (a lost tablet): removes every passkey and recovery code and
/// signs them out everywhere; audited by the operation. Staff then enrol again with a link.
pub async fn remove_passkeys(
    console: &Console,
    actor: &Actor,
    account_id: &str,
) -> Result<RemovedPasskeys> {
    actor.in_person("removes passkeys")?;
    let user = within_reach(console, actor, account_id).await?;
    let removed = renkei_idp::passkey::remove(
        console.idp.store.as_ref(),
        &console.audit,
        &actor.via(),
        &user.username,
        None,
    )
    .await?;
    end_capabilities(console, &user.id).await?;
    Ok(RemovedPasskeys {
        username: user.username,
        removed: removed.passkeys.len(),
        sessions_ended: removed.sessions_ended,
        recovery_codes_voided: removed.recovery_codes_voided,
    })
}

/// What locking, unlocking or signing out an account did.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AccountState {
    /// The account.
    pub username: String,
    /// Whether an administrator's lock is on it now.
    pub locked: bool,
    /// Whether it may sign in now (unlocked and enabled by the roster).
    pub enabled: bool,
    /// Sessions ended (locking and signing out end them all).
    pub sessions_ended: u64,
}

/// What an administrator does to an account's access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessChange {
    /// Lock: no sign-in whatever the roster says; signed out everywhere.
    Lock,
    /// Unlock: the roster's word back.
    Unlock,
    /// Sign out everywhere: sessions end, apps' grants revoked.
    SignOut,
}

/// Locks, unlocks or signs out an account within the actor's reach; audited by the provider's
/// operation. An administrator does not lock themself out.
pub async fn change_access(
    console: &Console,
    actor: &Actor,
    account_id: &str,
    change: AccessChange,
) -> Result<AccountState> {
    actor.in_person("locks, unlocks or signs out an account")?;
    let user = within_reach(console, actor, account_id).await?;
    let own = actor.user.as_ref().is_some_and(|me| me.id == user.id);
    if own && change == AccessChange::Lock {
        return Err(Error::Invalid(
            "you cannot lock your own account; another administrator can".into(),
        ));
    }
    let store = console.idp.store.as_ref();
    let via = actor.via();
    let sessions_ended = match change {
        AccessChange::Lock => {
            renkei_idp::user::lock(store, &console.audit, &via, &user.username, &actor.name).await?
        }
        AccessChange::Unlock => {
            renkei_idp::user::unlock(store, &console.audit, &via, &user.username).await?;
            0
        }
        AccessChange::SignOut => {
            renkei_idp::user::sign_out_everywhere(store, &console.audit, &via, &user.username)
                .await?
        }
    };
    if change != AccessChange::Unlock {
        end_capabilities(console, &user.id).await?;
    }
    let now = store.user(&user.id).await?;
    Ok(AccountState {
        username: user.username,
        locked: store.lock_of(&user.id).await?.is_some(),
        enabled: now.is_some_and(|u| u.enabled),
        sessions_ended,
    })
}

/// Revokes the capability tokens every app holds for a person signed out everywhere (they
/// would otherwise read for up to five minutes more).
async fn end_capabilities(console: &Console, user_id: &str) -> Result<()> {
    let now = renkei_platform::clock::now();
    for client in console.idp.store.clients().await? {
        console
            .consent
            .store
            .revoke_capabilities_of(&client.id, user_id, now)
            .await?;
    }
    Ok(())
}

/// A passkey enrolment link for a staff member, shown once.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct EnrolmentLink {
    /// The account.
    pub username: String,
    /// The link (its secret in the fragment): hand it over, print it, or show its QR code.
    pub url: String,
    /// Until when it works (Unix seconds); it works once.
    pub expires_at: i64,
}

/// Issues a one-time link with which a teacher or administrator within the actor's reach
/// registers a passkey on their own device; an earlier unused link of theirs stops working.
/// Audited by the provider's operation.
pub async fn enrolment_link(
    console: &Console,
    actor: &Actor,
    account_id: &str,
) -> Result<EnrolmentLink> {
    actor.in_person("issues a passkey enrolment link")?;
    let user = within_reach(console, actor, account_id).await?;
    let issued = renkei_idp::enrolment::issue(
        console.idp.store.as_ref(),
        &console.audit,
        &actor.via(),
        &console.idp.config.issuer,
        &user.username,
        &actor.name,
    )
    .await?;
    Ok(EnrolmentLink {
        username: issued.username,
        url: issued.url,
        expires_at: issued.expires_at,
    })
}

/// `POST /admin/api/people/{account_id}/enrolment-link`.
#[utoipa::path(post, path = "/admin/api/people/{account_id}/enrolment-link", tag = "people",
    params(("account_id" = String, Path, description = "The account's id")),
    responses((status = 200, body = EnrolmentLink), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_enrolment_link(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
) -> Result<Json<EnrolmentLink>> {
    let actor = actor::for_api(&console.idp, &headers, true).await?;
    Ok(Json(enrolment_link(&console, &actor, &account_id).await?))
}

/// `POST /admin/api/people/{account_id}/lock`.
#[utoipa::path(post, path = "/admin/api/people/{account_id}/lock", tag = "people",
    params(("account_id" = String, Path, description = "The account's id")),
    responses((status = 200, body = AccountState), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_lock(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
) -> Result<Json<AccountState>> {
    api_access(console, headers, account_id, AccessChange::Lock).await
}

/// `POST /admin/api/people/{account_id}/unlock`.
#[utoipa::path(post, path = "/admin/api/people/{account_id}/unlock", tag = "people",
    params(("account_id" = String, Path, description = "The account's id")),
    responses((status = 200, body = AccountState), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_unlock(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
) -> Result<Json<AccountState>> {
    api_access(console, headers, account_id, AccessChange::Unlock).await
}

/// `POST /admin/api/people/{account_id}/sign-out`: signed out everywhere.
#[utoipa::path(post, path = "/admin/api/people/{account_id}/sign-out", tag = "people",
    params(("account_id" = String, Path, description = "The account's id")),
    responses((status = 200, body = AccountState), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_sign_out(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
) -> Result<Json<AccountState>> {
    api_access(console, headers, account_id, AccessChange::SignOut).await
}

async fn api_access(
    console: Console,
    headers: HeaderMap,
    account_id: String,
    change: AccessChange,
) -> Result<Json<AccountState>> {
    let actor = actor::for_api(&console.idp, &headers, true).await?;
    Ok(Json(
        change_access(&console, &actor, &account_id, change).await?,
    ))
}

/// `POST /admin/api/people/{account_id}/password`: a new password, shown once.
#[utoipa::path(post, path = "/admin/api/people/{account_id}/password", tag = "people",
    params(("account_id" = String, Path, description = "The account's id")),
    responses((status = 200, body = IssuedPassword), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_issue_password(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
) -> Result<Json<IssuedPassword>> {
    let actor = actor::for_api(&console.idp, &headers, true).await?;
    Ok(Json(issue_password(&console, &actor, &account_id).await?))
}

/// `POST /admin/api/people/{account_id}/passkeys/remove`: every passkey removed, signed out.
#[utoipa::path(post, path = "/admin/api/people/{account_id}/passkeys/remove", tag = "people",
    params(("account_id" = String, Path, description = "The account's id")),
    responses((status = 200, body = RemovedPasskeys), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_remove_passkeys(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
) -> Result<Json<RemovedPasskeys>> {
    let actor = actor::for_api(&console.idp, &headers, true).await?;
    Ok(Json(remove_passkeys(&console, &actor, &account_id).await?))
}
