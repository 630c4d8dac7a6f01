//! Storage: one interface ([`Store`]) with a SQLite and a PostgreSQL implementation.
//!
//! Domain code only ever sees `Arc<dyn Store>`; the two implementations are generated from
//! one body of portable SQL (see `sql.rs`), and each database has its own migrations folder
//! (`migrations/sqlite`, `migrations/postgres`). Times are Unix seconds; secrets are stored
//! only as SHA-256 digests.

mod postgres;
mod sql;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

pub use renkei_platform::Database;
use renkei_platform::database::conflict_as;
pub use renkei_platform::database::{StoreError, StoreResult};

/// A signing key as stored: the private key in PEM, its algorithm and lifetime.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SigningKeyRow {
    /// Key identifier published in JWKS and in token headers.
    pub kid: String,
    /// JOSE algorithm name (`RS256`, `EdDSA`, `ES256`).
    pub alg: String,
    /// PKCS#8 PEM of the private key.
    pub private_pem: String,
    /// When the key was created (and published).
    pub created_at: i64,
    /// From when it signs: the newest key of an algorithm whose time has come signs.
    pub activates_at: i64,
    /// When a newer key took over; it stays published until its tokens have expired.
    pub retired_at: Option<i64>,
}

/// A person who can sign in.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct UserRow {
    /// Opaque stable identifier; also the `sub` claim.
    pub id: String,
    /// Sign-in name.
    pub username: String,
    /// `student`, `teacher`, `guardian` or `administrator`.
    pub role: String,
    /// Given name (名).
    pub given_name: Option<String>,
    /// Family name (姓).
    pub family_name: Option<String>,
    /// Kana reading of the given name.
    pub given_name_kana: Option<String>,
    /// Kana reading of the family name.
    pub family_name_kana: Option<String>,
    /// E-mail address where known.
    pub email: Option<String>,
    /// Argon2id PHC string; `None` until a password is set.
    pub password_hash: Option<String>,
    /// The school the person belongs to.
    pub school_id: Option<String>,
    /// Grade code (P1–P6, J1–J3, H1–H3, …) for students.
    pub grade: Option<String>,
    /// Disabled accounts cannot sign in and their tokens stop working.
    pub enabled: bool,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
    /// OneRoster sourcedId, for people who come from the roster.
    pub sourced_id: Option<String>,
    /// The person's OneRoster record (JSON), for people who come from the roster.
    pub data: Option<String>,
}

/// A registered application (OAuth client).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ClientRow {
    /// Public client identifier.
    pub id: String,
    /// Name shown to users on the consent page.
    pub name: String,
    /// SHA-256 of the client secret; `None` for public and `private_key_jwt` clients.
    pub secret_hash: Option<Vec<u8>>,
    /// JWK set (JSON) for `private_key_jwt` client authentication.
    pub jwks: Option<String>,
    /// Registered redirect URIs, space-separated (URIs cannot contain spaces).
    pub redirect_uris: String,
    /// Registered post-logout redirect URIs, space-separated.
    pub post_logout_redirect_uris: String,
    /// Allowed grant types, space-separated.
    pub grant_types: String,
    /// Scopes the client may request, space-separated.
    pub scopes: String,
    /// Algorithm for this client's ID tokens.
    pub id_token_alg: String,
    /// A resource server: may introspect access tokens issued to other clients.
    pub may_introspect: bool,
    /// Registration time.
    pub created_at: i64,
    /// Who makes the app (shown to administrators).
    pub vendor: Option<String>,
    /// The app's privacy policy (shown to administrators).
    pub policy_uri: Option<String>,
    /// An admin-API app limited to one school (its sourcedId); none: the whole board.
    pub admin_school: Option<String>,
}

