//! The verifier library: how any 校務系 service (the gateway first) checks a capability token
//! offline and asks "may I return category C of child S?".
//!
//! ```no_run
//! # async fn read(verifier: &renkei_capability::Verifier, bearer: &str) {
//! use renkei_capability::Child;
//! let capability = verifier.verify(bearer).await.expect("valid token");
//! let child = Child { id: "s-001", schools: &["sch-1".into()], classes: &["cls-1a".into()] };
//! if capability.may_read_child("urn:renkei:scope:attendance.readonly", &child) {
//!     // return the child's attendance
//! }
//! # }
//! ```
//!
//! Verification: the signature against the published root key named by `root_key_id`, the
//! revocation list, the expiry, and the appended blocks (only the documented narrowing checks
//! pass, see [`crate::attenuation`]). Each read is then answered from what the authority block
//! states and what the appended checks require: the answers of the Datalog rules of
//! `policies/capability.datalog` (which [`Capability::may_read_child_by_rules`] runs, for
//! conformance tests) without running an app's Datalog at all.
//!
//! Nothing here evaluates Datalog on an async worker: reading a new token (signature, appended
//! checks, the authority block's facts) runs on tokio's blocking pool, at most
//! [`Verifier::READS_PER_CORE`] per core at once, so a burst of crafted tokens only waits for
//! its turn and delays no other request. The verifier needs a tokio runtime.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use rustc_hash::FxHashMap;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use biscuit_auth::builder::{date, fact, string};
use biscuit_auth::{AuthorizerBuilder, AuthorizerLimits, Biscuit, PublicKey};
use tokio::sync::Semaphore;

use crate::attenuation::Narrowing;
use crate::error::{Error, Result};
use crate::{POLICIES, child_ref, hex};

/// Where the verifier finds root public keys.
pub trait KeySource: Send + Sync + 'static {
    /// The key with this root key id.
    fn public_key(&self, id: u32) -> Option<PublicKey>;
}

/// Keys read from the published JWK set (`capability_keys_uri`), for services that do not
/// share Renkei's database; replace them when the set changes.
#[derive(Default)]
pub struct PublishedKeys(RwLock<Vec<(u32, PublicKey)>>);

impl PublishedKeys {
    /// Replaces the keys with those of a JWK set document.
    pub fn update(&self, jwks: &serde_json::Value) -> Result<()> {
        use base64::Engine;
        let keys = jwks["keys"]
            .as_array()
            .ok_or_else(|| Error::Invalid("the JWK set has no \"keys\" array".into()))?;
        let mut parsed = Vec::with_capacity(keys.len());
        for key in keys {
            let (Some("OKP"), Some("Ed25519")) = (key["kty"].as_str(), key["crv"].as_str()) else {
                continue;
            };
            let id = key["kid"].as_str().and_then(|kid| kid.parse::<u32>().ok());
            let x = key["x"].as_str().and_then(|x| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(x)
                    .ok()
            });
            let (Some(id), Some(x)) = (id, x) else {
                return Err(Error::Invalid(
                    "a capability key lacks a decimal kid or x".into(),
                ));
            };
            let key = PublicKey::from_bytes(&x, biscuit_auth::Algorithm::Ed25519)
                .map_err(|e| Error::Invalid(format!("capability key {id} is not Ed25519: {e}")))?;
            parsed.push((id, key));
        }
        *self.0.write().expect("key lock poisoned") = parsed;
        Ok(())
    }
}

impl KeySource for PublishedKeys {
    fn public_key(&self, id: u32) -> Option<PublicKey> {
        self.0
            .read()
            .expect("key lock poisoned")
            .iter()
            .find(|(kid, _)| *kid == id)
            .map(|(_, key)| *key)
    }
}

/// Whether a token (by its authority block's revocation id, hex) may no longer be used.
#[async_trait]
pub trait Revocations: Send + Sync + 'static {
    /// True if revoked (or, for a list that knows every issued token, unknown).
    async fn is_revoked(&self, revocation_id: &str) -> Result<bool>;
}

/// A published revocation list (`GET /capability/revoked`), for services that poll it.
#[derive(Default)]
pub struct RevokedList(RwLock<HashSet<String>>);

