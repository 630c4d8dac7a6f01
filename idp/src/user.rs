//! Accounts: creation with validated input, display names, and the identity claims an app
//! receives for each scope.

use renkei_directory::{Directory, Role, RoleRow};
use renkei_platform::{AuditEvent, AuditLog};
use serde_json::{Map, Value, json};

use crate::crypto::hash_password;
use crate::error::{Error, Result};
use crate::store::{Store, UserRow};
use renkei_platform::clock::now;

/// What is needed to create an account.
#[derive(Clone, Debug, Default)]
pub struct NewUser {
    /// Sign-in name.
    pub username: String,
    /// One of [`Role`]'s stored forms.
    pub role: String,
    /// 名.
    pub given_name: Option<String>,
    /// 姓.
    pub family_name: Option<String>,
    /// よみ of the given name.
    pub given_name_kana: Option<String>,
    /// よみ of the family name.
    pub family_name_kana: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Initial password; `None` leaves the account waiting for one.
    pub password: Option<String>,
    /// School.
    pub school_id: Option<String>,
    /// Grade code.
    pub grade: Option<String>,
}

/// Minimum password length (NIST SP 800-63B).
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Validates and stores a new account, audited (through `via`); the password is hashed with
/// Argon2id.
pub async fn create(
    store: &dyn Store,
    audit: &AuditLog,
    via: &str,
    new: NewUser,
) -> Result<UserRow> {
    let username = new.username.trim();
    if username.is_empty()
        || username.len() > 128
        || username
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::Invalid(format!(
            "username {username:?} is not usable: give 1–128 characters without spaces"
        )));
    }
    if Role::parse(&new.role).is_none() {
        return Err(Error::Invalid(format!(
            "unknown role {:?}; choose from {}",
            new.role,
            Role::names()
        )));
    }
    let password_hash = match new.password {
        Some(password) if password.chars().count() < MIN_PASSWORD_CHARS => {
            return Err(Error::Invalid(format!(
                "the password is too short: use at least {MIN_PASSWORD_CHARS} characters"
            )));
        }
        Some(password) => Some(
            tokio::task::spawn_blocking(move || hash_password(&password))
                .await
                .map_err(|e| Error::internal(e.to_string()))?,
        ),
        None => None,
    };
    let now = now();
    let user = UserRow {
        id: uuid::Uuid::new_v4().to_string(),
        username: username.to_owned(),
        role: new.role,
        given_name: new.given_name,
        family_name: new.family_name,
        given_name_kana: new.given_name_kana,
        family_name_kana: new.family_name_kana,
        email: new.email,
        password_hash,
        school_id: new.school_id,
        grade: new.grade,
        enabled: true,
        created_at: now,
        updated_at: now,
        sourced_id: None,
        data: None,
    };
    store.insert_user(&user).await.map_err(|e| match e {
        crate::store::StoreError::Conflict(_) => {
            Error::Invalid(format!("the username {username:?} is already taken"))
        }
        other => other.into(),
    })?;
    audit
        .append(AuditEvent::admin(
            via,
            format!("account {} ({}) created", user.username, user.role),
        ))
        .await?;
    Ok(user)
}

/// Sets a person's password (an administrator's action, e.g. for roster accounts that came
/// without one, or one that leaked), audited (through `via`); the password is hashed with
/// Argon2id. The account is signed out everywhere: sessions signed in with the old password end
/// and its apps' grants (with their refresh tokens) are revoked.
pub async fn set_password(
    store: &dyn Store,
    audit: &AuditLog,
    via: &str,
    username: &str,
    password: String,
) -> Result<UserRow> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::Invalid(format!(
            "the password is too short: use at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    let user = by_username(store, username).await?;
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| Error::internal(e.to_string()))?;
    store.set_password_hash(&user.id, &hash, now()).await?;
    crate::login::clear_account_failures(store, &user.username).await?;
    let sessions_ended = store.sign_out_everywhere(&user.id, now()).await?;
    store.void_enrolment_links(&user.id).await?;
    // An upstream account linked with the old password may be someone else's.
    let unlinked = store.delete_person_made_upstream_links(&user.id).await?;
    audit
        .append(AuditEvent::admin_about(
            via,
            user.sourced_id.as_deref(),
            format!(
                "password of account {} set; {sessions_ended} session(s) ended, grants revoked{}",
                user.username,
                person_links_removed(unlinked)
            ),
        ))
        .await?;
    Ok(user)
}