/// A single-sign-on session with the user it belongs to.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SessionRow {
    /// Public session identifier (the `sid` claim).
    pub sid: String,
    /// The signed-in user.
    pub user_id: String,
    /// When the user last authenticated.
    pub auth_time: i64,
    /// Authentication methods (RFC 8176), space-separated.
    pub amr: String,
    /// Authentication context class reference.
    pub acr: String,
    /// When the session ends.
    pub expires_at: i64,
}

/// The board's rule for one role's sign-ins ([`crate::assurance`]).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct AssuranceRow {
    /// The role (`teacher`, `administrator`, `guardian`, `student`).
    pub role: String,
    /// `passkey` (a password alone does not count) or `password` (any method).
    pub requirement: String,
    /// Until when (Unix seconds) a password sign-in still counts, asked to enrol a passkey.
    pub grace_until: Option<i64>,
    /// When it was set.
    pub set_at: i64,
    /// Who set it (the command or page, for the audit record).
    pub set_by: String,
}

/// An app a person approved, as their home page lists it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ApprovalRow {
    /// The app.
    pub client_id: String,
    /// Its name.
    pub client_name: String,
    /// The scopes approved, space-separated.
    pub scope: String,
    /// When it was (last) approved.
    pub granted_at: i64,
}

/// A grant: what one user allowed one client, and the family of tokens issued under it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct GrantRow {
    /// Grant identifier (carried in access tokens as `gid`).
    pub id: String,
    /// The client the grant was made to.
    pub client_id: String,
    /// The user who made it.
    pub user_id: String,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// Session the grant was made in.
    pub sid: Option<String>,
    /// Nonce of the authentication request, echoed in the ID token.
    pub nonce: Option<String>,
    /// Authentication time of the session.
    pub auth_time: i64,
    /// Authentication methods, space-separated.
    pub amr: String,
    /// Authentication context class.
    pub acr: String,
    /// Creation time.
    pub created_at: i64,
    /// Absolute end of the grant (and of its refresh tokens).
    pub expires_at: i64,
    /// Set when the grant and all its tokens were revoked.
    pub revoked_at: Option<i64>,
}

/// An authorization code as stored (by digest) on the row of the grant it starts.
#[derive(Clone, Debug)]
pub struct CodeRow {
    /// SHA-256 of the code.
    pub code_hash: Vec<u8>,
    /// Redirect URI the code was sent to; the token request must repeat it.
    pub redirect_uri: String,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// End of the code's life (at most 60 s after issue).
    pub expires_at: i64,
}

/// A code redeemed: its grant with what the token request must match (one row of `grants`).
#[derive(sqlx::FromRow)]
pub(crate) struct RedeemedCode {
    /// The grant the code starts.
    #[sqlx(flatten)]
    pub grant: GrantRow,
    /// Redirect URI the code was sent to.
    pub redirect_uri: String,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// End of the code's life.
    pub code_expires_at: i64,
}

/// A live session together with the scopes its user already approved for the app that asks
/// (`None`: nothing approved yet); read in one query on the authorization path.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SignedIn {
    /// The session.
    #[sqlx(flatten)]
    pub session: SessionRow,
    /// Scopes approved for the client, space-separated.
    pub approved: Option<String>,
}

/// What happened when a client tried to redeem a single-use secret (code or refresh token).
#[derive(Clone, Debug)]
pub enum Redemption<T> {
    /// First use: here is what it stands for.
    Fresh(T),
    /// It was used before: the grant named here must be revoked.
    Replayed {
        /// Grant whose tokens must all be revoked.
        grant_id: String,
    },
    /// No such secret.
    Unknown,
}

/// A refresh token as stored (by digest).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RefreshTokenRow {
    /// SHA-256 of the token.
    pub token_hash: Vec<u8>,
    /// The grant (token family) it belongs to.
    pub grant_id: String,
    /// Scopes it may obtain (a subset of the grant's).
    pub scope: String,
    /// End of its life.
    pub expires_at: i64,
}

