//! Renkei's roster directory: who is who at the board — people, organisations, classes,
//! enrollments and guardianship — as the board's OneRoster files say, and the rules every part
//! of Renkei reads them by.
//!
//! - [`administration`]: which part of the board an administrator administers.
//! - [`import`]: the OneRoster 1.1 / 1.2 import (folders or zips, UTF-8 or Shift_JIS, the
//!   Japan profile), all or nothing, with its CSV, encoding and report kit, which the
//!   school-affairs import reuses.
//! - [`people`]: people as the console lists and searches them.
//! - [`role`]: the typed account role every part compares.
//! - [`roles`]: the one reading of a OneRoster 1.1 user record's role and organisations as
//!   1.2 roles.
//! - [`served`]: the roster as the OneRoster REST binding serves it (the gateway's reads).
//! - [`store`]: the [`Directory`] interface the provider, the consent service and the gateway
//!   read the roster through, on SQLite and PostgreSQL.
//!
//! It depends only on the platform: the provider, the consent service and the gateway build on
//! it, never the other way round.

pub mod administration;
pub mod error;
pub mod import;
pub mod people;
pub mod role;
pub mod roles;
pub mod served;
pub mod store;

pub use administration::{Administers, administered};
pub use error::{Error, Result};
pub use import::{
    EncodingChoice, Encodings, ImportOptions, ImportReport, Purged, import, purge_departed,
};
pub use people::{PeopleQuery, Person};
pub use role::Role;
pub use store::roster::fold_username;
pub use store::{
    ClassRef, Directory, Erased, OrgRow, Placement, Pupil, RoleRow, RosterField, open,
};