impl RevokedList {
    /// Replaces the list.
    pub fn replace(&self, revoked: impl IntoIterator<Item = String>) {
        *self.0.write().expect("revocation lock poisoned") = revoked.into_iter().collect();
    }
}

#[async_trait]
impl Revocations for RevokedList {
    async fn is_revoked(&self, revocation_id: &str) -> Result<bool> {
        Ok(self
            .0
            .read()
            .expect("revocation lock poisoned")
            .contains(revocation_id))
    }
}

/// Verifies capability tokens; build once, share.
pub struct Verifier {
    keys: Arc<dyn KeySource>,
    revocations: Arc<dyn Revocations>,
    /// Turns to read a new token on the blocking pool.
    turns: Arc<Semaphore>,
    /// What recently verified tokens state: an app reads many collections with one token, and
    /// parsing it and reading its facts cost a quarter of a gateway read. Revocation, expiry
    /// and the signing key are still checked on every use.
    verified: Mutex<FxHashMap<Box<str>, Arc<Stated>>>,
}

/// Tokens whose statements are kept at most.
const VERIFIED_KEPT: usize = 1024;

/// Only tokens as Renkei mints them are kept (no appended blocks; a school of 1,000 pupils
/// fits in 8 KB), and none longer than this, so the cache stays within a few tens of MB
/// whatever apps present: an app can attenuate its token offline into any number of new,
/// longer ones.
const KEPT_TOKEN_MAX: usize = 16 * 1024;

impl Verifier {
    /// New tokens read at once per core (parsing, signature, the authority block's facts);
    /// more wait their turn.
    pub const READS_PER_CORE: usize = 2;

    /// A verifier that finds root keys in `keys` and refuses what `revocations` lists.
    pub fn new(keys: Arc<dyn KeySource>, revocations: Arc<dyn Revocations>) -> Result<Self> {
        rules()?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Verifier {
            keys,
            revocations,
            turns: Arc::new(Semaphore::new(cores * Self::READS_PER_CORE)),
            verified: Mutex::default(),
        })
    }

    /// Checks signature, revocation and expiry and reads what the token states.
    pub async fn verify(&self, token: &str) -> Result<Capability> {
        self.verify_at(token, crate::now()).await
    }

    /// [`Verifier::verify`] at a given time (Unix seconds).
    pub async fn verify_at(&self, token: &str, now: i64) -> Result<Capability> {
        let token = token.trim();
        match self.kept(token)? {
            Some(stated) => self.usable(stated, now).await,
            None => {
                let stated = self.read_new(token).await?;
                let capability = self.usable(stated.clone(), now).await?;
                if !stated.is_attenuated() && token.len() <= KEPT_TOKEN_MAX {
                    self.keep(token, stated, now);
                }
                Ok(capability)
            }
        }
    }

    /// [`Verifier::verify`] for a token kept from an earlier use only, without reading a new
    /// one (`None`): what a service answers with when it reads no new tokens for a client (an
    /// address over its limit), so that apps whose tokens it knows are still served.
    pub async fn verify_kept(&self, token: &str) -> Option<Result<Capability>> {
        match self.kept(token.trim()) {
            Ok(Some(stated)) => Some(self.usable(stated, crate::now()).await),
            Ok(None) => None,
            Err(error) => Some(Err(error)),
        }
    }

    /// What a kept token states, if its root key is still published.
    fn kept(&self, token: &str) -> Result<Option<Arc<Stated>>> {
        let known = self
            .verified
            .lock()
            .expect("verified-token lock poisoned")
            .get(token)
            .cloned();
        match known {
            Some(stated) if self.keys.public_key(stated.root_key_id) != Some(stated.root_key) => {
                Err(Error::InvalidToken(
                    "not a valid capability token: its signing key is no longer published".into(),
                ))
            }
            known => Ok(known),
        }
    }

    /// The capability, once the token is known not revoked nor expired.
    async fn usable(&self, stated: Arc<Stated>, now: i64) -> Result<Capability> {
        self.refuse_revoked(&stated.token_id).await?;
        if stated.expires_at < now {
            return Err(Error::InvalidToken("the token has expired".into()));
        }
        Ok(Capability { stated, now })
    }

    /// Parses a token not seen recently, checks its signature and appended blocks and reads
    /// its authority block: on the blocking pool, a bounded number at once.
    async fn read_new(&self, token: &str) -> Result<Arc<Stated>> {
        let turn = self
            .turns
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Invalid("the verifier is shutting down".into()))?;
        let keys = self.keys.clone();
        let token = token.to_owned();
        // The turn is held by the blocking work itself: a request that gives up waiting (a
        // timeout, a closed connection) does not free it while the work still runs.
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            read(parse(keys.as_ref(), &token)?).map(Arc::new)
        })
        .await
        .map_err(|e| Error::Invalid(format!("reading the token failed: {e}")))?
    }

    async fn refuse_revoked(&self, token_id: &str) -> Result<()> {
        if self.revocations.is_revoked(token_id).await? {
            return Err(Error::InvalidToken("the token has been revoked".into()));
        }
        Ok(())
    }

    /// Keeps what a verified token states for its next use; when full, forgets expired
    /// tokens, and if it is still full, all.
    fn keep(&self, token: &str, stated: Arc<Stated>, now: i64) {
        let mut verified = self.verified.lock().expect("verified-token lock poisoned");
        if verified.len() >= VERIFIED_KEPT {
            verified.retain(|_, kept| kept.expires_at >= now);
            if verified.len() >= VERIFIED_KEPT {
                verified.clear();
            }
        }
        verified.insert(token.into(), stated);
    }
}

