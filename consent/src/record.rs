//! Consent records: a guardian, a student or an administrator grants or withdraws consent for
//! one child, app and category under the policy version in force. Append-only: history is never
//! rewritten; the latest record decides.

use std::collections::HashSet;

use serde::Serialize;

use renkei_directory::{Directory, Role};
use renkei_idp::store::UserRow;
use renkei_platform::{AuditEvent, AuditLog};

use crate::error::{Error, Result};
use crate::policy::Basis;
use crate::store::ConsentStore;

/// Grant or withdrawal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Consent given.
    Grant,
    /// Consent withdrawn.
    Withdraw,
}

impl Action {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Grant => "grant",
            Action::Withdraw => "withdraw",
        }
    }
}

/// One stored record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ConsentRecord {
    /// Identifier.
    pub id: String,
    /// The child (OneRoster sourcedId).
    pub student_id: String,
    /// The app.
    pub client_id: String,
    /// The category.
    pub category_id: String,
    /// The policy version agreed to.
    pub policy_version: i64,
    /// `grant` or `withdraw`.
    pub action: String,
    /// Who (account id).
    pub by_user_id: String,
    /// In which capacity: `guardian`, `student` or `administrator`.
    pub by_role: String,
    /// When.
    pub at: i64,
    /// Until when a grant holds.
    pub until: Option<i64>,
    /// On an administrator's record of a consent given on paper (紙の同意書): the account of
    /// the guardian who signed it.
    pub paper_from: Option<String>,
}

/// The accounts that may act for children now: what decides whether an earlier consent still
/// counts. A guardian's consent counts only while the roster links the guardian to the child;
/// after custody ends (a delta import empties the link), it is in force for no one, and the
/// child's current guardians decide.
pub struct Authors(HashSet<(String, String)>);

impl Authors {
    /// The current guardians' accounts of these children.
    pub async fn of(directory: &dyn Directory, children: &[String]) -> Result<Self> {
        Ok(Authors(
            directory
                .guardian_accounts_of(children)
                .await?
                .into_iter()
                .collect(),
        ))
    }

    /// Whether the author of `record` may still act for its child: a guardian while the
    /// roster links them, the child, or an administrator (recording a consent given on
    /// paper).
    pub fn may_still_act(&self, record: &ConsentRecord) -> bool {
        match Role::parse(&record.by_role) {
            Some(Role::Guardian) => self
                .0
                .contains(&(record.student_id.clone(), record.by_user_id.clone())),
            // A paper consent counts while its guardian may still act for the child.
            Some(Role::Administrator) => record.paper_from.as_ref().is_none_or(|guardian| {
                self.0
                    .contains(&(record.student_id.clone(), guardian.clone()))
            }),
            Some(Role::Student) => true,
            _ => false,
        }
    }
}

/// What a person asks to record.
#[derive(Clone, Debug)]
pub struct ConsentInput {
    /// The child (OneRoster sourcedId).
    pub student_id: String,
    /// The app.
    pub client_id: String,
    /// The category.
    pub category_id: String,
    /// Grant or withdraw.
    pub action: Action,
    /// Until when a grant holds.
    pub until: Option<i64>,
    /// An administrator recording a guardian's paper consent (紙の同意書): the account id of
    /// the guardian who signed it, one of the child's guardians now.
    pub paper_from: Option<String>,
}

