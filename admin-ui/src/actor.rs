//! Who is acting in the console and what they reach: the one place the console's access rules
//! live, asked by every operation before it reads or changes anything.
//!
//! - A board administrator reaches every school; a school administrator (管理職・情報担当)
//!   reaches their own school only, and never sees another school's people, classes, consents
//!   or audit events.
//! - In a browser: a signed-in administrator whose session was a passkey sign-in (MEXT's
//!   guideline asks for multi-factor sign-in for staff reaching class II data and above).
//! - Over the API: an access token with the scope `urn:renkei:scope:admin`, issued to such an
//!   administrator (a passkey sign-in) or to an app for itself (client credentials), which is
//!   board-wide unless registered for one school.

use axum::http::{HeaderMap, header};
use renkei_consent::policy::{Basis, Reach};
use renkei_directory::{Administers, Directory, Role, administered};
use renkei_idp::AppState;
use renkei_idp::passkey::ACR_PASSKEY;
use renkei_idp::scope::{self, ADMIN_SCOPE};
use renkei_idp::store::UserRow;

use crate::error::{Error, Result};

/// How long an administrator's passkey sign-in lets an app act for them in the admin API,
/// in seconds, however often its tokens are refreshed: a working day.
pub const SIGN_IN_LIFETIME: i64 = 12 * 3600;

/// Where an action came from, for the audit record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Surface {
    /// The console's pages.
    Console,
    /// The JSON admin API.
    Api,
}

/// Someone allowed into the console.
#[derive(Clone, Debug)]
pub struct Actor {
    /// How the actor is named in audit records: a username, or `app <client id>`.
    pub name: String,
    /// The administrator's account (none for an app acting for itself).
    pub user: Option<UserRow>,
    /// What the actor administers.
    pub reach: Administers,
    surface: Surface,
}

/// Why a browser's session does not open the console.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No session.
    NotSignedIn,
    /// The account is not an administrator's, or administers no school.
    NotAdministrator,
    /// A password sign-in: the console needs a passkey sign-in. `has_passkey` tells whether
    /// to offer signing in again with it or registering one first (the first administrator's
    /// first visit).
    NeedsPasskey {
        /// The account has a passkey.
        has_passkey: bool,
    },
}

impl Actor {
    /// The `via` of an audit record: where and by whom, e.g. `admin console (sato)`.
    pub fn via(&self) -> String {
        let surface = match self.surface {
            Surface::Console => "admin console",
            Surface::Api => "admin API",
        };
        format!("{surface} ({})", self.name)
    }

    /// Whether the audit event recorded through `endpoint` is one of this actor's own actions.
    pub fn did(&self, endpoint: &str) -> bool {
        let Some(user) = &self.user else {
            return endpoint == self.via();
        };
        let name = &user.username;
        endpoint == format!("admin console ({name})")
            || endpoint == format!("admin API ({name})")
            || endpoint.starts_with(&format!("admin API ({name}, app "))
    }

    /// The administrator acting in person, or a refusal for an app acting for itself: what
    /// reaches people's sign-ins (locks, enrolment links, an administrator's password or
    /// passkeys), the keys and the sign-in rules, and paper consents, is done by a person whom
    /// the audit record names — an automation token must not lead into the console.
    pub fn in_person(&self, what: &str) -> Result<&UserRow> {
        self.user.as_ref().ok_or_else(|| {
            Error::Forbidden(format!(
                "an administrator {what} in person (signed in with a passkey), not an app acting for itself"
            ))
        })
    }

    /// Refuses anyone but a board administrator (registering apps, keys, the whole log).
    pub fn board_only(&self, what: &str) -> Result<()> {
        match self.reach {
            Administers::Board => Ok(()),
            _ => Err(Error::Forbidden(format!(
                "only the board's administrators may {what}; ask the board (教育委員会)"
            ))),
        }
    }

    /// The school the actor is limited to, or `None` for the whole board.
    pub fn school(&self) -> Option<&str> {
        match &self.reach {
            Administers::School(id) => Some(id),
            _ => None,
        }
    }