/// A pupil's printed sign-in card, as stored (its secret only as a digest).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct CardRow {
    /// SHA-256 (base64url) of the card's secret.
    pub secret_hash: String,
    /// The pupil's account.
    pub user_id: String,
    /// Argon2id hash of the card's PIN, if it has one.
    pub pin_hash: Option<String>,
    /// Who issued it (a teacher, an administrator, the command line).
    pub created_by: String,
    /// When.
    pub created_at: i64,
    /// The end of its school year.
    pub expires_at: i64,
    /// When it was voided (lost, replaced), if it was.
    pub voided_at: Option<i64>,
}

/// A one-time link to register a passkey, as stored (its secret only as a digest).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct EnrolmentLinkRow {
    /// SHA-256 (base64url) of the link's secret.
    pub token_hash: String,
    /// The account the passkey is for.
    pub user_id: String,
    /// Who issued it (the administrator, or the command line).
    pub created_by: String,
    /// When.
    pub created_at: i64,
    /// Until when it works.
    pub expires_at: i64,
    /// When it was used, if it was.
    pub used_at: Option<i64>,
}

/// An upstream OpenID Connect provider people sign in through, as stored.
#[derive(Clone, sqlx::FromRow)]
pub struct UpstreamRow {
    /// Short name, in the sign-in and callback addresses.
    pub name: String,
    /// The upstream's issuer (its discovery document is under it).
    pub issuer: String,
    /// Renkei's client id at the upstream.
    pub client_id: String,
    /// Renkei's client secret at the upstream (never shown).
    pub client_secret: String,
    /// Scopes asked for, space-separated (`openid` always among them).
    pub scopes: String,
    /// E-mail domains (Google's `hd`) accepted, space-separated; empty: any.
    pub allowed_domains: String,
    /// The Microsoft Entra tenant the `tid` claim must name, if set.
    pub tenant: Option<String>,
    /// The schools (sourcedIds) it is for, space-separated; empty: the whole board.
    pub schools: String,
    /// How an upstream account finds its roster account: `email`, `subject` or `claim:NAME`.
    pub link_by: String,
    /// The button's words in Japanese.
    pub label_ja: String,
    /// The button's words in English.
    pub label_en: String,
    /// Its schools sign in only through it (no password form on their sign-in page).
    pub only_way: bool,
    /// The board trusts the upstream's word that it checked more than a password (`amr`
    /// with `mfa`).
    pub trust_mfa: bool,
    /// When it was switched off, if it was.
    pub disabled_at: Option<i64>,
    /// When it was added.
    pub created_at: i64,
    /// Who added it.
    pub created_by: String,
}

/// Its secret stays out of any debug output.
impl std::fmt::Debug for UpstreamRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamRow")
            .field("name", &self.name)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"(hidden)")
            .finish_non_exhaustive()
    }
}

/// Which Renkei account an upstream account (provider and subject) is.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct UpstreamLinkRow {
    /// The provider's name.
    pub provider: String,
    /// The upstream's `sub` for the person.
    pub subject: String,
    /// The Renkei account.
    pub user_id: String,
    /// When it was linked.
    pub linked_at: i64,
    /// How: `email`, `claim`, `subject` (pre-linked), `person` (by the person) or the
    /// administrator's via.
    pub linked_by: String,
}

/// A sign-in through an upstream in progress, as stored until its callback (once).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct UpstreamFlowRow {
    /// SHA-256 (base64url) of the `state` sent to the upstream.
    pub state_hash: String,
    /// The provider's name.
    pub provider: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier for the code.
    pub pkce_verifier: String,
    /// SHA-256 (base64url) of the cookie of the browser that started it.
    pub browser_hash: String,
    /// The pending authorization request it continues (empty: none).
    pub request: String,
    /// For a person linking an upstream account to their own: their account.
    pub link_user: Option<String>,
    /// When it started.
    pub created_at: i64,
    /// Until when its callback is taken.
    pub expires_at: i64,
}

/// What is left of an account's recovery codes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecoveryCodesLeft {
    /// Unused codes.
    pub left: u64,
    /// When the codes were made, if the account has any (used or not).
    pub created_at: Option<i64>,
}