/// A token whose signature is checked.
struct Signed {
    biscuit: Biscuit,
    token_id: String,
    root_key_id: u32,
    root_key: PublicKey,
    narrowing: Narrowing,
}

/// Longest token read, in characters of base64: a Renkei token for a school of a thousand is
/// 8 KB; anything longer than this is refused before it is decoded.
pub const TOKEN_MAX: usize = 64 * 1024;

/// Parses a token and checks its size, its number of blocks, its signature and its appended
/// blocks, in that order (the cheap checks first).
fn parse(keys: &dyn KeySource, token: &str) -> Result<Signed> {
    use base64::Engine;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    if token.len() > TOKEN_MAX {
        return Err(Error::InvalidToken(format!(
            "not a valid capability token: it is {} bytes long; at most {TOKEN_MAX} are accepted",
            token.len()
        )));
    }
    let lenient = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let bytes = lenient
        .decode(token)
        .map_err(|e| Error::InvalidToken(format!("not a valid capability token: {e}")))?;
    let wire = crate::attenuation::decode(&bytes)?;
    let root = std::cell::Cell::new(None);
    let biscuit = Biscuit::from(&bytes, |id: Option<u32>| {
        let id = id.ok_or(biscuit_auth::error::Format::UnknownPublicKey)?;
        let key = keys
            .public_key(id)
            .ok_or(biscuit_auth::error::Format::UnknownPublicKey)?;
        root.set(Some((id, key)));
        Ok(key)
    })
    .map_err(|e| Error::InvalidToken(format!("not a valid capability token: {e}")))?;
    let (root_key_id, root_key) = root
        .get()
        .ok_or_else(|| Error::InvalidToken("the token names no root key".into()))?;
    let token_id = biscuit
        .revocation_identifiers()
        .first()
        .map(|id| hex(id))
        .ok_or_else(|| Error::InvalidToken("the token has no authority block".into()))?;
    // Before anything evaluates the token's Datalog (reading its facts does too).
    let narrowing = crate::attenuation::check(&biscuit, &wire)?;
    Ok(Signed {
        biscuit,
        token_id,
        root_key_id,
        root_key,
        narrowing,
    })
}