/// The audit detail's words for `removed` upstream links the person had made (none: nothing).
fn person_links_removed(removed: u64) -> String {
    if removed == 0 {
        String::new()
    } else {
        format!(", {removed} upstream link(s) the person made removed")
    }
}

/// Locks an account (a lost sign-in card, a leaked password, a departure the roster does not
/// show yet): it cannot sign in whatever the roster says, and it is signed out everywhere (its
/// sessions end and its apps' grants are revoked). `by` names the administrator. Audited
/// (through `via`); returns how many sessions ended.
pub async fn lock(
    store: &dyn Store,
    audit: &AuditLog,
    via: &str,
    username: &str,
    by: &str,
) -> Result<u64> {
    let user = by_username(store, username).await?;
    if !store.set_lock(&user.id, Some(by), now()).await? {
        return Err(Error::Invalid(format!(
            "the account {username:?} is already locked"
        )));
    }
    let sessions_ended = store.sign_out_everywhere(&user.id, now()).await?;
    store.void_enrolment_links(&user.id).await?;
    let unlinked = store.delete_person_made_upstream_links(&user.id).await?;
    audit
        .append(AuditEvent::admin_about(
            via,
            user.sourced_id.as_deref(),
            format!(
                "account {username} locked; {sessions_ended} session(s) ended, grants revoked{}",
                person_links_removed(unlinked)
            ),
        ))
        .await?;
    Ok(sessions_ended)
}

/// Unlocks an account: it may sign in again unless the roster disabled or removed the person.
/// Audited (through `via`); returns whether it may sign in now.
pub async fn unlock(
    store: &dyn Store,
    audit: &AuditLog,
    via: &str,
    username: &str,
) -> Result<bool> {
    let user = by_username(store, username).await?;
    if !store.set_lock(&user.id, None, now()).await? {
        return Err(Error::Invalid(format!(
            "the account {username:?} is not locked"
        )));
    }
    let enabled = store.user(&user.id).await?.is_some_and(|u| u.enabled);
    audit
        .append(AuditEvent::admin_about(
            via,
            user.sourced_id.as_deref(),
            format!(
                "account {username} unlocked; {}",
                if enabled {
                    "it may sign in again"
                } else {
                    "the roster keeps it disabled"
                }
            ),
        ))
        .await?;
    Ok(enabled)
}

/// Signs an account out everywhere (a tablet left signed in, a suspicion): its sessions end
/// and its apps' grants are revoked, so apps must ask it to sign in again. Audited (through
/// `via`); returns how many sessions ended.
pub async fn sign_out_everywhere(
    store: &dyn Store,
    audit: &AuditLog,
    via: &str,
    username: &str,
) -> Result<u64> {
    let user = by_username(store, username).await?;
    let sessions_ended = store.sign_out_everywhere(&user.id, now()).await?;
    audit
        .append(AuditEvent::admin_about(
            via,
            user.sourced_id.as_deref(),
            format!(
                "account {username} signed out everywhere; {sessions_ended} session(s) ended, grants revoked"
            ),
        ))
        .await?;
    Ok(sessions_ended)
}

/// The account with `username`, or an error that says there is none.
pub async fn by_username(store: &dyn Store, username: &str) -> Result<UserRow> {
    store.user_by_username(username).await?.ok_or_else(|| {
        Error::Invalid(format!(
            "there is no account with the username {username:?}"
        ))
    })
}

/// How a person is shown: 姓 名 in Japanese order, or the username.
pub fn display_name(user: &UserRow) -> String {
    match (&user.family_name, &user.given_name) {
        (Some(family), Some(given)) => format!("{family} {given}"),
        (Some(one), None) | (None, Some(one)) => one.clone(),
        (None, None) => user.username.clone(),
    }
}