/// A passkey (WebAuthn credential) registered to an account.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PasskeyRow {
    /// The credential id, base64url: what the authenticator names the key by.
    pub credential_id: String,
    /// The account it signs in.
    pub user_id: String,
    /// A name the user recognises it by (the device, e.g. 「学校のiPad」).
    pub name: String,
    /// webauthn-rs's serialised credential (public key, signature counter) as JSON.
    pub credential: String,
    /// When it was registered.
    pub created_at: i64,
    /// When it last signed in.
    pub last_used_at: Option<i64>,
}

/// The storage interface of the identity provider.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Checks that the database answers (for `/readyz`).
    async fn ping(&self) -> StoreResult<()>;

    /// Returns the named setting, storing `default` first if it does not exist yet (so that
    /// processes sharing one database agree on it).
    async fn setting_or_insert(&self, name: &str, default: &[u8]) -> StoreResult<Vec<u8>>;

    /// All signing keys, oldest first.
    async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRow>>;
    /// Adds a signing key; every older key of the same algorithm retires when it activates.
    async fn add_signing_key(&self, key: &SigningKeyRow) -> StoreResult<()>;
    /// Deletes keys retired before `before` (their tokens have all expired).
    async fn delete_retired_keys(&self, before: i64) -> StoreResult<u64>;

    /// Adds a user; a taken username is a [`StoreError::Conflict`].
    async fn insert_user(&self, user: &UserRow) -> StoreResult<()>;
    /// Finds a user by id.
    async fn user(&self, id: &str) -> StoreResult<Option<UserRow>>;
    /// Finds a user by sign-in name.
    async fn user_by_username(&self, username: &str) -> StoreResult<Option<UserRow>>;
    /// Sets (or replaces) a user's password hash. Returns whether the user exists.
    async fn set_password_hash(&self, user_id: &str, hash: &str, now: i64) -> StoreResult<bool>;
    /// Number of users (the demo board is only seeded into an empty database).
    async fn count_users(&self) -> StoreResult<i64>;

    /// Registers a client.
    async fn insert_client(&self, client: &ClientRow) -> StoreResult<()>;
    /// Finds an enabled client (a disabled one is unknown everywhere).
    async fn client(&self, id: &str) -> StoreResult<Option<ClientRow>>;
    /// The assurance rule of every role that has one.
    async fn assurance_policies(&self) -> StoreResult<Vec<AssuranceRow>>;
    /// The assurance rule of one role, if any.
    async fn assurance_policy(&self, role: &str) -> StoreResult<Option<AssuranceRow>>;
    /// The assurance rule of the role of the account `user_id`, if any (one query: it is read
    /// each time a password sign-in is used).
    async fn assurance_policy_of_account(&self, user_id: &str)
    -> StoreResult<Option<AssuranceRow>>;
    /// Sets (replaces) a role's assurance rule.
    async fn set_assurance_policy(&self, rule: &AssuranceRow) -> StoreResult<()>;
    /// Every enabled client, oldest first (a board registers tens of apps, not thousands).
    async fn clients(&self) -> StoreResult<Vec<ClientRow>>;
    /// Replaces an enabled confidential client's secret digest; false if there is no such
    /// client or it authenticates without a secret (public, `private_key_jwt`).
    async fn set_client_secret(&self, id: &str, secret_hash: &[u8]) -> StoreResult<bool>;
    /// Disables a client and revokes every grant (and so every token) made to it; false if
    /// there is no such enabled client.
    async fn disable_client(&self, id: &str, now: i64) -> StoreResult<bool>;

    /// Keeps an authorization request while the user signs in or consents.
    async fn insert_auth_request(&self, id: &str, params: &str, expires_at: i64)
    -> StoreResult<()>;
    /// Returns a pending authorization request that has not expired.
    async fn auth_request(&self, id: &str, now: i64) -> StoreResult<Option<String>>;
    /// Forgets a finished authorization request.
    async fn delete_auth_request(&self, id: &str) -> StoreResult<()>;

    /// Starts a single-sign-on session, stored under the digest of its cookie value.
    async fn insert_session(&self, token_hash: &[u8], session: &SessionRow) -> StoreResult<()>;
    /// Finds a live session of an enabled user by the digest of its cookie value.
    async fn session(&self, token_hash: &[u8], now: i64) -> StoreResult<Option<SessionRow>>;
    /// [`Store::session`] with the scopes its user approved for `client_id`, in one query.
    async fn signed_in(
        &self,
        token_hash: &[u8],
        now: i64,
        client_id: &str,
    ) -> StoreResult<Option<SignedIn>>;
    /// Ends a session by its `sid`.
    async fn delete_session(&self, sid: &str) -> StoreResult<()>;
    /// Revokes the grants (and so the tokens) apps got through the session `sid`; how many.
    async fn revoke_session_grants(&self, sid: &str, now: i64) -> StoreResult<u64>;

    /// Scopes the user has already approved for the client.
    async fn approval(&self, user_id: &str, client_id: &str) -> StoreResult<Option<String>>;
    /// Records (or replaces) the scopes a user approved for a client.
    async fn upsert_approval(
        &self,
        user_id: &str,
        client_id: &str,
        scope: &str,
        now: i64,
    ) -> StoreResult<()>;

    /// Creates a grant together with the authorization code that redeems it (one row).
    async fn insert_grant_with_code(&self, grant: &GrantRow, code: &CodeRow) -> StoreResult<()>;
    /// Redeems a code once: marks it used and returns it with its grant.
    async fn redeem_code(
        &self,
        code_hash: &[u8],
        now: i64,
    ) -> StoreResult<Redemption<(CodeRow, GrantRow)>>;
    /// Finds a grant.
    async fn grant(&self, id: &str) -> StoreResult<Option<GrantRow>>;
    /// Revokes a grant with all its tokens. Returns whether it was active.
    async fn revoke_grant(&self, id: &str, now: i64) -> StoreResult<bool>;

    /// Stores a new refresh token.
    async fn insert_refresh_token(&self, token: &RefreshTokenRow) -> StoreResult<()>;
    /// Rotates a refresh token once: marks `old_hash` used and stores its successor (digest
    /// `new_hash`, same grant, scope and expiry), which is returned. A token used before
    /// reports [`Redemption::Replayed`].
    async fn rotate_refresh_token(
        &self,
        old_hash: &[u8],
        new_hash: &[u8],
        now: i64,
    ) -> StoreResult<Redemption<RefreshTokenRow>>;
    /// Finds a refresh token that has not been used.
    async fn refresh_token(&self, token_hash: &[u8]) -> StoreResult<Option<RefreshTokenRow>>;

    /// Puts an access token on the deny list until it expires.
    async fn revoke_access_token(&self, jti: &str, expires_at: i64) -> StoreResult<()>;
    /// Whether an access token (by its `jti` and grant) has been revoked.
    async fn access_token_revoked(&self, jti: &str, grant_id: Option<&str>) -> StoreResult<bool>;

    /// Records a single-use identifier (a client assertion's, a passkey ceremony's) until
    /// `expires_at`; false if it was used before (a replay).
    async fn use_once(&self, id: &str, expires_at: i64) -> StoreResult<bool>;

    /// Registers a passkey; [`StoreError::Conflict`] if its credential id is already registered.
    async fn insert_passkey(&self, passkey: &PasskeyRow) -> StoreResult<()>;
    /// Stores a new enrolment link; the account's earlier unused links stop working.
    async fn insert_enrolment_link(&self, link: &EnrolmentLinkRow) -> StoreResult<()>;
    /// The unused, unexpired enrolment link with this digest.
    async fn live_enrolment_link(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<Option<EnrolmentLinkRow>>;
    /// Uses a live enrolment link of `passkey`'s account, once, and registers the passkey, in
    /// one transaction: false (and nothing stored) if the link was used, expired or unknown.
    async fn enrol_passkey(
        &self,
        token_hash: &str,
        passkey: &PasskeyRow,
        now: i64,
    ) -> StoreResult<bool>;
    /// Voids an account's unused enrolment links (locked, passkeys removed, a new password);
    /// how many.
    async fn void_enrolment_links(&self, user_id: &str) -> StoreResult<u64>;
    /// Replaces an account's recovery codes (used or not) with new ones, by their digests.
    async fn replace_recovery_codes(
        &self,
        user_id: &str,
        code_hashes: &[String],
        created_at: i64,
    ) -> StoreResult<()>;
    /// Uses one of the account's unused recovery codes, once: false if it has no such code.
    async fn use_recovery_code(
        &self,
        user_id: &str,
        code_hash: &str,
        now: i64,
    ) -> StoreResult<bool>;
    /// How many unused recovery codes the account has, and when its codes were made.
    async fn recovery_codes_left(&self, user_id: &str) -> StoreResult<RecoveryCodesLeft>;
    /// Removes an account's recovery codes; how many unused ones there were.
    async fn void_recovery_codes(&self, user_id: &str) -> StoreResult<u64>;
    /// Every upstream provider, by name.
    async fn upstreams(&self) -> StoreResult<Vec<UpstreamRow>>;
    /// The upstream provider `name`.
    async fn upstream(&self, name: &str) -> StoreResult<Option<UpstreamRow>>;
    /// Adds an upstream provider (a taken name is a conflict).
    async fn insert_upstream(&self, row: &UpstreamRow) -> StoreResult<()>;
    /// Switches an upstream off (`Some(when)`) or on again (`None`): false if there is none.
    async fn set_upstream_disabled(&self, name: &str, at: Option<i64>) -> StoreResult<bool>;
    /// Removes an upstream with its links and flows: false if there is none.
    async fn delete_upstream(&self, name: &str) -> StoreResult<bool>;
    /// Keeps a new sign-in through an upstream (expired ones are dropped at `now`).
    async fn insert_upstream_flow(&self, flow: &UpstreamFlowRow, now: i64) -> StoreResult<()>;
    /// Takes the unexpired flow with this `state` digest, once (it is removed).
    async fn take_upstream_flow(
        &self,
        state_hash: &str,
        now: i64,
    ) -> StoreResult<Option<UpstreamFlowRow>>;
    /// The link of an upstream account, if it is linked.
    async fn upstream_link(
        &self,
        provider: &str,
        subject: &str,
    ) -> StoreResult<Option<UpstreamLinkRow>>;
    /// Links an upstream account (taken subject, or a person already linked at this provider:
    /// a conflict).
    async fn insert_upstream_link(&self, link: &UpstreamLinkRow) -> StoreResult<()>;
    /// A person's linked upstream accounts.
    async fn upstream_links_of(&self, user_id: &str) -> StoreResult<Vec<UpstreamLinkRow>>;
    /// Removes the upstream links a person made themself (after a compromise, with the
    /// administrator's lock, new password or passkey reset); how many.
    async fn delete_person_made_upstream_links(&self, user_id: &str) -> StoreResult<u64>;
    /// Ends every session signed in with `acr` and revokes the grants made from such sign-ins
    /// (an upstream switched off or removed); how many sessions.
    async fn end_sign_ins_with(&self, acr: &str, now: i64) -> StoreResult<u64>;
    /// Unlinks a person's account at `provider`: false if there was none.
    async fn delete_upstream_link(&self, provider: &str, user_id: &str) -> StoreResult<bool>;
    /// Stores a pupil's new sign-in card; their earlier live card is voided (at `now`).
    async fn issue_card(&self, card: &CardRow, now: i64) -> StoreResult<()>;
    /// The card with this digest, if it is live (not voided, not expired).
    async fn live_card(&self, secret_hash: &str, now: i64) -> StoreResult<Option<CardRow>>;
    /// Voids an account's live card; how many (0 or 1).
    async fn void_cards(&self, user_id: &str, now: i64) -> StoreResult<u64>;
    /// One passkey by its credential id.
    async fn passkey(&self, credential_id: &str) -> StoreResult<Option<PasskeyRow>>;
    /// An account's passkeys, oldest first.
    async fn passkeys_of(&self, user_id: &str) -> StoreResult<Vec<PasskeyRow>>;
    /// Records a sign-in with a passkey: its updated credential (counter) and the time, only if
    /// the stored credential is still `before`; false if another sign-in changed it meanwhile.
    async fn passkey_used(
        &self,
        credential_id: &str,
        before: &str,
        after: &str,
        now: i64,
    ) -> StoreResult<bool>;
    /// Ends every session of an account and revokes its apps' grants (a lost tablet); returns
    /// how many sessions ended.
    async fn sign_out_everywhere(&self, user_id: &str, now: i64) -> StoreResult<u64>;
    /// Locks an account (`by` whom, at `now`): disabled whatever the roster says until
    /// unlocked. Unlocking (`by` `None`) gives the roster's word back: enabled unless the
    /// roster disabled or removed the person. False if there is no such account, or it is
    /// already locked (unlocked).
    async fn set_lock(&self, user_id: &str, by: Option<&str>, now: i64) -> StoreResult<bool>;
    /// Who locked an account and when, if it is locked.
    async fn lock_of(&self, user_id: &str) -> StoreResult<Option<(String, i64)>>;
    /// Removes one of `user_id`'s passkeys; false if it has no such passkey.
    async fn delete_passkey(&self, user_id: &str, credential_id: &str) -> StoreResult<bool>;
    /// Ends `user_id`'s sessions except `keep_sid` (the person's own) — only those signed in
    /// with `acr` when given — and revokes the apps' grants made from them: "sign out my other
    /// devices", and after a passkey is removed, the tablets that signed in with it. Returns
    /// how many sessions ended.
    async fn end_other_sessions(
        &self,
        user_id: &str,
        keep_sid: &str,
        acr: Option<&str>,
        now: i64,
    ) -> StoreResult<u64>;
    /// An account's live sessions (its signed-in browsers), newest first.
    async fn sessions_of(&self, user_id: &str, now: i64) -> StoreResult<Vec<SessionRow>>;
    /// The apps an account approved (enabled ones), most recent first.
    async fn approvals_of(&self, user_id: &str) -> StoreResult<Vec<ApprovalRow>>;
    /// Forgets an account's approval of an app and revokes every grant (and so every token) the
    /// app holds for the account; false if there was no approval.
    async fn stop_using(&self, user_id: &str, client_id: &str, now: i64) -> StoreResult<bool>;

    /// Counts one failed (or not yet successful) sign-in for `key`; a window older than
    /// `since` starts again. Returns the count in the window, this one included.
    async fn record_login_failure(&self, key: &str, since: i64, now: i64) -> StoreResult<i64>;
    /// Forgets the failures counted under `keys` (one statement), after a successful sign-in
    /// or a password reset.
    async fn clear_login_failures(&self, keys: &[String]) -> StoreResult<()>;
    /// Takes back one failure counted under `key` (an attempt reserved before a check that
    /// then succeeded).
    async fn forgive_login_failure(&self, key: &str) -> StoreResult<()>;

    /// Deletes expired codes, sessions, requests, deny-list entries and grants.
    async fn purge_expired(&self, now: i64) -> StoreResult<u64>;
}

/// The provider's storage on an open database.
pub fn open(database: &Database) -> Arc<dyn Store> {
    match database {
        Database::Sqlite(pool) => Arc::new(SqliteStore::new(pool.clone())),
        Database::Postgres(pool) => Arc::new(PostgresStore::new(pool.clone())),
    }
}