/// Reads what a signed token states.
fn read(signed: Signed) -> Result<Stated> {
    let Signed {
        biscuit,
        token_id,
        root_key_id,
        root_key,
        narrowing,
    } = signed;
    let mut reader = AuthorizerBuilder::new()
        .set_limits(limits())
        .build(&biscuit)
        .map_err(|e| Error::InvalidToken(format!("unreadable capability token: {e}")))?;
    let apps: Vec<(String,)> = query(&mut reader, "data($app) <- app($app)")?;
    let categories: Vec<(String,)> = query(&mut reader, "data($category) <- category($category)")?;
    let schools: Vec<(String,)> = query(&mut reader, "data($school) <- scope_school($school)")?;
    let classes: Vec<(String,)> = query(&mut reader, "data($class) <- scope_class($class)")?;
    let expiries: Vec<(SystemTime,)> = query(&mut reader, "data($expiry) <- expires($expiry)")?;
    let client_id = match apps.as_slice() {
        [(app,)] => app.clone(),
        _ => return Err(Error::InvalidToken("the token names no single app".into())),
    };
    let expires_at = match expiries.as_slice() {
        [(expiry,)] => expiry
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
        _ => return Err(Error::InvalidToken("the token states no expiry".into())),
    };
    let coverage = Coverage::read(&mut reader)?;
    Ok(Stated {
        root_key_id,
        root_key,
        coverage,
        expires_at: narrowing
            .not_after
            .map_or(expires_at, |not_after| not_after.min(expires_at)),
        narrowing,
        biscuit,
        token_id,
        client_id,
        categories: categories.into_iter().map(|(c,)| c).collect(),
        schools: schools.into_iter().map(|(s,)| s).collect(),
        classes: classes.into_iter().map(|(c,)| c).collect(),
    })
}

/// Datalog limits for every run. Generous on time: a run that hits a limit answers "no"; the
/// authority block Renkei signs holds at most a few thousand facts and no rule.
fn limits() -> AuthorizerLimits {
    AuthorizerLimits {
        max_facts: 10_000,
        max_iterations: 100,
        max_time: Duration::from_secs(1),
    }
}

/// The rules of `policies/capability.datalog`, compiled.
fn rules() -> Result<AuthorizerBuilder> {
    Ok(AuthorizerBuilder::new()
        .code(POLICIES)
        .map_err(|e| Error::Invalid(format!("policies/capability.datalog: {e}")))?
        .set_limits(limits()))
}

fn unreadable(error: biscuit_auth::error::Token) -> Error {
    Error::InvalidToken(format!("unreadable capability token: {error}"))
}

/// Reads facts of a token with one Datalog query, within [`limits`].
fn query<T, E>(reader: &mut biscuit_auth::Authorizer, rule: &str) -> Result<Vec<T>>
where
    T: TryFrom<biscuit_auth::builder::Fact, Error = E>,
    E: Into<biscuit_auth::error::Token>,
{
    reader.query_with_limits(rule, limits()).map_err(unreadable)
}

/// What the authority block of a token covers, so that each question is answered by the
/// rules of `policies/capability.datalog` evaluated directly, with the same answers as a
/// Datalog run (the block holds only the facts Renkei mints) at a fraction of the cost.
struct Coverage {
    /// Category → the groups that cover it.
    groups_of: HashMap<String, Vec<i64>>,
    /// Group → its strings of concatenated short references (`covers`).
    refs: HashMap<i64, Vec<String>>,
    /// Group → children named in full (`covers_child`).
    children: HashMap<i64, HashSet<String>>,
}

impl Coverage {
    fn read(reader: &mut biscuit_auth::Authorizer) -> Result<Self> {
        let covers_category: Vec<(i64, String)> =
            query(reader, "data($g, $c) <- covers_category($g, $c)")?;
        let covers: Vec<(i64, String)> = query(reader, "data($g, $r) <- covers($g, $r)")?;
        let covers_child: Vec<(i64, String)> =
            query(reader, "data($g, $c) <- covers_child($g, $c)")?;
        let mut coverage = Coverage {
            groups_of: HashMap::new(),
            refs: HashMap::new(),
            children: HashMap::new(),
        };
        for (group, category) in covers_category {
            coverage.groups_of.entry(category).or_default().push(group);
        }
        for (group, refs) in covers {
            coverage.refs.entry(group).or_default().push(refs);
        }
        for (group, child) in covers_child {
            coverage.children.entry(group).or_default().insert(child);
        }
        Ok(coverage)
    }

    /// `covered($category)` for this child.
    fn covers(&self, category: &str, child: &str) -> bool {
        let Some(groups) = self.groups_of.get(category) else {
            return false;
        };
        let mut short = None;
        groups.iter().any(|group| {
            self.children
                .get(group)
                .is_some_and(|children| children.contains(child))
                || self.refs.get(group).is_some_and(|all| {
                    let short = short.get_or_insert_with(|| child_ref(child));
                    all.iter().any(|refs| refs.contains(short.as_str()))
                })
        })
    }
}

