//! What a verified capability lets an app see: the per-record decisions every endpoint makes,
//! with the roster facts they need (where a person is placed, whose guardian someone is).
//!
//! Three kinds of record:
//! - **children's data** (pupils' user records, their enrollments, demographics, results,
//!   school-affairs records): returned only if the token covers that child for the category,
//!   in the school or class the record belongs to;
//! - **structure** (classes, staff): returned if it lies in the token's schools or classes;
//! - **catalog** (the board, schools, courses, academic sessions, gradebook categories): what
//!   every token in the board or school may see to make sense of the rest.

use std::collections::{HashMap, HashSet};

use renkei_capability::{Capability, Child};
use serde_json::{Value, json};

use crate::Gateway;
use crate::error::Result;
use crate::paging::Served;
use crate::store::{By, Record, Table};
use renkei_directory::Role;

/// Names, classes and enrollments.
pub const ROSTER_CORE: &str = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly";
/// The roster with contact data.
pub const ROSTER: &str = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster.readonly";
/// Demographics.
pub const DEMOGRAPHICS: &str =
    "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-demographics.readonly";
/// Gradebook (line items, results).
pub const GRADEBOOK: &str = "https://purl.imsglobal.org/spec/or/v1p2/scope/gradebook.readonly";

/// User fields that are contact data (category [`ROSTER`]).
const CONTACT_FIELDS: [&str; 4] = ["email", "sms", "phone", "userIds"];

/// A record as served: stored JSON with sourcedId, status and dateLastModified from the columns.
pub fn served(record: &Record) -> Value {
    let mut value: Value = serde_json::from_str(&record.data).unwrap_or_else(|_| json!({}));
    if let Value::Object(object) = &mut value {
        object.insert("sourcedId".into(), json!(record.sourced_id));
        object.insert("status".into(), json!(record.status));
        object.insert("dateLastModified".into(), json!(record.date_last_modified));
    }
    value
}

/// Gives a user imported from OneRoster 1.1 files (`role` and `orgs`) the 1.2 shape as well:
/// `roles` (the first org primary, the others secondary) and `primaryOrg`, so that 1.2 clients
/// read every user alike. 1.2 records already have them.
fn roles_of_1_1(user: &mut Value) {
    let stated = renkei_directory::roles::roles_of_1_1_record(user);
    let Some(primary) = stated.first().map(|role| role.org.clone()) else {
        return;
    };
    let roles: Vec<Value> = stated
        .iter()
        .map(|role| json!({"roleType": role.role_type, "role": role.role, "org": role.org}))
        .collect();
    if let Value::Object(object) = user {
        object.insert("roles".into(), Value::Array(roles));
        object.entry("primaryOrg").or_insert(primary);
    }
}

/// Where people are placed: their schools and classes.
#[derive(Default)]
pub struct Places(HashMap<String, (Vec<String>, Vec<String>)>);

impl Places {
    /// Everyone in `ids` placed in the same schools and classes: people listed because they
    /// are in one class (a subset of where they are placed, so a decision can only be
    /// narrower, and no placement look-up is needed).
    pub fn uniform(ids: &[String], schools: &[String], classes: &[String]) -> Self {
        Places(
            ids.iter()
                .map(|id| (id.clone(), (schools.to_vec(), classes.to_vec())))
                .collect(),
        )
    }

    /// The child as the verifier sees it.
    pub fn child<'a>(&'a self, id: &'a str) -> Child<'a> {
        static NONE: Vec<String> = Vec::new();
        match self.0.get(id) {
            Some((schools, classes)) => Child {
                id,
                schools,
                classes,
            },
            None => Child {
                id,
                schools: &NONE,
                classes: &NONE,
            },
        }
    }
}

/// The capability of one request and the gateway to look facts up with.
pub struct View<'a> {
    /// The gateway.
    pub gateway: &'a Gateway,
    /// The verified token.
    pub capability: &'a Capability,
}

