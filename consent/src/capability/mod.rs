//! Capability tokens: short-lived Biscuit tokens that state exactly which categories of
//! which children an app may read, verifiable offline by any data service.
//!
//! - [`keys`]: the Ed25519 root keys (in the database, published as a JWK set).
//! - [`mint`]: policy ∩ consent → the authority block.
//! - [`exchange`]: the RFC 8693 token exchange that mints them at the token endpoint.
//! - [`revocations`]: the revocation state in Renkei's database, as the verifier asks for it.
//! - [`roster`]: revoking what a roster import may have ended.
//!
//! The vocabulary and the verifier live in `renkei-capability`, the library data services
//! link; the fact vocabulary is documented in `policies/README.md`.

pub mod exchange;
pub mod keys;
pub mod mint;
pub mod revocations;
pub mod roster;

pub use renkei_capability::{
    FULL_ID_LIMIT, REF_WIDTH, TOKEN_TYPE, TTL, Target, child_ref, hex, now_ms,
};