/// Records a grant or withdrawal by `actor`, after checking that a policy asks for consent,
/// that the child is among the pupils it covers, and that the actor may speak for the child: a
/// guardian linked to the child (guardian basis), the child (student basis), or an
/// administrator of the child's school or of the board (recording a consent given on paper).
/// A withdrawal is accepted as long as a policy was ever set, even if it is no longer in force.
/// The record is audited (`consent`, through `via`: the page, API path or command) before this
/// returns.
pub async fn record(
    store: &dyn ConsentStore,
    directory: &dyn Directory,
    audit: &AuditLog,
    via: &str,
    actor: &UserRow,
    input: ConsentInput,
    now: i64,
) -> Result<ConsentRecord> {
    if !actor.enabled {
        return Err(Error::Forbidden(format!(
            "{} is disabled and cannot decide on consent",
            actor.username
        )));
    }
    let placement = directory
        .placement(&input.student_id)
        .await?
        .ok_or_else(|| {
            Error::Invalid(format!(
                "there is no student {:?} in the directory",
                input.student_id
            ))
        })?;
    let policy = match input.action {
        Action::Grant => store.current_policy(&input.client_id, &input.category_id, now).await?,
        Action::Withdraw => store.latest_policy(&input.client_id, &input.category_id).await?,
    }
    .ok_or_else(|| {
        Error::Invalid(format!(
            "no policy in force lets app {:?} read {:?}; an administrator sets one with `renkei policy set`",
            input.client_id, input.category_id
        ))
    })?;
    if policy.basis == Basis::School {
        return Err(Error::Invalid(
            "this policy provides the data on the school's own basis; there is no consent to give or withdraw".into(),
        ));
    }
    if !policy.reaches(&placement) {
        return Err(Error::Invalid(format!(
            "the child {:?} is not among the pupils this policy covers (its schools, grades and classes)",
            input.student_id
        )));
    }
    let by_role = match (Role::parse(&actor.role), actor.sourced_id.as_deref()) {
        (Some(Role::Administrator), _) => {
            let administers = renkei_directory::administered(
                directory,
                actor.sourced_id.as_deref(),
                actor.school_id.as_deref(),
            )
            .await?;
            if !administers.reaches_any(&placement.schools) {
                return Err(Error::Forbidden(format!(
                    "{} does not administer this child's school (an administrator's reach is the board's own org, a districtAdministrator role, or the school of their primary org)",
                    actor.username
                )));
            }
            Role::Administrator
        }
        (Some(Role::Guardian), Some(guardian)) if policy.basis == Basis::Guardian => {
            if !directory
                .is_guardian_of(guardian, &input.student_id)
                .await?
            {
                return Err(Error::Forbidden(format!(
                    "{} is not a guardian of this child",
                    actor.username
                )));
            }
            Role::Guardian
        }
        (Some(Role::Student), Some(me))
            if policy.basis == Basis::Student && me == input.student_id =>
        {
            Role::Student
        }
        _ => {
            return Err(Error::Forbidden(format!(
                "{} may not decide for this child under a {} basis",
                actor.username,
                policy.basis.as_str()
            )));
        }
    };
    match &input.paper_from {
        Some(guardian) => {
            check_paper(
                directory,
                &input.student_id,
                guardian,
                by_role,
                policy.basis,
            )
            .await?;
        }
        // A guardian's paper consent counts while that guardian acts for the child, so it
        // names them; a withdrawal needs no name (it never lapses into a grant).
        None if by_role == Role::Administrator
            && policy.basis == Basis::Guardian
            && input.action == Action::Grant =>
        {
            return Err(Error::Invalid(
                "a guardian's paper consent names the guardian who signed it (--paper-from USERNAME, or the console's guardian field): it counts while the roster links them to the child".into(),
            ));
        }
        None => {}
    }
    if input.until.is_some_and(|until| until <= now) {
        return Err(Error::Invalid("--until must be in the future".into()));
    }
    let until = match (input.action, input.until, policy.valid_until) {
        (Action::Withdraw, _, _) => None,
        (Action::Grant, Some(asked), Some(policy_end)) => Some(asked.min(policy_end)),
        (Action::Grant, asked, policy_end) => asked.or(policy_end),
    };
    let record = ConsentRecord {
        id: renkei_idp::crypto::random_id(),
        student_id: input.student_id,
        client_id: input.client_id,
        category_id: input.category_id,
        policy_version: policy.version,
        action: input.action.as_str().to_owned(),
        by_user_id: actor.id.clone(),
        by_role: by_role.as_str().to_owned(),
        at: now,
        until,
        paper_from: input.paper_from,
    };
    store.append_consent(&record).await?;
    if input.action == Action::Withdraw {
        // Outstanding capability tokens of this app and category stop at once.
        store
            .revoke_capabilities(&record.client_id, Some(&record.category_id), now)
            .await?;
    }
    audit.append(record.audit_event(via)).await?;
    Ok(record)
}

/// Checks that a paper consent's guardian may sign for the child: recorded by an
/// administrator, under a policy asking guardians, by one of the child's current guardians.
async fn check_paper(
    directory: &dyn Directory,
    student_id: &str,
    guardian: &str,
    by_role: Role,
    basis: Basis,
) -> Result<()> {
    if by_role != Role::Administrator {
        return Err(Error::Forbidden(
            "only an administrator records a consent given on paper".into(),
        ));
    }
    if basis != Basis::Guardian {
        return Err(Error::Invalid(
            "this policy asks the pupil, not a guardian: record the pupil's paper without naming a guardian".into(),
        ));
    }
    let guardians = directory
        .guardian_accounts_of(&[student_id.to_owned()])
        .await?;
    if !guardians.iter().any(|(_, account)| account == guardian) {
        return Err(Error::Invalid(format!(
            "account {guardian:?} is not a guardian of the child {student_id:?} in the roster; name one of the child's guardians"
        )));
    }
    Ok(())
}

impl ConsentRecord {
    /// The audit event of this record, appended through `via`.
    pub fn audit_event(&self, via: &str) -> AuditEvent {
        AuditEvent::change(
            "consent",
            Some(&self.client_id),
            vec![self.category_id.clone()],
            vec![self.student_id.clone()],
            via,
            match &self.paper_from {
                None => format!(
                    "{} by {} ({}), policy version {}",
                    self.action, self.by_user_id, self.by_role, self.policy_version
                ),
                Some(guardian) => format!(
                    "{} on paper signed by guardian {guardian}, recorded by {} ({}), policy version {}",
                    self.action, self.by_user_id, self.by_role, self.policy_version
                ),
            },
        )
    }
}