/// The identity claims released for the granted `scope` (ID token and UserInfo alike).
pub async fn claims(
    directory: &dyn Directory,
    user: &UserRow,
    scope: &str,
) -> Result<Map<String, Value>> {
    let mut claims = Map::new();
    let mut put = |name: &str, value: Option<Value>| {
        if let Some(value) = value {
            claims.insert(name.to_owned(), value);
        }
    };
    let text = |value: &Option<String>| value.as_ref().map(|v| json!(v));
    if crate::scope::contains(scope, "profile") {
        put("name", Some(json!(display_name(user))));
        put("given_name", text(&user.given_name));
        put("family_name", text(&user.family_name));
        put("given_name#ja-Kana-JP", text(&user.given_name_kana));
        put("family_name#ja-Kana-JP", text(&user.family_name_kana));
        if let (Some(family), Some(given)) = (&user.family_name_kana, &user.given_name_kana) {
            put("name#ja-Kana-JP", Some(json!(format!("{family} {given}"))));
        }
        put("preferred_username", Some(json!(user.username)));
        put("updated_at", Some(json!(user.updated_at)));
    }
    if crate::scope::contains(scope, "email") {
        put("email", text(&user.email));
        if user.email.is_some() {
            // Addresses come from the board's own records (roster or administrator), not from
            // self-registration: the board vouches for them.
            put("email_verified", Some(json!(true)));
        }
    }
    if crate::scope::contains(scope, "school") {
        put("role", Some(json!(user.role)));
        if let Some(school_id) = &user.school_id {
            let name = directory.org(school_id).await?.map(|org| org.name);
            put("school", Some(json!({"id": school_id, "name": name})));
        }
        put("grade", text(&user.grade));
        if let Some(sourced_id) = &user.sourced_id {
            let mut roles = directory.roles_of(sourced_id).await?;
            if roles.is_empty() {
                roles = roles_from_record(directory, user).await?;
            }
            let mut schools: Vec<Value> = Vec::new();
            for role in roles
                .iter()
                .filter(|r| r.org_type.as_deref() == Some("school"))
            {
                let school = json!({"id": role.org_id, "name": role.org_name});
                if !schools.contains(&school) {
                    schools.push(school);
                }
            }
            let roles: Vec<Value> = roles
                .iter()
                .map(|r| json!({"role": r.role, "role_type": r.role_type, "org": {"id": r.org_id, "name": r.org_name, "type": r.org_type}}))
                .collect();
            put("roles", Some(json!(roles)));
            put("schools", Some(json!(schools)));
            // A teacher's classes are those they teach; a pupil's, those they are enrolled in,
            // only with the scope of their own (a class's title can say more than a class).
            let classes = match Role::parse(&user.role) {
                Some(Role::Teacher) => Some(directory.classes_taught_by(sourced_id).await?),
                Some(Role::Student)
                    if crate::scope::contains(scope, crate::scope::CLASSES_SCOPE) =>
                {
                    Some(
                        directory
                            .enrolled_classes(std::slice::from_ref(sourced_id))
                            .await?
                            .into_iter()
                            .map(|(_, class)| class)
                            .collect(),
                    )
                }
                _ => None,
            };
            if let Some(classes) = classes {
                let classes: Vec<Value> = classes
                    .into_iter()
                    .map(|c| json!({"id": c.id, "title": c.title, "school_id": c.school_id}))
                    .collect();
                put("classes", Some(json!(classes)));
            }
        }
    }
    Ok(claims)
}

/// OneRoster 1.1 keeps a person's organisations and role on the user record itself (1.2 has
/// roles.csv): the roles the record states, with their organisations' names.
async fn roles_from_record(directory: &dyn Directory, user: &UserRow) -> Result<Vec<RoleRow>> {
    let Some(record) = user
        .data
        .as_deref()
        .and_then(|d| serde_json::from_str::<Value>(d).ok())
    else {
        return Ok(Vec::new());
    };
    let mut roles = Vec::new();
    for stated in renkei_directory::roles::roles_of_1_1_record(&record) {
        let Some(org_id) = stated.org_id() else {
            continue;
        };
        let stored = directory.org(org_id).await?;
        roles.push(RoleRow {
            role: stated.role.to_owned(),
            role_type: stated.role_type.to_owned(),
            org_id: org_id.to_owned(),
            org_name: stored.as_ref().map(|o| o.name.clone()),
            org_type: stored.map(|o| o.org_type),
        });
    }
    Ok(roles)
}