    /// Whether the actor reaches this school.
    pub fn reaches_school(&self, school_id: &str) -> bool {
        self.reach.reaches_any(&[school_id.to_owned()])
    }

    /// Refuses a school administrator a policy reaching beyond their school: a grade is
    /// board-wide, and every school and class must be their own.
    pub async fn check_policy_reach(
        &self,
        directory: &dyn Directory,
        reach: &[Reach],
    ) -> Result<()> {
        let Some(own) = self.school() else {
            return Ok(());
        };
        for part in reach {
            let inside = match part {
                Reach::School(id) => id == own,
                Reach::Class(id) => directory.class_school(id).await?.as_deref() == Some(own),
                Reach::Grade(_) => false,
            };
            if !inside {
                return Err(Error::Forbidden(format!(
                    "a school administrator's policy may reach only their own school {own:?} and its classes; {} is beyond it (a grade reaches every school: ask the board)",
                    describe(part)
                )));
            }
        }
        Ok(())
    }

    /// Refuses a school administrator a policy that provides special-care (class I) data on
    /// the school's decision: skipping guardians' consent for such data is the board's call.
    pub fn check_special_care(&self, special_care: bool, basis: Basis) -> Result<()> {
        if self.school().is_some() && special_care && basis == Basis::School {
            return Err(Error::Forbidden(
                "special-care (class I) data without consent is provided only on the board's decision; use the guardian basis or ask the board".into(),
            ));
        }
        Ok(())
    }

    /// The pupils of a school administrator's school, which counts and lists are cut to;
    /// `None` for the whole board.
    pub async fn own_pupils(
        &self,
        directory: &dyn Directory,
    ) -> Result<Option<std::collections::BTreeSet<String>>> {
        let Some(school) = self.school() else {
            return Ok(None);
        };
        Ok(Some(
            directory
                .pupils_of_school(school)
                .await?
                .into_iter()
                .map(|p| p.id)
                .collect(),
        ))
    }

