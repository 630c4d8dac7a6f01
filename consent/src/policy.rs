//! Administrators' policies: which app may read which category, for which schools, grades and
//! classes, on which legal basis, for what purpose, until when. Every change is a new version.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::ConsentStore;
use renkei_directory::Directory;
use renkei_platform::{AuditEvent, AuditLog};

/// The legal basis on which data is provided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    /// The board provides the data within its duties and a stated purpose (a public school's
    /// usual basis under Japan's personal-information law).
    School,
    /// A guardian consents for each child.
    Guardian,
    /// The child consents (where the board allows it).
    Student,
}

impl Basis {
    /// Parses `school`, `guardian` or `student`.
    pub fn parse(value: &str) -> Result<Self> {
        match value {
            "school" => Ok(Basis::School),
            "guardian" => Ok(Basis::Guardian),
            "student" => Ok(Basis::Student),
            other => Err(Error::Invalid(format!(
                "unknown basis {other:?}; use school, guardian or student"
            ))),
        }
    }

    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::School => "school",
            Basis::Guardian => "guardian",
            Basis::Student => "student",
        }
    }
}

/// Which children a policy covers: those of a school, of a grade, or of a class.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "lowercase")]
pub enum Reach {
    /// Every pupil of a school (its sourcedId).
    School(String),
    /// Every pupil in a grade (P1–P6, J1–J3, H1–H3, …) of the board.
    Grade(String),
    /// Every pupil of a class (its sourcedId).
    Class(String),
}

/// A policy as an administrator sets it.
#[derive(Clone, Debug)]
pub struct PolicyInput {
    /// The app.
    pub client_id: String,
    /// The category.
    pub category_id: String,
    /// Legal basis.
    pub basis: Basis,
    /// Schools, grades and classes covered (at least one).
    pub reach: Vec<Reach>,
    /// 利用目的, in Japanese.
    pub purpose_ja: Option<String>,
    /// Purpose of use, in English.
    pub purpose_en: Option<String>,
    /// End of validity (Unix seconds).
    pub valid_until: Option<i64>,
    /// Why the board's duties cover class I data without guardian consent.
    pub justification: Option<String>,
    /// The administrator setting it.
    pub by: String,
}

/// A stored policy version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// The app.
    pub client_id: String,
    /// The category.
    pub category_id: String,
    /// Version (1, 2, …).
    pub version: i64,
    /// Legal basis.
    pub basis: Basis,
    /// Schools, grades and classes covered.
    pub reach: Vec<Reach>,
    /// 利用目的.
    pub purpose_ja: Option<String>,
    /// Purpose of use.
    pub purpose_en: Option<String>,
    /// End of validity.
    pub valid_until: Option<i64>,
    /// Recorded justification (class I without guardian basis).
    pub justification: Option<String>,
    /// When this version was set.
    pub created_at: i64,
    /// Who set it.
    pub created_by: String,
}

impl Policy {
    /// Whether the policy's schools, grades or classes include a pupil placed so.
    pub fn reaches(&self, placement: &crate::store::Placement) -> bool {
        self.reach.iter().any(|reach| match reach {
            Reach::School(school) => placement.schools.contains(school),
            Reach::Class(class) => placement.classes.contains(class),
            Reach::Grade(grade) => placement.grade.as_ref() == Some(grade),
        })
    }

    /// Whether this version is in force at `now` (it is the latest; see
    /// [`ConsentStore::current_policy`]).
    pub fn in_force(&self, now: i64) -> bool {
        self.valid_until.is_none_or(|until| until > now)
    }
}

/// Validates and stores a new version of the policy for (app, category), revokes the app's
/// outstanding tokens for the category, and audits the change (through `via`).
pub async fn set(
    store: &dyn ConsentStore,
    directory: &dyn Directory,
    audit: &AuditLog,
    via: &str,
    input: PolicyInput,
    now: i64,
) -> Result<Policy> {
    if input.reach.is_empty() {
        return Err(Error::Invalid(
            "a policy needs at least one --school, --class or --grade it applies to".into(),
        ));
    }
    if !store.client_exists(&input.client_id).await? {
        return Err(Error::Invalid(format!(
            "there is no registered app with client id {:?}",
            input.client_id
        )));
    }
    let category = store.category(&input.category_id).await?.ok_or_else(|| {
        Error::Invalid(format!(
            "unknown data category {:?}; `renkei policy categories` lists them",
            input.category_id
        ))
    })?;
    let justified = input
        .justification
        .as_deref()
        .is_some_and(|j| !j.trim().is_empty());
    if category.is_highly_sensitive()
        && !(input.basis == Basis::Guardian || (input.basis == Basis::School && justified))
    {
        return Err(Error::Invalid(format!(
            "{} ({}) is special-care information (class I): use --basis guardian, or --basis school with a --justification recording why the board's duties cover it",
            category.name_en, category.name_ja
        )));
    }
    for reach in &input.reach {
        let known = match reach {
            Reach::School(id) => directory.school_exists(id).await?,
            Reach::Class(id) => directory.class_exists(id).await?,
            Reach::Grade(code) => renkei_directory::import::schema::GRADES.contains(&code.as_str()),
        };
        if !known {
            return Err(Error::Invalid(match reach {
                Reach::School(id) => format!("there is no school {id:?} in the directory"),
                Reach::Class(id) => format!("there is no class {id:?} in the directory"),
                Reach::Grade(code) => {
                    format!("unknown grade code {code:?}; use P1–P6, J1–J3, H1–H3")
                }
            }));
        }
    }
    if input.valid_until.is_some_and(|until| until <= now) {
        return Err(Error::Invalid("--until must be in the future".into()));
    }
    let policy = store.insert_policy(&input, now).await?;
    // A new version may narrow what tokens said: outstanding ones stop at once.
    store
        .revoke_capabilities(&policy.client_id, Some(&policy.category_id), now)
        .await?;
    audit
        .append(AuditEvent::change(
            "admin",
            Some(&policy.client_id),
            vec![policy.category_id.clone()],
            Vec::new(),
            via,
            format!(
                "policy version {} ({}) by {}",
                policy.version,
                policy.basis.as_str(),
                policy.created_by
            ),
        ))
        .await?;
    Ok(policy)
}
