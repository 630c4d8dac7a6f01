//! Renkei's consent service: which learning app may read which category of school-affairs
//! data, for which children, on which legal basis.
//!
//! - [`category`]: the registry of data categories apps may ask for.
//! - [`policy`]: administrators' policies (app × category × schools/grades/classes × basis),
//!   versioned.
//! - [`record`]: append-only consent records of guardians, students and administrators.
//! - [`decision`]: where each child stands with each app (the portal's and the console's view).
//! - [`capability`]: capability tokens: minting (RFC 8693 exchange), root keys, verifier.
//! - [`api`]: the JSON API of the guardians' and pupils' portal.
//! - [`app`]: disabling an app, with everything it could still read.
//! - [`service`]: the service assembled for `renkei serve`.
//! - [`store`]: the storage interface, on the same database as the identity provider.

pub mod api;
pub mod app;
pub mod capability;
pub mod category;
pub mod decision;
pub mod error;
pub mod policy;
pub mod record;
pub mod service;
pub mod store;

pub use error::{Error, Result};