    /// Whether a stored policy's reach lies within what the actor reaches (a school
    /// administrator sees only policies reaching their school, and changes only those
    /// entirely within it).
    pub async fn sees_policy(&self, directory: &dyn Directory, reach: &[Reach]) -> Result<bool> {
        let Some(own) = self.school() else {
            return Ok(true);
        };
        for part in reach {
            let touches = match part {
                Reach::School(id) => id == own,
                Reach::Class(id) => directory.class_school(id).await?.as_deref() == Some(own),
                Reach::Grade(_) => true,
            };
            if touches {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

fn describe(reach: &Reach) -> String {
    match reach {
        Reach::School(id) => format!("school {id:?}"),
        Reach::Class(id) => format!("class {id:?}"),
        Reach::Grade(code) => format!("grade {code:?}"),
    }
}

/// What an administrator's account administers; refused when it is not an enabled
/// administrator's or administers nothing.
async fn administrator(idp: &AppState, user: UserRow) -> Result<(UserRow, Administers)> {
    if !user.enabled || Role::parse(&user.role) != Some(Role::Administrator) {
        return Err(Error::Forbidden(
            "the console is for administrators; this account is not one".into(),
        ));
    }
    let reach = administered(
        idp.directory.as_ref(),
        user.sourced_id.as_deref(),
        user.school_id.as_deref(),
    )
    .await?;
    if reach == Administers::Nothing {
        return Err(Error::Forbidden(
            "this administrator's organisation is neither the board nor a school, so the console has nothing for them; the roster decides this".into(),
        ));
    }
    Ok((user, reach))
}

/// The console's actor for a browser's session, or why there is none.
pub async fn from_session(
    idp: &AppState,
    headers: &HeaderMap,
) -> Result<std::result::Result<Actor, Refusal>> {
    let Some(session) = renkei_idp::session::current(idp, headers).await? else {
        return Ok(Err(Refusal::NotSignedIn));
    };
    let Some(user) = idp.store.user(&session.user_id).await? else {
        return Ok(Err(Refusal::NotSignedIn));
    };
    let (user, reach) = match administrator(idp, user).await {
        Ok(found) => found,
        Err(Error::Forbidden(_)) => return Ok(Err(Refusal::NotAdministrator)),
        Err(other) => return Err(other),
    };
    // A passkey session counts while the account still has a passkey (one removed on this
    // device leaves its session, but not its standing).
    let has_passkey = !idp.store.passkeys_of(&user.id).await?.is_empty();
    if session.acr != ACR_PASSKEY || !has_passkey {
        return Ok(Err(Refusal::NeedsPasskey { has_passkey }));
    }
    Ok(Ok(Actor {
        name: user.username.clone(),
        user: Some(user),
        reach,
        surface: Surface::Console,
    }))
}

/// The API's actor: from a bearer token when the request has one, else from the browser's
/// session (whose changes must carry the `X-CSRF-Token` header; `changes` says whether this
/// request changes anything).
pub async fn for_api(idp: &AppState, headers: &HeaderMap, changes: bool) -> Result<Actor> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or_else(|| {
                Error::BadToken("use the Authorization header's Bearer scheme".into())
            })?;
        return from_token(idp, token).await;
    }
    let actor = match from_session(idp, headers).await? {
        Ok(actor) => actor,
        Err(Refusal::NotSignedIn) => return Err(Error::Unauthenticated),
        Err(Refusal::NotAdministrator) => {
            return Err(Error::Forbidden(
                "the admin API is for administrators; this account is not one".into(),
            ));
        }
        Err(Refusal::NeedsPasskey { .. }) => {
            return Err(Error::Forbidden(
                "the admin API needs a passkey sign-in; sign in again with your passkey".into(),
            ));
        }
    };
    if changes {
        let sent = headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !idp.csrf.verify(headers, sent) {
            return Err(Error::Forbidden(
                "a change from the browser needs the X-CSRF-Token header with the token of GET /admin/api/session".into(),
            ));
        }
    }
    Ok(Actor {
        surface: Surface::Api,
        ..actor
    })
}

/// The actor of an access token: the admin scope, and an administrator who signed in with a
/// passkey, or an app for itself.
async fn from_token(idp: &AppState, token: &str) -> Result<Actor> {
    let claims = renkei_idp::token::issue::verify_access_token(idp, token)
        .await?
        .ok_or_else(|| Error::BadToken("it is expired, revoked or not one of ours".into()))?;
    if !scope::contains(&claims.scope, ADMIN_SCOPE) {
        return Err(Error::Forbidden(format!(
            "the token lacks the scope {ADMIN_SCOPE}"
        )));
    }
    if claims.gid.is_none() && claims.sub == claims.client_id {
        let client = idp
            .store
            .client(&claims.client_id)
            .await?
            .ok_or_else(|| Error::BadToken("the app it was issued to is disabled".into()))?;
        // Board-wide unless registered for one school (`--admin-school`).
        let reach = match client.admin_school {
            Some(school) => Administers::School(school),
            None => Administers::Board,
        };
        return Ok(Actor {
            name: format!("app {}", client.id),
            user: None,
            reach,
            surface: Surface::Api,
        });
    }
    let user = idp
        .store
        .user(&claims.sub)
        .await?
        .ok_or_else(|| Error::BadToken("its account no longer exists".into()))?;
    let (user, reach) = administrator(idp, user).await?;
    if claims.acr.as_deref() != Some(ACR_PASSKEY) {
        return Err(Error::Forbidden(
            "an administrator's token for the admin API must come from a passkey sign-in (ask with acr_values=urn:renkei:acr:passkey)".into(),
        ));
    }
    let signed_in = claims.auth_time.unwrap_or(i64::MIN);
    if renkei_platform::clock::now().saturating_sub(signed_in) > SIGN_IN_LIFETIME {
        return Err(Error::Forbidden(
            "the administrator signed in more than 12 hours ago; sign in again with a passkey for a new token".into(),
        ));
    }
    Ok(Actor {
        name: format!("{}, app {}", user.username, claims.client_id),
        user: Some(user),
        reach,
        surface: Surface::Api,
    })
}
