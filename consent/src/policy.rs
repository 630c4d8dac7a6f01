//! Administrators' policies: which app may read which category, for which schools, grades and
//! classes, on which legal basis, for what purpose, until when. Every change is a new version.

use std::collections::BTreeSet;

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
    validate(store, directory, &input, now).await?;
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

/// Checks a policy before it is stored or previewed: it reaches something, the app and the
/// category exist, class I data has the basis it needs, the schools and classes exist and the
/// end of validity is ahead.
async fn validate(
    store: &dyn ConsentStore,
    directory: &dyn Directory,
    input: &PolicyInput,
    now: i64,
) -> Result<()> {
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
    Ok(())
}

/// What one version of a policy shows its app today.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sight {
    /// The active pupils within its schools, grades and classes.
    pub reached: BTreeSet<String>,
    /// Those of them the app may read: all of them on the school's decision, those whose
    /// consent to this version is in force otherwise.
    pub visible: BTreeSet<String>,
}

impl Sight {
    /// What `policy` provides of the `reached` pupils at `now`.
    async fn of(
        store: &dyn ConsentStore,
        directory: &dyn Directory,
        policy: &Policy,
        reached: BTreeSet<String>,
        now: i64,
    ) -> Result<Self> {
        let (visible, _) =
            crate::capability::mint::provided(store, directory, policy, reached.clone(), now)
                .await?;
        Ok(Sight { reached, visible })
    }

    /// The reached pupils the app may not read yet (waiting for a guardian's or the pupil's
    /// consent).
    pub fn waiting(&self) -> impl Iterator<Item = &String> {
        self.reached.difference(&self.visible)
    }
}

/// A policy as it would be, beside the one in force: exactly which pupils the app would see
/// if the administrator saved it, and which it sees today.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preview {
    /// The version in force now, and what it shows.
    pub current: Option<(Policy, Sight)>,
    /// What the proposed version would show once saved.
    pub proposed: Sight,
    /// Saving makes a new version, to which no one has consented yet: consents given to the
    /// version in force must be given again.
    pub consents_start_over: bool,
}

/// Previews `input` without storing anything: validated exactly as [`set`] validates it.
pub async fn preview(
    store: &dyn ConsentStore,
    directory: &dyn Directory,
    input: &PolicyInput,
    now: i64,
) -> Result<Preview> {
    validate(store, directory, input, now).await?;
    let current = match store
        .current_policy(&input.client_id, &input.category_id, now)
        .await?
    {
        Some(policy) => {
            let seen = sight(store, directory, &policy, now).await?;
            Some((policy, seen))
        }
        None => None,
    };
    let latest = store
        .latest_policy(&input.client_id, &input.category_id)
        .await?;
    let proposed = Policy {
        client_id: input.client_id.clone(),
        category_id: input.category_id.clone(),
        version: latest.as_ref().map_or(1, |p| p.version + 1),
        basis: input.basis,
        reach: input.reach.clone(),
        purpose_ja: input.purpose_ja.clone(),
        purpose_en: input.purpose_en.clone(),
        valid_until: input.valid_until,
        justification: input.justification.clone(),
        created_at: now,
        created_by: input.by.clone(),
    };
    let consents_start_over = input.basis != Basis::School
        && current.as_ref().is_some_and(|(policy, seen)| {
            policy.basis != Basis::School && !seen.visible.is_empty()
        });
    Ok(Preview {
        proposed: sight(store, directory, &proposed, now).await?,
        current,
        consents_start_over,
    })
}

/// What `policy` shows its app at `now`.
pub async fn sight(
    store: &dyn ConsentStore,
    directory: &dyn Directory,
    policy: &Policy,
    now: i64,
) -> Result<Sight> {
    let mut reached = BTreeSet::new();
    for reach in &policy.reach {
        let pupils = match reach {
            Reach::School(id) => directory.pupils_of_school(id).await?,
            Reach::Class(id) => directory.pupils_of_class(id).await?,
            Reach::Grade(grade) => directory.pupils_of_grade(grade).await?,
        };
        reached.extend(pupils.into_iter().map(|p| p.id));
    }
    Sight::of(store, directory, policy, reached, now).await
}

/// What `policy` shows its app at `now` of the `candidates` only (a class's pupils, say),
/// without listing everyone it reaches.
pub async fn sight_among(
    store: &dyn ConsentStore,
    directory: &dyn Directory,
    policy: &Policy,
    candidates: &[crate::store::Pupil],
    now: i64,
) -> Result<Sight> {
    let reached = crate::capability::mint::reached(directory, policy, candidates).await?;
    Sight::of(store, directory, policy, reached, now).await
}
