//! The OneRoster 1.2 rostering endpoints (`/ims/oneroster/rostering/v1p2/…`): each body picks
//! the candidate records, and [`View`](crate::view::View) keeps what the token lets the app see.

use crate::error::{Error, Result};
use crate::read::{Answer, Read, single};
use crate::store::{By, Record, Table};
use crate::view::{DEMOGRAPHICS, Places, ROSTER_CORE, served};

/// Which people a collection of users lists.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everyone (`/users`).
    Any,
    /// Pupils (`/students`).
    Student,
    /// Teachers (`/teachers`).
    Teacher,
}

impl Role {
    fn keeps(self, record: &Record) -> bool {
        match self {
            Role::Any => true,
            Role::Student => record.role() == Some(renkei_directory::Role::Student),
            Role::Teacher => record.role() == Some(renkei_directory::Role::Teacher),
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Role::Any => "user",
            Role::Student => "student",
            Role::Teacher => "teacher",
        }
    }
}

/// The records of `table` whose `by` is one of `values`.
pub async fn select(read: &Read, table: Table, by: By, values: &[&str]) -> Result<Vec<Record>> {
    let values: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
    Ok(read.gateway.store.select(table, by, &values).await?)
}

/// Orgs the app may see (`GET /orgs`, `GET /schools`).
pub async fn orgs(read: &Read, schools_only: bool) -> Result<Answer> {
    let view = read.view();
    let mut orgs = view.in_reach(Table::ORGS).await?;
    orgs.retain(|o| !schools_only || o.kind.as_deref() == Some("school"));
    Ok(Answer::List(
        "orgs",
        view.catalog_records(ROSTER_CORE, orgs).await?,
    ))
}

/// One org (`GET /orgs/{id}`, `GET /schools/{id}`).
pub async fn org(read: &Read, schools_only: bool) -> Result<Answer> {
    let mut orgs = select(read, Table::ORGS, By::Id, &[read.id(0)]).await?;
    orgs.retain(|o| !schools_only || o.kind.as_deref() == Some("school"));
    let orgs = read.view().catalog_records(ROSTER_CORE, orgs).await?;
    Ok(single("org", orgs))
}

/// The school `read.id(0)`, if it lies in the token's scope (else 404): the parent of a
/// nested collection, whose records are then judged one by one.
pub async fn visible_school(read: &Read) -> Result<()> {
    let id = read.id(0);
    if !read.view().schools().await?.iter().any(|s| s == id) {
        return Err(Error::NotFound(format!("no school {id}")));
    }
    Ok(())
}

/// Academic sessions of a type (`None`: all) — `GET /academicSessions`, `/terms`,
/// `/gradingPeriods`, `/schools/{id}/terms`.
pub async fn sessions(read: &Read, kind: Option<&str>, of_school: bool) -> Result<Answer> {
    if of_school {
        visible_school(read).await?;
    }
    let mut sessions = read
        .gateway
        .store
        .select(Table::ACADEMIC_SESSIONS, By::All, &[])
        .await?;
    sessions.retain(|s| kind.is_none() || s.kind.as_deref() == kind);
    Ok(Answer::List(
        "academicSessions",
        read.view().catalog_records(ROSTER_CORE, sessions).await?,
    ))
}

/// One academic session of a type (`None`: any).
pub async fn session(read: &Read, kind: Option<&str>) -> Result<Answer> {
    let mut sessions = select(read, Table::ACADEMIC_SESSIONS, By::Id, &[read.id(0)]).await?;
    sessions.retain(|s| kind.is_none() || s.kind.as_deref() == kind);
    let sessions = read.view().catalog_records(ROSTER_CORE, sessions).await?;
    Ok(single("academicSession", sessions))
}

/// `GET /terms/{id}/gradingPeriods`.
pub async fn grading_periods_of_term(read: &Read) -> Result<Answer> {
    session(read, Some("term"))
        .await
        .and_then(|term| match term {
            Answer::One(_, None) => Err(Error::NotFound(format!("no term {}", read.id(0)))),
            _ => Ok(()),
        })?;
    let mut periods = select(read, Table::ACADEMIC_SESSIONS, By::Parent, &[read.id(0)]).await?;
    periods.retain(|s| s.kind.as_deref() == Some("gradingPeriod"));
    Ok(Answer::List(
        "academicSessions",
        read.view().catalog_records(ROSTER_CORE, periods).await?,
    ))
}

