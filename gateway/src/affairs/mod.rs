//! School-affairs extension endpoints (`/ims/renkei/affairs/v1p0/…`): the 校務系 records that
//! OneRoster has no place for — attendance, timetables, daily observations, health-room visits,
//! guidance, family situation, special-needs support, health — served in OneRoster's style
//! (collections, paging, `filter`, `sort`, `fields`, GUIDRefs with `href`) and readable only
//! with their own category. They are filled by `renkei import affairs` ([`import`]).

pub mod import;

use crate::error::{Error, Result};
use crate::read::{Answer, Read, single};
use crate::rostering::{class_in_scope, visible_school};
use crate::store::{By, Record, Table};

/// Where the extension endpoints are mounted.
pub const AFFAIRS: &str = "/ims/renkei/affairs/v1p0";

/// One kind of school-affairs record.
#[derive(Debug, PartialEq, Eq)]
pub struct Collection {
    /// Path segment and JSON key of the collection (`attendance`).
    pub path: &'static str,
    /// JSON key of one record (`attendanceRecord`).
    pub one: &'static str,
    /// The data category that lets an app read it.
    pub category: &'static str,
    /// Records about a class (timetables) rather than about one pupil.
    pub per_class: bool,
}

/// The school-affairs collections.
pub const COLLECTIONS: [Collection; 8] = [
    Collection {
        path: "attendance",
        one: "attendanceRecord",
        category: "urn:renkei:scope:attendance.readonly",
        per_class: false,
    },
    Collection {
        path: "timetables",
        one: "timetableEntry",
        category: "urn:renkei:scope:timetable.readonly",
        per_class: true,
    },
    Collection {
        path: "dailyObservations",
        one: "dailyObservation",
        category: "urn:renkei:scope:daily-observations.readonly",
        per_class: false,
    },
    Collection {
        path: "healthRoomVisits",
        one: "healthRoomVisit",
        category: "urn:renkei:scope:health-room-visits.readonly",
        per_class: false,
    },
    Collection {
        path: "guidanceRecords",
        one: "guidanceRecord",
        category: "urn:renkei:scope:guidance.readonly",
        per_class: false,
    },
    Collection {
        path: "familySituations",
        one: "familySituation",
        category: "urn:renkei:scope:family-situation.readonly",
        per_class: false,
    },
    Collection {
        path: "specialNeedsRecords",
        one: "specialNeedsRecord",
        category: "urn:renkei:scope:special-needs.readonly",
        per_class: false,
    },
    Collection {
        path: "healthRecords",
        one: "healthRecord",
        category: "urn:renkei:scope:health.readonly",
        per_class: false,
    },
];

/// The collection named by its path segment or its category.
pub fn collection(name: &str) -> Option<&'static Collection> {
    COLLECTIONS
        .iter()
        .find(|c| c.path == name || c.category == name)
}

/// Where a collection's records are taken from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum From {
    /// `GET /{collection}`: everything in the token's reach.
    All,
    /// `GET /classes/{id}/{collection}`.
    OfClass,
    /// `GET /schools/{id}/{collection}`.
    OfSchool,
    /// `GET /students/{id}/{collection}`.
    OfStudent,
}

impl Collection {
    fn table(&'static self) -> Table {
        Table::Affairs(self.category)
    }

    async fn visible(
        &'static self,
        read: &Read,
        records: Vec<Record>,
    ) -> Result<Vec<crate::paging::Served>> {
        let view = read.view();
        if self.per_class {
            Ok(view.class_records(self.category, records))
        } else {
            view.child_records(self.category, records).await
        }
    }

    /// The collection's records the app may see.
    pub async fn list(&'static self, read: &Read, from: From) -> Result<Answer> {
        let store = &read.gateway.store;
        let id = vec![read.id(0).to_owned()];
        let records = match from {
            From::All => read.view().in_reach(self.table()).await?,
            From::OfClass => {
                class_in_scope(read, read.id(0)).await?;
                let mut records = store.select(self.table(), By::Class, &id).await?;
                if !self.per_class {
                    // Records of the class's pupils that name no class.
                    let pupils: Vec<String> = store
                        .select(Table::USERS, By::Class, &id)
                        .await?
                        .into_iter()
                        .map(|u| u.sourced_id)
                        .collect();
                    let mut unplaced = store.select(self.table(), By::User, &pupils).await?;
                    unplaced.retain(|r| r.class_id.is_none());
                    records.extend(unplaced);
                }
                records
            }
            From::OfSchool => {
                visible_school(read).await?;
                store.select(self.table(), By::School, &id).await?
            }
            From::OfStudent => {
                if self.per_class {
                    return Err(Error::NotFound(format!(
                        "{} are kept per class, not per student",
                        self.path
                    )));
                }
                store.select(self.table(), By::User, &id).await?
            }
        };
        Ok(Answer::List(self.path, self.visible(read, records).await?))
    }

    /// One record of the collection.
    pub async fn one(&'static self, read: &Read) -> Result<Answer> {
        let records = read
            .gateway
            .store
            .select(self.table(), By::Id, &[read.id(0).to_owned()])
            .await?;
        Ok(single(self.one, self.visible(read, records).await?))
    }
}