/// A child asked about, with where the verifier's own data places it.
pub struct Child<'a> {
    /// sourcedId.
    pub id: &'a str,
    /// Its schools.
    pub schools: &'a [String],
    /// Its classes.
    pub classes: &'a [String],
}

/// A verified capability: what it states, and the per-read decision.
pub struct Capability {
    stated: Arc<Stated>,
    now: i64,
}

impl std::ops::Deref for Capability {
    type Target = Stated;

    fn deref(&self) -> &Stated {
        &self.stated
    }
}

/// What a token states, read once from its authority block and appended checks (shared by
/// every use of the token while it is kept).
pub struct Stated {
    root_key_id: u32,
    root_key: PublicKey,
    coverage: Coverage,
    biscuit: Biscuit,
    /// What the checks an app appended require of each read.
    pub narrowing: Narrowing,
    /// Hex of the authority block's revocation id (the token's identity in audit logs).
    pub token_id: String,
    /// The app it was issued to.
    pub client_id: String,
    /// The categories it carries (attenuation may narrow them further per read).
    pub categories: Vec<String>,
    /// The schools it was minted for (`scope_school`).
    pub schools: Vec<String>,
    /// The classes it was minted for (`scope_class`).
    pub classes: Vec<String>,
    /// Expiry (Unix seconds): the token's own, or an earlier one an app appended.
    pub expires_at: i64,
}

impl Stated {
    /// Whether an app appended blocks (checks) to the token.
    pub fn is_attenuated(&self) -> bool {
        self.biscuit.block_count() > 1
    }
}

impl Capability {
    /// Whether the token carries the category at all (otherwise: `insufficient_scope`).
    pub fn has_category(&self, category: &str) -> bool {
        self.categories.iter().any(|c| c == category)
    }

    /// May the holder read `category` of this child?
    pub fn may_read_child(&self, category: &str, child: &Child<'_>) -> bool {
        self.has_category(category)
            && self.narrowing.allows(category, Some(child.id))
            && self.in_scope(child.schools, child.classes)
            && self.coverage.covers(category, child.id)
    }

    /// May the holder read the structure (a school, a class, its course and term) that lies
    /// in these schools and classes, under `category`?
    pub fn may_read_structure(
        &self,
        category: &str,
        schools: &[String],
        classes: &[String],
    ) -> bool {
        self.has_category(category)
            && self.narrowing.allows(category, None)
            && self.in_scope(schools, classes)
    }

    /// `in_scope(true)`: a school or class asked about is one the token was minted for.
    fn in_scope(&self, schools: &[String], classes: &[String]) -> bool {
        schools.iter().any(|s| self.schools.contains(s))
            || classes.iter().any(|c| self.classes.contains(c))
    }

    /// [`Capability::may_read_child`] answered by running the Datalog rules of
    /// `policies/capability.datalog` over the whole token, as other Biscuit implementations
    /// do: for conformance tests of this library and of token minters. It blocks for the
    /// length of a Datalog run; never call it on an async worker of a serving process.
    pub fn may_read_child_by_rules(&self, category: &str, child: &Child<'_>) -> bool {
        let mut facts = vec![
            fact("request_category", &[string(category)]),
            fact("request_child", &[string(child.id)]),
            fact("request_child_ref", &[string(&child_ref(child.id))]),
        ];
        facts.extend(
            child
                .schools
                .iter()
                .map(|s| fact("request_school", &[string(s)])),
        );
        facts.extend(
            child
                .classes
                .iter()
                .map(|c| fact("request_class", &[string(c)])),
        );
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(self.now.max(0) as u64);
        let Ok(mut builder) = rules() else {
            return false;
        };
        for fact in facts.into_iter().chain([fact("time", &[date(&at)])]) {
            match builder.fact(fact) {
                Ok(next) => builder = next,
                Err(_) => return false,
            }
        }
        builder
            .build(&self.biscuit)
            .and_then(|mut authorizer| authorizer.authorize())
            .is_ok()
    }
}

/// Extracts and verifies `Authorization: Bearer <capability>` for any axum service whose state
/// provides an `Arc<Verifier>`; refusals are 401 `invalid_token` (RFC 6750).
#[cfg(feature = "axum")]
impl<S> axum::extract::FromRequestParts<S> for Capability
where
    Arc<Verifier>: axum::extract::FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let verifier = <Arc<Verifier> as axum::extract::FromRef<S>>::from_ref(state);
        verifier.verify(bearer(&parts.headers)?).await
    }
}