/// Courses (`GET /courses`, `GET /schools/{id}/courses`).
pub async fn courses(read: &Read, of_school: bool) -> Result<Answer> {
    let view = read.view();
    let courses = if of_school {
        visible_school(read).await?;
        select(read, Table::COURSES, By::School, &[read.id(0)]).await?
    } else {
        view.in_reach(Table::COURSES).await?
    };
    Ok(Answer::List(
        "courses",
        view.catalog_records(ROSTER_CORE, courses).await?,
    ))
}

/// `GET /courses/{id}`.
pub async fn course(read: &Read) -> Result<Answer> {
    let courses = select(read, Table::COURSES, By::Id, &[read.id(0)]).await?;
    Ok(single(
        "course",
        read.view().catalog_records(ROSTER_CORE, courses).await?,
    ))
}

/// The class `id`, if it lies in the token's scope (else 404): the parent of a nested
/// collection, whose records are then judged one by one (so that a token attenuated to one
/// child still lists that child in its class).
pub async fn class_in_scope(read: &Read, id: &str) -> Result<Record> {
    let capability = read.capability();
    select(read, Table::CLASSES, By::Id, &[id])
        .await?
        .pop()
        .filter(|class| {
            capability.classes.iter().any(|c| c == id)
                || class
                    .school_id
                    .as_ref()
                    .is_some_and(|s| capability.schools.contains(s))
        })
        .ok_or_else(|| Error::NotFound(format!("no class {id}")))
}

/// Which classes a collection of classes lists.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Classes {
    /// `GET /classes`.
    All,
    /// `GET /schools/{id}/classes`.
    OfSchool,
    /// `GET /courses/{id}/classes`.
    OfCourse,
    /// `GET /terms/{id}/classes`.
    OfTerm,
    /// `GET /users|students|teachers/{id}/classes`.
    OfUser(Role),
}

/// Classes the app may see.
pub async fn classes(read: &Read, which: Classes) -> Result<Answer> {
    let view = read.view();
    let id = read.id(0);
    let candidates = match which {
        Classes::All => view.in_reach(Table::CLASSES).await?,
        Classes::OfSchool => {
            visible_school(read).await?;
            select(read, Table::CLASSES, By::School, &[id]).await?
        }
        Classes::OfCourse => select(read, Table::CLASSES, By::Parent, &[id]).await?,
        Classes::OfTerm => {
            let mut classes = view.in_reach(Table::CLASSES).await?;
            classes.retain(|class| {
                served(class)["terms"]
                    .as_array()
                    .is_some_and(|terms| terms.iter().any(|t| t["sourcedId"] == id))
            });
            classes
        }
        Classes::OfUser(role) => {
            if let Answer::One(_, None) = user(read, role).await? {
                return Err(Error::NotFound(format!("no {} {id}", role.noun())));
            }
            select(read, Table::CLASSES, By::User, &[id]).await?
        }
    };
    Ok(Answer::List(
        "classes",
        view.class_records(ROSTER_CORE, candidates),
    ))
}

/// `GET /classes/{id}`.
pub async fn class(read: &Read) -> Result<Answer> {
    let class = select(read, Table::CLASSES, By::Id, &[read.id(0)]).await?;
    Ok(single(
        "class",
        read.view().class_records(ROSTER_CORE, class),
    ))
}

/// Where a collection of users is taken from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum People {
    /// Everyone in the token's reach.
    All,
    /// `GET /classes/{id}/…`.
    OfClass,
    /// `GET /schools/{id}/…`.
    OfSchool,
    /// `GET /schools/{id}/classes/{classId}/…`.
    OfSchoolClass,
}

