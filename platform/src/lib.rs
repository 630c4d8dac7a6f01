//! Renkei's foundation, shared by every crate above it: the database handle and its
//! migrations ([`database`]), the tamper-evident audit chain ([`audit`]), the clock
//! ([`clock`]), the cryptographic building blocks ([`crypto`]), the helpers that let one body
//! of SQL serve SQLite and PostgreSQL ([`sql`]), per-address limits for anonymous clients
//! ([`rate`]), and the web kit every server and page shares ([`web`]: security headers, CSRF,
//! cookies, client addresses, the hardening middleware).
//!
//! Nothing here knows about people, apps or consent: the roster directory, the provider, the
//! consent service and the gateway build on it, never the other way round.

pub mod audit;
pub mod clock;
pub mod crypto;
pub mod database;
pub mod rate;
pub mod sql;
pub mod web;

pub use audit::{AuditEvent, AuditLog};
pub use database::{Database, StoreError, StoreResult};
