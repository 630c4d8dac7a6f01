//! The teachers' class view: the classes a teacher teaches (from the roster), each with its
//! pupils (出席番号, name, kana) and, for every app with a policy in force that reaches the
//! class, what it reads and whose consent it still waits for. Nothing beyond the teacher's own
//! classes; every view is audited as a read of those pupils' roster data.

use renkei_directory::{Pupil, Role};
use renkei_idp::store::UserRow;
use renkei_platform::AuditEvent;
use serde::Serialize;

use crate::Console;
use crate::error::{Error, Result};

/// A pupil on the class roll.
#[derive(Clone, Debug, Serialize)]
pub struct RollPupil {
    /// sourcedId.
    pub sourced_id: String,
    /// 出席番号.
    pub number: Option<i64>,
    /// Name.
    pub name: String,
    /// Kana.
    pub kana: String,
    /// Sign-in name.
    pub username: String,
}

/// What one app reads of one category about the class.
#[derive(Clone, Debug, Serialize)]
pub struct AppUse {
    /// The app's name.
    pub app: String,
    /// The category's id.
    pub category: String,
    /// The basis.
    pub basis: &'static str,
    /// Pupils of the class it reads.
    pub provided: usize,
    /// Pupils of the class waiting for consent, by name.
    pub waiting: Vec<String>,
}

/// One class as its teacher sees it.
#[derive(Clone, Debug, Serialize)]
pub struct ClassView {
    /// sourcedId.
    pub id: String,
    /// Title, e.g. 3年1組.
    pub title: String,
    /// The school's name.
    pub school: String,
    /// The roll, by number.
    pub pupils: Vec<RollPupil>,
    /// The apps reaching the class.
    pub uses: Vec<AppUse>,
}

/// The classes `teacher` teaches, audited (through `via`) as a read of their pupils.
pub async fn of_teacher(console: &Console, teacher: &UserRow, via: &str) -> Result<Vec<ClassView>> {
    if !teacher.enabled || Role::parse(&teacher.role) != Some(Role::Teacher) {
        return Err(Error::Forbidden("the class view is for teachers".into()));
    }
    let Some(me) = &teacher.sourced_id else {
        return Ok(Vec::new());
    };
    let directory = console.idp.directory.as_ref();
    let clients = console.idp.store.clients().await?;
    let now = renkei_platform::clock::now();
    let in_force = crate::apps::policies_in_force(console, &clients, now).await?;
    let mut views = Vec::new();
    let mut seen = Vec::new();
    for class in directory.classes_taught_by(me).await? {
        let roll = directory.class_roll(&class.id).await?;
        let ids: Vec<String> = roll.iter().map(|(id, _)| id.clone()).collect();
        let people = directory.people(&ids).await?;
        let person = |id: &str| people.iter().find(|p| p.sourced_id.as_deref() == Some(id));
        let pupils: Vec<RollPupil> = roll
            .iter()
            .filter_map(|(id, number)| {
                let p = person(id)?;
                Some(RollPupil {
                    sourced_id: id.clone(),
                    number: *number,
                    name: p.name.clone(),
                    kana: p.kana.clone(),
                    username: p.username.clone(),
                })
            })
            .collect();
        let candidates: Vec<Pupil> = people
            .iter()
            .filter_map(|p| {
                Some(Pupil {
                    id: p.sourced_id.clone()?,
                    grade: p.grade.clone(),
                })
            })
            .collect();
        let mut uses = Vec::new();
        for (client, policy) in &in_force {
            let sight = renkei_consent::policy::sight_among(
                console.consent.store.as_ref(),
                directory,
                policy,
                &candidates,
                now,
            )
            .await?;
            if sight.reached.is_empty() {
                continue;
            }
            uses.push(AppUse {
                app: client.name.clone(),
                category: policy.category_id.clone(),
                basis: policy.basis.as_str(),
                provided: sight.visible.len(),
                waiting: pupils
                    .iter()
                    .filter(|p| sight.waiting().any(|w| w == &p.sourced_id))
                    .map(|p| p.name.clone())
                    .collect(),
            });
        }
        let school = directory
            .org(&class.school_id)
            .await?
            .map_or_else(|| class.school_id.clone(), |org| org.name);
        seen.extend(ids);
        views.push(ClassView {
            id: class.id,
            title: class.title,
            school,
            pupils,
            uses,
        });
    }
    seen.sort();
    seen.dedup();
    let records = seen.len() as i64;
    let mut event = AuditEvent::change(
        "read",
        None,
        Vec::new(),
        seen,
        via,
        "the class view: names, kana and roll numbers of the teacher's classes".into(),
    );
    event.records = records;
    console.audit.record(event);
    Ok(views)
}

/// A new sign-in slip for a pupil (a forgotten password): shown once, to print and hand over.
#[derive(Clone, Debug, Serialize)]
pub struct Slip {
    /// The pupil's name.
    pub name: String,
    /// Its kana.
    pub kana: String,
    /// The class's title.
    pub class: String,
    /// 出席番号.
    pub number: Option<i64>,
    /// Sign-in name.
    pub username: String,
    /// The new password; the old one and every session of the pupil ended.
    pub password: String,
    /// Where to sign in.
    pub sign_in: String,
}

/// Issues a new password for a pupil of one of `teacher`'s classes, as a printable slip; the
/// provider's operation audits it (through `via`) and signs the pupil out everywhere.
pub async fn issue_slip(
    console: &Console,
    teacher: &UserRow,
    pupil_id: &str,
    via: &str,
) -> Result<Slip> {
    if !teacher.enabled || Role::parse(&teacher.role) != Some(Role::Teacher) {
        return Err(Error::Forbidden("the class view is for teachers".into()));
    }
    let unknown = || Error::NotFound(format!("there is no pupil {pupil_id:?} in your classes"));
    let me = teacher.sourced_id.as_deref().ok_or_else(unknown)?;
    let directory = console.idp.directory.as_ref();
    let mut found = None;
    for class in directory.classes_taught_by(me).await? {
        let roll = directory.class_roll(&class.id).await?;
        if let Some((_, number)) = roll.into_iter().find(|(id, _)| id == pupil_id) {
            found = Some((class.title, number));
            break;
        }
    }
    let (class, number) = found.ok_or_else(unknown)?;
    let pupil = directory
        .people(&[pupil_id.to_owned()])
        .await?
        .into_iter()
        .find(|p| Role::parse(&p.role) == Some(Role::Student))
        .ok_or_else(unknown)?;
    let password =
        renkei_platform::crypto::readable_password(crate::people::ISSUED_PASSWORD_LENGTH);
    renkei_idp::user::set_password(
        console.idp.store.as_ref(),
        &console.audit,
        via,
        &pupil.username,
        password.clone(),
    )
    .await?;
    Ok(Slip {
        name: pupil.name,
        kana: pupil.kana,
        class,
        number,
        username: pupil.username,
        password,
        sign_in: format!("{}/login", console.idp.config.issuer.trim_end_matches('/')),
    })
}
