//! The board's assurance policy: per role, which sign-in methods count. MEXT's security
//! guideline asks staff who reach class II+ data to sign in with more than a password; a board
//! sets "teachers must use a passkey", optionally from a date on. Before that date a password
//! sign-in still works and is followed by a page that asks to enrol a passkey; after it, a
//! password alone signs no one of that role in. Passkey sign-ins are never held back.

use renkei_platform::{AuditEvent, AuditLog};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::store::{AssuranceRow, Store};

/// What a role's sign-ins must use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Requirement {
    /// Any method (a password counts).
    Password,
    /// A passkey; a password alone does not count (after the grace period).
    Passkey,
}

impl Requirement {
    /// Parses `password` or `passkey`.
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "password" => Ok(Requirement::Password),
            "passkey" => Ok(Requirement::Passkey),
            other => Err(Error::Invalid(format!(
                "unknown requirement {other:?}; use passkey (a password alone does not count) or password (any method)"
            ))),
        }
    }

    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Requirement::Password => "password",
            Requirement::Passkey => "passkey",
        }
    }
}

/// The roles a rule can be set for.
const ROLES: [&str; 4] = ["teacher", "administrator", "guardian", "student"];

/// A role's rule, as `renkei assurance show` prints it.
#[derive(Clone, Debug, Serialize)]
pub struct Rule {
    /// The role.
    pub role: String,
    /// What its sign-ins must use.
    pub require: Requirement,
    /// Until when a password sign-in still counts (asked to enrol a passkey), as `YYYY-MM-DD`
    /// in Japan (the last day of grace), if there is a grace period.
    pub grace_until: Option<String>,
    /// When it was set (Unix seconds).
    pub set_at: i64,
    /// Who set it.
    pub set_by: String,
}

/// What a password sign-in of a person of some role may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordSignIn {
    /// It counts.
    Counts,
    /// It counts until `grace_until` (Unix seconds); the person is asked to enrol a passkey.
    CountsUntil(i64),
    /// It does not count: the role must use a passkey.
    Refused,
}

/// Sets `role`'s rule, audited through `via`. `grace_until` is the last day (in Japan) on which
/// a password still counts, as `YYYY-MM-DD`.
pub async fn set(
    store: &dyn Store,
    audit: &AuditLog,
    via: &str,
    role: &str,
    require: Requirement,
    grace_until: Option<&str>,
) -> Result<Rule> {
    if !ROLES.contains(&role) {
        return Err(Error::Invalid(format!(
            "unknown role {role:?}; use one of: {}",
            ROLES.join(", ")
        )));
    }
    let grace_until = match grace_until {
        Some(day) => Some(end_of_day_in_japan(day)?),
        None => None,
    };
    if grace_until.is_some() && require == Requirement::Password {
        return Err(Error::Invalid(
            "--grace-until goes with --require passkey (a grace period before the passkey is required)".into(),
        ));
    }
    let row = AssuranceRow {
        role: role.to_owned(),
        requirement: require.as_str().to_owned(),
        grace_until,
        set_at: renkei_platform::clock::now(),
        set_by: via.to_owned(),
    };
    store.set_assurance_policy(&row).await?;
    let rule = rule_of(row);
    audit
        .append(AuditEvent::admin(
            via,
            format!(
                "assurance policy of role {role}: {}{}",
                rule.require.as_str(),
                rule.grace_until
                    .as_deref()
                    .map(|day| format!(", a password still counts until {day}"))
                    .unwrap_or_default()
            ),
        ))
        .await?;
    Ok(rule)
}

/// Every role's rule.
pub async fn show(store: &dyn Store) -> Result<Vec<Rule>> {
    Ok(store
        .assurance_policies()
        .await?
        .into_iter()
        .map(rule_of)
        .collect())
}

/// Whether a password sign-in of a person of `role` counts at `now`.
pub async fn password_sign_in(store: &dyn Store, role: &str, now: i64) -> Result<PasswordSignIn> {
    Ok(judge(store.assurance_policy(role).await?, now))
}

/// Whether a password sign-in of the account `user_id` (a session or a grant made from one)
/// still counts at `now`: checked each time one is used, so that a rule, or the end of its
/// grace period, also reaches the sign-ins made before it.
pub async fn password_still_counts(store: &dyn Store, user_id: &str, now: i64) -> Result<bool> {
    Ok(judge(store.assurance_policy_of_account(user_id).await?, now) != PasswordSignIn::Refused)
}

/// Whether a sign-in that checked `amr` (space-separated, as sessions and grants keep it) of
/// the account `user_id` still counts at `now`: one that checked more than one factor (a
/// passkey; an upstream's `mfa` the board trusts) always, any other — a password, a card, a
/// recovery code, an upstream's password — while the role's rule lets a password count.
pub async fn sign_in_counts(store: &dyn Store, user_id: &str, amr: &str, now: i64) -> Result<bool> {
    if amr.split_whitespace().any(|m| m == "mfa") {
        return Ok(true);
    }
    password_still_counts(store, user_id, now).await
}

/// The rule's verdict on a password at `now`; an unknown requirement counts as a passkey's
/// (a damaged rule fails closed).
fn judge(rule: Option<AssuranceRow>, now: i64) -> PasswordSignIn {
    let Some(row) = rule else {
        return PasswordSignIn::Counts;
    };
    match (row.requirement.as_str(), row.grace_until) {
        ("password", _) => PasswordSignIn::Counts,
        (_, Some(until)) if now <= until => PasswordSignIn::CountsUntil(until),
        _ => PasswordSignIn::Refused,
    }
}

fn rule_of(row: AssuranceRow) -> Rule {
    Rule {
        require: Requirement::parse(&row.requirement).unwrap_or(Requirement::Passkey),
        grace_until: row.grace_until.map(day_in_japan),
        role: row.role,
        set_at: row.set_at,
        set_by: row.set_by,
    }
}

/// The last second (Unix) of `day` (`YYYY-MM-DD`) in Japan.
fn end_of_day_in_japan(day: &str) -> Result<i64> {
    renkei_platform::clock::end_of_day_in_japan(day).ok_or_else(|| {
        Error::Invalid(format!(
            "--grace-until {day:?} is not a date; write it as YYYY-MM-DD, e.g. 2027-03-31"
        ))
    })
}

/// The day (in Japan) of a Unix time, as `YYYY-MM-DD`.
fn day_in_japan(unix: i64) -> String {
    renkei_platform::clock::in_japan(unix)
        .map(|t| t.date().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grace_day_ends_at_midnight_in_japan() {
        let end = end_of_day_in_japan("2027-03-31").unwrap();
        assert_eq!(day_in_japan(end), "2027-03-31");
        assert_eq!(day_in_japan(end + 1), "2027-04-01");
        assert!(end_of_day_in_japan("31/03/2027").is_err());
    }
}
