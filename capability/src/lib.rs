//! Renkei's capability tokens, as a data service sees them: the fact vocabulary and the
//! verifier library that any 校務系 service links to check a token offline and ask "may I
//! return category C of child S?".
//!
//! This crate is deliberately small: biscuit-auth and the vocabulary, no database driver, no
//! OpenSSL, no identity provider. Renkei's consent service mints the tokens; its gateway and
//! third-party data services verify them with [`verify::Verifier`].
//!
//! - [`verify`]: the verifier, where it finds root keys ([`verify::KeySource`]) and revocations
//!   ([`verify::Revocations`]), and an axum extractor (feature `axum`, on by default).
//! - [`attenuation`]: what an app may append (narrowing checks only), refused otherwise
//!   before any evaluation.
//! - [`error`]: the one error type, with its RFC 6750 response under the `axum` feature.
//!
//! The fact vocabulary is documented in `policies/README.md`.

pub mod attenuation;
pub mod error;
pub mod verify;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

pub use error::{Error, Result};
pub use verify::{Capability, Child, Verifier};

/// `requested_token_type` / `issued_token_type` of capability tokens.
pub const TOKEN_TYPE: &str = "urn:renkei:params:oauth:token-type:biscuit";

/// The verifier's Datalog rules, from `policies/capability.datalog`.
pub const POLICIES: &str = include_str!("../../policies/capability.datalog");

/// Lifetime of a capability token, in seconds.
pub const TTL: i64 = 300;

/// Characters of a child's short reference in a `covers` list.
pub const REF_WIDTH: usize = 5;

/// Lists of at most this many children name them by full sourcedId instead of short
/// references (no collision is possible, and the list is small anyway).
pub const FULL_ID_LIMIT: usize = 16;

/// A child's short reference: the first [`REF_WIDTH`] characters of the unpadded base64url
/// SHA-256 of its sourcedId (30 bits). Verifiers compute it to ask about a child.
pub fn child_ref(sourced_id: &str) -> String {
    let digest = Sha256::digest(sourced_id.as_bytes());
    let mut encoded = URL_SAFE_NO_PAD.encode(&digest[..4]);
    encoded.truncate(REF_WIDTH);
    encoded
}

/// Milliseconds since the epoch: minting and revocation are ordered at this precision (a token
/// whose exchange started before a revocation mark is refused).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Seconds since the epoch: what token expiry is compared with. (Renkei's own crates read
/// `renkei_platform::clock`; this crate keeps its own so that it stands alone.)
pub fn now() -> i64 {
    now_ms() / 1000
}

/// Lower-case hex, the form of revocation identifiers in the database and the revocation list.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// The school or class a token is minted for (its `resource`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// `urn:renkei:school:<sourcedId>`.
    School(String),
    /// `urn:renkei:class:<sourcedId>`.
    Class(String),
}

impl Target {
    /// Parses a `resource` URN.
    pub fn parse(resource: &str) -> Option<Self> {
        if let Some(id) = resource.strip_prefix("urn:renkei:school:") {
            (!id.is_empty()).then(|| Target::School(id.to_owned()))
        } else if let Some(id) = resource.strip_prefix("urn:renkei:class:") {
            (!id.is_empty()).then(|| Target::Class(id.to_owned()))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_refs_are_short_and_stable() {
        assert_eq!(child_ref("s-001"), child_ref("s-001"));
        assert_eq!(child_ref("s-001").len(), REF_WIDTH);
        assert_ne!(child_ref("s-001"), child_ref("s-002"));
    }

    #[test]
    fn targets_parse_from_urns() {
        assert_eq!(
            Target::parse("urn:renkei:class:c1"),
            Some(Target::Class("c1".into()))
        );
        assert_eq!(
            Target::parse("urn:renkei:school:s1"),
            Some(Target::School("s1".into()))
        );
        assert_eq!(Target::parse("urn:renkei:class:"), None);
        assert_eq!(Target::parse("https://example.org/class/1"), None);
    }
}