/// The token of `Authorization: Bearer <capability>`, or why there is none.
#[cfg(feature = "axum")]
pub fn bearer(headers: &axum::http::HeaderMap) -> Result<&str> {
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(Error::BearerMissing)?;
    header
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
        .ok_or_else(|| Error::InvalidToken("use Authorization: Bearer <capability token>".into()))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread::ThreadId;

    use biscuit_auth::KeyPair;

    use super::*;

    /// A key source that notes on which threads, and how many at once, tokens are read.
    struct Watching {
        key: PublicKey,
        threads: Mutex<Vec<ThreadId>>,
        now: AtomicUsize,
        most: AtomicUsize,
    }

    impl KeySource for Watching {
        fn public_key(&self, _id: u32) -> Option<PublicKey> {
            self.threads
                .lock()
                .unwrap()
                .push(std::thread::current().id());
            let at_once = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(at_once, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(20));
            self.now.fetch_sub(1, Ordering::SeqCst);
            Some(self.key)
        }
    }

    fn token(root: &KeyPair, subject: usize) -> String {
        let expiry = SystemTime::now() + Duration::from_secs(300);
        Biscuit::builder()
            .fact(fact("app", &[string("app-1")]))
            .and_then(|b| b.fact(fact("subject", &[string(&format!("u{subject}"))])))
            .and_then(|b| b.fact(fact("expires", &[date(&expiry)])))
            .unwrap()
            .root_key_id(1)
            .build(root)
            .unwrap()
            .to_base64()
            .unwrap()
    }

    /// Size and block count are checked before any signature: a token too long, or with too
    /// many blocks, is refused even when its key is unknown.
    #[test]
    fn long_or_many_blocked_tokens_are_refused_before_their_signatures() {
        struct NoKeys;
        impl KeySource for NoKeys {
            fn public_key(&self, _id: u32) -> Option<PublicKey> {
                None
            }
        }
        let too_long = "A".repeat(TOKEN_MAX + 1);
        let error = parse(&NoKeys, &too_long).err().unwrap().to_string();
        assert!(error.contains("at most 65536 are accepted"), "{error}");
        let mut token = Biscuit::builder()
            .fact(fact("app", &[string("app-1")]))
            .unwrap()
            .build(&KeyPair::new())
            .unwrap();
        for _ in 0..9 {
            token = token
                .append(biscuit_auth::builder::BlockBuilder::new())
                .unwrap();
        }
        let error = parse(&NoKeys, &token.to_base64().unwrap())
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("it carries 9 appended blocks"), "{error}");
    }

    /// New tokens are read off the async thread (here the runtime's only one), a bounded
    /// number at once, however many arrive together.
    #[tokio::test(flavor = "current_thread")]
    async fn tokens_are_read_off_the_async_thread_a_few_at_once() {
        let root = KeyPair::new();
        let keys = Arc::new(Watching {
            key: root.public(),
            threads: Mutex::default(),
            now: AtomicUsize::new(0),
            most: AtomicUsize::new(0),
        });
        let verifier =
            Arc::new(Verifier::new(keys.clone(), Arc::new(RevokedList::default())).unwrap());
        let limit =
            std::thread::available_parallelism().map_or(1, |n| n.get()) * Verifier::READS_PER_CORE;
        let mut reads = tokio::task::JoinSet::new();
        for n in 0..limit * 3 {
            let (verifier, token) = (verifier.clone(), token(&root, n));
            reads.spawn(async move { verifier.verify(&token).await.map(|c| c.client_id.clone()) });
        }
        while let Some(read) = reads.join_next().await {
            assert_eq!(read.unwrap().unwrap(), "app-1");
        }
        let threads = keys.threads.lock().unwrap();
        assert_eq!(threads.len(), limit * 3);
        assert!(
            !threads.contains(&std::thread::current().id()),
            "a token was read on the async thread"
        );
        let most = keys.most.load(Ordering::SeqCst);
        assert!(
            (2..=limit).contains(&most),
            "{most} tokens were read at once (limit {limit})"
        );
    }
}