/// Users of a role the app may see.
pub async fn users(read: &Read, from: People, role: Role) -> Result<Answer> {
    let view = read.view();
    let (candidates, class) = match from {
        People::All => (view.in_reach(Table::USERS).await?, None),
        People::OfClass => {
            let class = class_in_scope(read, read.id(0)).await?;
            let users = select(read, Table::USERS, By::Class, &[read.id(0)]).await?;
            (users, Some(class))
        }
        People::OfSchool => {
            visible_school(read).await?;
            let users = select(read, Table::USERS, By::School, &[read.id(0)]).await?;
            (users, None)
        }
        People::OfSchoolClass => {
            let class = class_of_school(read).await?;
            let users = select(read, Table::USERS, By::Class, &[read.id(1)]).await?;
            (users, Some(class))
        }
    };
    let candidates: Vec<Record> = candidates.into_iter().filter(|u| role.keeps(u)).collect();
    // A class's members are judged as members of that class (and its school).
    let known = class.map(|class| {
        let ids: Vec<String> = candidates.iter().map(|u| u.sourced_id.clone()).collect();
        let schools: Vec<String> = class.school_id.iter().cloned().collect();
        Places::uniform(&ids, &schools, &[class.sourced_id])
    });
    Ok(Answer::List(
        "users",
        view.people_placed(candidates, known).await?,
    ))
}

/// The class `read.id(1)` of the school `read.id(0)`, if the app may see it.
async fn class_of_school(read: &Read) -> Result<Record> {
    let class = class_in_scope(read, read.id(1)).await?;
    if class.school_id.as_deref() != Some(read.id(0)) {
        return Err(Error::NotFound(format!(
            "no class {} in school {}",
            read.id(1),
            read.id(0)
        )));
    }
    Ok(class)
}

/// One user of a role (`GET /users/{id}`, `/students/{id}`, `/teachers/{id}`).
pub async fn user(read: &Read, role: Role) -> Result<Answer> {
    let mut candidates = select(read, Table::USERS, By::Id, &[read.id(0)]).await?;
    candidates.retain(|u| role.keeps(u));
    Ok(single("user", read.view().people(candidates).await?))
}

/// Where a collection of enrollments is taken from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Enrollments {
    /// `GET /enrollments`.
    All,
    /// `GET /schools/{id}/enrollments`.
    OfSchool,
    /// `GET /schools/{id}/classes/{classId}/enrollments`.
    OfSchoolClass,
}

/// Enrollments the app may see: pupils' it covers, and teachers' in its scope.
pub async fn enrollments(read: &Read, from: Enrollments) -> Result<Answer> {
    let view = read.view();
    let candidates = match from {
        Enrollments::All => view.in_reach(Table::ENROLLMENTS).await?,
        Enrollments::OfSchool => {
            visible_school(read).await?;
            select(read, Table::ENROLLMENTS, By::School, &[read.id(0)]).await?
        }
        Enrollments::OfSchoolClass => {
            class_of_school(read).await?;
            select(read, Table::ENROLLMENTS, By::Class, &[read.id(1)]).await?
        }
    };
    Ok(Answer::List(
        "enrollments",
        view.child_records(ROSTER_CORE, candidates).await?,
    ))
}

/// `GET /enrollments/{id}`.
pub async fn enrollment(read: &Read) -> Result<Answer> {
    let candidates = select(read, Table::ENROLLMENTS, By::Id, &[read.id(0)]).await?;
    Ok(single(
        "enrollment",
        read.view().child_records(ROSTER_CORE, candidates).await?,
    ))
}

/// `GET /demographics`: the demographics of the pupils in reach the token covers.
pub async fn demographics(read: &Read) -> Result<Answer> {
    let view = read.view();
    let people: Vec<String> = view
        .in_reach(Table::USERS)
        .await?
        .into_iter()
        .filter(|u| u.role() == Some(renkei_directory::Role::Student))
        .map(|u| u.sourced_id)
        .collect();
    let records = read
        .gateway
        .store
        .select(Table::DEMOGRAPHICS, By::User, &people)
        .await?;
    Ok(Answer::List(
        "demographics",
        view.child_records(DEMOGRAPHICS, records).await?,
    ))
}

/// `GET /demographics/{id}`.
pub async fn demographic(read: &Read) -> Result<Answer> {
    let records = select(read, Table::DEMOGRAPHICS, By::Id, &[read.id(0)]).await?;
    Ok(single(
        "demographics",
        read.view().child_records(DEMOGRAPHICS, records).await?,
    ))
}