impl View<'_> {
    /// Where `users` are placed.
    pub async fn places(&self, users: &[String]) -> Result<Places> {
        let mut places: HashMap<String, (Vec<String>, Vec<String>)> = HashMap::new();
        for row in self.gateway.directory.placements(users).await? {
            let entry = places.entry(row.user_id).or_default();
            if let Some(school) = row.school_id
                && !entry.0.contains(&school)
            {
                entry.0.push(school);
            }
            if let Some(class) = row.class_id
                && !entry.1.contains(&class)
            {
                entry.1.push(class);
            }
        }
        Ok(Places(places))
    }

    /// The schools the token reaches: its schools and the schools of its classes.
    pub async fn schools(&self) -> Result<Vec<String>> {
        let mut schools = self.capability.schools.clone();
        for (_, school) in self.class_schools().await? {
            if !schools.contains(&school) {
                schools.push(school);
            }
        }
        Ok(schools)
    }

    /// Every record of `table` in the token's reach (before the per-record decisions): those
    /// of its schools, and of its classes where the table has classes (a narrowing a table
    /// lacks selects nothing).
    pub async fn in_reach(&self, table: Table) -> Result<Vec<Record>> {
        let store = &self.gateway.store;
        // Catalogs, and school-affairs records that name no class, are found through the
        // schools of the token's classes too (each record is then judged on its own).
        let schools = match table {
            Table::ORGS | Table::COURSES | Table::Affairs(_) => self.schools().await?,
            _ => self.capability.schools.clone(),
        };
        let mut records = store.select(table, By::School, &schools).await?;
        records.extend(
            store
                .select(table, By::Class, &self.capability.classes)
                .await?,
        );
        if table == Table::USERS && self.capability.has_category(ROSTER) {
            // Guardians of the pupils in reach (judged in `people`).
            let pupils: Vec<String> = records
                .iter()
                .filter(|r| r.role() == Some(Role::Student))
                .map(|r| r.sourced_id.clone())
                .collect();
            let guardians: Vec<String> = self
                .gateway
                .directory
                .agents(&pupils)
                .await?
                .into_iter()
                .map(|(_, guardian)| guardian)
                .collect();
            records.extend(store.select(Table::USERS, By::Id, &guardians).await?);
        }
        if table == Table::ORGS {
            let parents: Vec<String> = records.iter().filter_map(|o| o.parent_id.clone()).collect();
            records.extend(store.select(Table::ORGS, By::Id, &parents).await?);
        }
        let mut seen = HashSet::new();
        records.retain(|r| seen.insert(r.sourced_id.clone()));
        Ok(records)
    }

    /// May the app see structure (a class, a member of staff) placed in these schools and
    /// classes?
    pub fn structure(&self, category: &str, schools: &[String], classes: &[String]) -> bool {
        self.capability
            .may_read_structure(category, schools, classes)
    }

    /// May the app see a catalog record of `school` (or of the whole board)? Any token of the
    /// school (or of one of its classes) may.
    pub fn catalog(
        &self,
        category: &str,
        school: Option<&str>,
        class_schools: &[(String, String)],
    ) -> bool {
        match school {
            Some(school) => {
                let classes: Vec<String> = class_schools
                    .iter()
                    .filter(|(_, s)| s == school)
                    .map(|(c, _)| c.clone())
                    .collect();
                self.structure(category, &[school.to_owned()], &classes)
            }
            None => self.structure(category, &self.capability.schools, &self.capability.classes),
        }
    }

    /// The token's classes with their schools (for [`View::catalog`]).
    pub async fn class_schools(&self) -> Result<Vec<(String, String)>> {
        Ok(self
            .gateway
            .store
            .select(Table::CLASSES, By::Id, &self.capability.classes)
            .await?
            .into_iter()
            .filter_map(|c| Some((c.sourced_id, c.school_id?)))
            .collect())
    }

    /// Catalog records (orgs, courses, sessions, gradebook categories) the app may see.
    pub async fn catalog_records(
        &self,
        category: &str,
        records: Vec<Record>,
    ) -> Result<Vec<Served>> {
        let class_schools = self.class_schools().await?;
        Ok(records
            .into_iter()
            .filter(|record| self.catalog(category, record.school_id.as_deref(), &class_schools))
            .map(|record| Served::structure(served(&record)))
            .collect())
    }

    /// Classes (and line items, timetables: anything placed in one class) the app may see.
    pub fn class_records(&self, category: &str, records: Vec<Record>) -> Vec<Served> {
        records
            .into_iter()
            .filter(|record| {
                let schools: Vec<String> = record.school_id.iter().cloned().collect();
                let classes: Vec<String> = record.class_id.iter().cloned().collect();
                self.structure(category, &schools, &classes)
            })
            .map(|record| Served::structure(served(&record)))
            .collect()
    }

    /// People the app may see under the roster categories: pupils the token covers, staff
    /// placed in its scope, and guardians of pupils it covers with contact data. Contact fields
    /// only with [`ROSTER`].
    pub async fn people(&self, records: Vec<Record>) -> Result<Vec<Served>> {
        self.people_placed(records, None).await
    }

    /// [`View::people`], judging everyone where `known` places them (if given) instead of
    /// looking their placements up.
    pub async fn people_placed(
        &self,
        records: Vec<Record>,
        known: Option<Places>,
    ) -> Result<Vec<Served>> {
        let ids: Vec<String> = records.iter().map(|r| r.sourced_id.clone()).collect();
        let guardians: Vec<String> = records
            .iter()
            .filter(|r| r.role() == Some(Role::Guardian))
            .map(|r| r.sourced_id.clone())
            .collect();
        let links = if guardians.is_empty() {
            Vec::new()
        } else {
            self.gateway.directory.agents(&guardians).await?
        };
        let places = match known {
            Some(known) if links.is_empty() => known,
            _ => {
                let mut everyone = ids.clone();
                everyone.extend(links.iter().map(|(child, _)| child.clone()));
                self.places(&everyone).await?
            }
        };
        let contact = self.capability.has_category(ROSTER);
        let mut readable = Vec::new();
        for record in records {
            let id = record.sourced_id.as_str();
            let (visible, with_contact, children) = match record.role() {
                Some(Role::Student) => {
                    let child = places.child(id);
                    (
                        self.capability.may_read_child(ROSTER_CORE, &child),
                        contact && self.capability.may_read_child(ROSTER, &child),
                        vec![id.to_owned()],
                    )
                }
                Some(Role::Guardian) => {
                    let children: Vec<String> = links
                        .iter()
                        .filter(|(child, guardian)| guardian == id && child != id)
                        .filter(|(child, _)| {
                            contact && self.capability.may_read_child(ROSTER, &places.child(child))
                        })
                        .map(|(child, _)| child.clone())
                        .collect();
                    (!children.is_empty(), true, children)
                }
                _ => {
                    let place = places.child(id);
                    (
                        self.structure(ROSTER_CORE, place.schools, place.classes),
                        contact && self.structure(ROSTER, place.schools, place.classes),
                        Vec::new(),
                    )
                }
            };
            if !visible {
                continue;
            }
            let mut value = served(&record);
            roles_of_1_1(&mut value);
            if let Value::Object(object) = &mut value {
                if !with_contact {
                    for field in CONTACT_FIELDS {
                        object.remove(field);
                    }
                }
                match record.role() {
                    // A guardian's record names only the children the token covers.
                    Some(Role::Guardian) => {
                        let agents: Vec<Value> = children
                            .iter()
                            .map(|child| json!({"sourcedId": child, "type": "user"}))
                            .collect();
                        object.insert("agents".into(), Value::Array(agents));
                    }
                    // Who a pupil's guardians are is contact data.
                    Some(Role::Student) if !with_contact => {
                        object.remove("agents");
                    }
                    _ => {}
                }
            }
            readable.push(Served { value, children });
        }
        Ok(readable)
    }

    /// Records about one child each (enrollments, demographics, results, school-affairs
    /// records) that the token covers for `category`. A record placed in a class is judged
    /// there; one that is not (demographics, most school-affairs records) where the child is
    /// placed. Only pupils' records: staff enrollments are structure; records of anyone the
    /// directory does not know as an active pupil or member of staff are never served.
    pub async fn child_records(&self, category: &str, records: Vec<Record>) -> Result<Vec<Served>> {
        let users: Vec<String> = records.iter().filter_map(|r| r.user_id.clone()).collect();
        let mut pupils = HashSet::new();
        let mut staff = HashSet::new();
        for user in self
            .gateway
            .store
            .select(Table::USERS, By::Id, &users)
            .await?
        {
            match user.role() {
                Some(Role::Student) => pupils.insert(user.sourced_id),
                Some(Role::Teacher | Role::Administrator) => staff.insert(user.sourced_id),
                _ => false,
            };
        }
        let places = self.places(&users).await?;
        let mut readable = Vec::new();
        for record in records {
            let Some(user) = record.user_id.as_deref() else {
                continue;
            };
            let visible = if pupils.contains(user) {
                let schools: Vec<String> = record.school_id.iter().cloned().collect();
                let classes: Vec<String> = record.class_id.iter().cloned().collect();
                let child = if classes.is_empty() {
                    places.child(user)
                } else {
                    Child {
                        id: user,
                        schools: &schools,
                        classes: &classes,
                    }
                };
                self.capability.may_read_child(category, &child)
            } else if staff.contains(user)
                && record.class_id.is_some()
                && category == ROSTER_CORE
                && record.role() != Some(Role::Student)
            {
                // A teacher's enrollment: structure of the class. Anyone else's (a departed
                // pupil's, an unknown person's) is not served.
                let schools: Vec<String> = record.school_id.iter().cloned().collect();
                let classes: Vec<String> = record.class_id.iter().cloned().collect();
                self.structure(ROSTER_CORE, &schools, &classes)
            } else {
                false
            };
            if visible {
                let children = if pupils.contains(user) {
                    vec![user.to_owned()]
                } else {
                    Vec::new()
                };
                readable.push(Served {
                    value: served(&record),
                    children,
                });
            }
        }
        Ok(readable)
    }
}
