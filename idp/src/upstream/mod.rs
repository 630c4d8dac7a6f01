//! Signing in through the board's upstream OpenID Connect providers — Google Workspace for
//! Education, Microsoft Entra ID, or any standard provider — while Renkei stays the one place
//! that says who is who. Renkei is an identity broker: the upstream proves an account, the
//! roster says which person it is (by a link made once, by the roster e-mail the upstream has
//! verified, or by a roster username an upstream claim carries), and apps receive the Renkei
//! person (`sub`, names and kana, school, class), never the upstream's identifiers. Nobody
//! outside the roster gets an account by signing in upstream.
//!
//! - this module: the administrators' settings (add, list, switch off and on, remove) and the
//!   links between upstream accounts and Renkei accounts;
//! - [`client`]: discovery, the authorization request, the code exchange and the ID token's
//!   validation, through the `openidconnect` crate;
//! - [`broker`]: the sign-in pages (start, callback), linking a person's own upstream account,
//!   and the buttons of the sign-in page.
//!
//! Every change of a setting or a link, and every refused callback, is audited.

pub mod broker;
pub mod client;

use renkei_directory::Directory;
use renkei_platform::clock::now;
use renkei_platform::{AuditEvent, AuditLog};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::store::{Store, StoreError, UpstreamLinkRow, UpstreamRow};

/// The `acr` of a sign-in through an upstream provider: brokered, its strength the upstream's.
pub const ACR_UPSTREAM: &str = "urn:renkei:acr:upstream";

/// Google's issuer (its preset; `hd` is then required when domains are set).
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";

/// Longest list of scopes, domains or schools one upstream takes.
const MAX_LIST: usize = 50;

/// How an upstream account finds its roster account the first time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkRule {
    /// The roster e-mail, which the upstream says it verified.
    Email,
    /// Only accounts linked beforehand (by an administrator, or by the person).
    Subject,
    /// A claim whose value is the person's roster username.
    Claim(String),
}

impl LinkRule {
    /// Parses `email`, `subject` or `claim:NAME`.
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "email" => Ok(LinkRule::Email),
            "subject" => Ok(LinkRule::Subject),
            other => match other.strip_prefix("claim:") {
                Some(name)
                    if !name.is_empty()
                        && name.len() <= 64
                        && name
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.') =>
                {
                    Ok(LinkRule::Claim(name.to_owned()))
                }
                _ => Err(Error::Invalid(format!(
                    "--link-by {other:?} is not a rule; use email (the roster e-mail, verified upstream), subject (only accounts linked beforehand) or claim:NAME (a claim holding the roster username, e.g. claim:preferred_username)"
                ))),
            },
        }
    }

    /// The stored words.
    pub fn as_string(&self) -> String {
        match self {
            LinkRule::Email => "email".into(),
            LinkRule::Subject => "subject".into(),
            LinkRule::Claim(name) => format!("claim:{name}"),
        }
    }
}

/// What an administrator gives for a new upstream (the command line, the console, the API).
#[derive(Clone, Default, serde::Deserialize)]
pub struct NewUpstream {
    /// Short name (lower-case letters, digits, `-`), in the sign-in addresses.
    pub name: String,
    /// `google` or `microsoft`: fills the issuer, scopes, rule and labels not given.
    #[serde(default)]
    pub preset: Option<String>,
    /// The upstream's issuer URL.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Renkei's client id there.
    pub client_id: String,
    /// Renkei's client secret there.
    pub client_secret: String,
    /// Scopes to ask (`openid` is added).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// E-mail domains (Google's `hd`) accepted; none: any.
    #[serde(default)]
    pub allowed_domains: Vec<String>,
    /// The Entra tenant id the `tid` claim must carry.
    #[serde(default)]
    pub tenant: Option<String>,
    /// The schools (sourcedIds) it is for; none: the whole board.
    #[serde(default)]
    pub schools: Vec<String>,
    /// `email` (default), `subject` or `claim:NAME`.
    #[serde(default)]
    pub link_by: Option<String>,
    /// The button's words in Japanese.
    #[serde(default)]
    pub label_ja: Option<String>,
    /// The button's words in English.
    #[serde(default)]
    pub label_en: Option<String>,
    /// Its schools sign in only through it.
    #[serde(default)]
    pub only: bool,
    /// Trust the upstream's `amr` `mfa` as a second factor.
    #[serde(default)]
    pub trust_mfa: bool,
}

/// Its secret stays out of any debug output.
impl std::fmt::Debug for NewUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUpstream")
            .field("name", &self.name)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"(hidden)")
            .finish_non_exhaustive()
    }
}

/// An upstream as administrators see it (never its secret).
#[derive(Clone, Debug, Serialize)]
pub struct Upstream {
    /// Short name.
    pub name: String,
    /// The upstream's issuer.
    pub issuer: String,
    /// Renkei's client id there.
    pub client_id: String,
    /// Scopes asked.
    pub scopes: Vec<String>,
    /// Accepted e-mail domains (empty: any).
    pub allowed_domains: Vec<String>,
    /// The Entra tenant checked in `tid`, if any.
    pub tenant: Option<String>,
    /// Its schools (empty: the whole board).
    pub schools: Vec<String>,
    /// How accounts are linked.
    pub link_by: String,
    /// Button words.
    pub label_ja: String,
    /// Button words in English.
    pub label_en: String,
    /// Its schools sign in only through it.
    pub only: bool,
    /// The upstream's `mfa` counts as a second factor.
    pub trust_mfa: bool,
    /// Whether it is switched on.
    pub enabled: bool,
    /// The redirect URI to register at the upstream.
    pub redirect_uri: String,
    /// When it was added (Unix seconds).
    pub created_at: i64,
    /// Who added it.
    pub created_by: String,
}

/// The space-separated list of a stored field.
fn words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

/// The redirect URI of upstream `name` at Renkei's `issuer`.
pub fn redirect_uri(issuer: &str, name: &str) -> String {
    format!(
        "{}{}",
        issuer.trim_end_matches('/'),
        broker::callback_path(name)
    )
}

impl Upstream {
    /// The upstream `row` as shown, at Renkei's `issuer`.
    pub fn of(row: &UpstreamRow, issuer: &str) -> Self {
        Upstream {
            name: row.name.clone(),
            issuer: row.issuer.clone(),
            client_id: row.client_id.clone(),
            scopes: words(&row.scopes),
            allowed_domains: words(&row.allowed_domains),
            tenant: row.tenant.clone(),
            schools: words(&row.schools),
            link_by: row.link_by.clone(),
            label_ja: row.label_ja.clone(),
            label_en: row.label_en.clone(),
            only: row.only_way,
            trust_mfa: row.trust_mfa,
            enabled: row.disabled_at.is_none(),
            redirect_uri: redirect_uri(issuer, &row.name),
            created_at: row.created_at,
            created_by: row.created_by.clone(),
        }
    }
}

/// Whether `url` is an issuer we may talk to: https, or http on the loopback (tests, a board's
/// own provider beside Renkei).
fn issuer_ok(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| {
        let loopback = matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        (u.scheme() == "https" || (u.scheme() == "http" && loopback))
            && u.query().is_none()
            && u.fragment().is_none()
    })
}

/// Whether `tenant` is an Entra tenant id (a GUID, as `tid` carries it).
fn tenant_ok(tenant: &str) -> bool {
    tenant.len() == 36
        && tenant.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// Whether `domain` looks like a domain name.
fn domain_ok(domain: &str) -> bool {
    domain.len() <= 253
        && domain.contains('.')
        && domain.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Checks `new` and fills in its preset: the row to store (added by `by` at `at`).
async fn checked(
    directory: &dyn Directory,
    new: NewUpstream,
    by: &str,
    at: i64,
) -> Result<UpstreamRow> {
    let invalid = |message: String| Err(Error::Invalid(message));
    let name = new.name.trim().to_owned();
    if name.is_empty()
        || name.len() > 32
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return invalid(format!(
            "--name {name:?}: use 1 to 32 lower-case letters, digits or '-', e.g. google or entra-sakura"
        ));
    }
    let tenant = new
        .tenant
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_ascii_lowercase);
    if let Some(tenant) = &tenant
        && !tenant_ok(tenant)
    {
        return invalid(format!(
            "--tenant {tenant:?} is not a tenant id; give the directory (tenant) ID of Microsoft Entra, e.g. 72f988bf-86f1-41af-91ab-2d7cd011db47"
        ));
    }
    let (issuer, scopes, rule, label_ja, label_en) = match new.preset.as_deref() {
        None => (
            new.issuer.clone(),
            "openid email profile",
            "email",
            name.clone(),
            name.clone(),
        ),
        Some("google") => (
            new.issuer.clone().or(Some(GOOGLE_ISSUER.to_owned())),
            "openid email profile",
            "email",
            "Googleでログイン".to_owned(),
            "Sign in with Google".to_owned(),
        ),
        Some("microsoft") => {
            let Some(tenant) = &tenant else {
                return invalid(
                    "--preset microsoft needs --tenant: the directory (tenant) ID of the board's Microsoft Entra".into(),
                );
            };
            (
                new.issuer.clone().or(Some(format!(
                    "https://login.microsoftonline.com/{tenant}/v2.0"
                ))),
                "openid email profile",
                "email",
                "Microsoftでログイン".to_owned(),
                "Sign in with Microsoft".to_owned(),
            )
        }
        Some(other) => {
            return invalid(format!(
                "--preset {other:?} is unknown; use google or microsoft, or give --issuer"
            ));
        }
    };
    let Some(issuer) = issuer.map(|i| i.trim().trim_end_matches('/').to_owned()) else {
        return invalid(
            "--issuer is missing: give the upstream's issuer URL, or --preset google|microsoft"
                .into(),
        );
    };
    if !issuer_ok(&issuer) {
        return invalid(format!(
            "--issuer {issuer:?} must be an https URL (http only on 127.0.0.1 or localhost), e.g. https://accounts.google.com"
        ));
    }
    let client_id = new.client_id.trim().to_owned();
    if client_id.is_empty() || client_id.len() > 256 {
        return invalid("--client-id is missing or longer than 256 characters".into());
    }
    if new.client_secret.trim().is_empty() || new.client_secret.len() > 1024 {
        return invalid("the client secret is missing or longer than 1024 characters; give it on standard input (--client-secret-stdin)".into());
    }
    let mut scope_list: Vec<String> = if new.scopes.is_empty() {
        words(scopes)
    } else {
        new.scopes.iter().flat_map(|s| words(s)).collect()
    };
    if !scope_list.iter().any(|s| s == "openid") {
        scope_list.insert(0, "openid".into());
    }
    if scope_list.len() > MAX_LIST
        || scope_list.iter().any(|s| {
            s.len() > 128
                || !s
                    .bytes()
                    .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\')
        })
    {
        return invalid("--scope: at most 50 scopes of printable characters".into());
    }
    let domains: Vec<String> = new
        .allowed_domains
        .iter()
        .flat_map(|d| words(d))
        .map(|d| d.to_ascii_lowercase())
        .collect();
    if domains.len() > MAX_LIST {
        return invalid("--allowed-domain: at most 50 domains".into());
    }
    if let Some(bad) = domains.iter().find(|d| !domain_ok(d)) {
        return invalid(format!(
            "--allowed-domain {bad:?} is not a domain name, e.g. sakura.ed.jp"
        ));
    }
    let schools: Vec<String> = new.schools.iter().flat_map(|s| words(s)).collect();
    if schools.len() > MAX_LIST {
        return invalid("--school: at most 50 schools".into());
    }
    for school in &schools {
        if !directory.school_exists(school).await? {
            return invalid(format!(
                "--school {school:?} is not an active school of the roster; give a school's sourcedId (orgs.csv)"
            ));
        }
    }
    if new.only && schools.is_empty() {
        return invalid("--only is for schools that sign in only through this provider: name them with --school".into());
    }
    let rule = LinkRule::parse(new.link_by.as_deref().unwrap_or(rule))?;
    let label = |given: Option<String>, default: String| -> Result<String> {
        let label = given
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .unwrap_or(default);
        if label.chars().count() > 60 {
            return Err(Error::Invalid(format!(
                "the button label {label:?} is longer than 60 characters"
            )));
        }
        Ok(label)
    };
    Ok(UpstreamRow {
        name,
        issuer,
        client_id,
        client_secret: new.client_secret.trim().to_owned(),
        scopes: scope_list.join(" "),
        allowed_domains: domains.join(" "),
        tenant,
        schools: schools.join(" "),
        link_by: rule.as_string(),
        label_ja: label(new.label_ja, label_ja)?,
        label_en: label(new.label_en, label_en)?,
        only_way: new.only,
        trust_mfa: new.trust_mfa,
        disabled_at: None,
        created_at: at,
        created_by: by.to_owned(),
    })
}

/// What adding an upstream did.
#[derive(Clone, Debug, Serialize)]
pub struct Added {
    /// The upstream, with the redirect URI to register there.
    #[serde(flatten)]
    pub upstream: Upstream,
    /// Whether its discovery document answered: `ok`, or why not (a warning: the upstream
    /// may not be reachable from here yet).
    pub discovery: String,
}

/// Adds an upstream, audited through `via`; Renkei's `issuer` makes the redirect URI. Its
/// discovery document is fetched when it answers (a warning, not a failure, when it does not).
pub async fn add(
    store: &dyn Store,
    directory: &dyn Directory,
    audit: &AuditLog,
    clients: &client::Clients,
    via: &str,
    issuer: &str,
    new: NewUpstream,
) -> Result<Added> {
    let row = checked(directory, new, via, now()).await?;
    store.insert_upstream(&row).await.map_err(|e| match e {
        StoreError::Conflict(_) => Error::Invalid(format!(
            "an upstream named {:?} exists; `renkei upstream list` shows them, `renkei upstream remove --name {}` removes it",
            row.name, row.name
        )),
        other => other.into(),
    })?;
    audit
        .append(AuditEvent::admin(
            via,
            format!(
                "upstream provider {} added: issuer {}, link by {}, {}{}",
                row.name,
                row.issuer,
                row.link_by,
                if row.schools.is_empty() {
                    "for the whole board".to_owned()
                } else {
                    format!("for schools {}", row.schools)
                },
                if row.only_way {
                    ", their only way in"
                } else {
                    ""
                }
            ),
        ))
        .await?;
    let discovery = match clients.metadata(&row.issuer, true).await {
        Ok(_) => "ok".to_owned(),
        Err(error) => format!(
            "warning: the discovery document of {} did not answer ({error}); sign-ins will fail until it does",
            row.issuer
        ),
    };
    Ok(Added {
        upstream: Upstream::of(&row, issuer),
        discovery,
    })
}

/// Every upstream, as shown at Renkei's `issuer`.
pub async fn list(store: &dyn Store, issuer: &str) -> Result<Vec<Upstream>> {
    Ok(store
        .upstreams()
        .await?
        .iter()
        .map(|row| Upstream::of(row, issuer))
        .collect())
}

/// The upstream `name`, or an error that says how to list them.
async fn named(store: &dyn Store, name: &str) -> Result<UpstreamRow> {
    store.upstream(name).await?.ok_or_else(|| {
        Error::Invalid(format!(
            "no upstream provider named {name:?}; `renkei upstream list` shows them"
        ))
    })
}

/// Switches upstream `name` off (`enabled` false: its button goes, its sign-ins are refused)
/// or on again; audited through `via`.
pub async fn set_enabled(
    store: &dyn Store,
    audit: &AuditLog,
    via: &str,
    name: &str,
    enabled: bool,
) -> Result<()> {
    named(store, name).await?;
    store
        .set_upstream_disabled(name, (!enabled).then(now))
        .await?;
    let ended = if enabled {
        0
    } else {
        end_upstream_sign_ins(store).await?
    };
    audit
        .append(AuditEvent::admin(
            via,
            format!(
                "upstream provider {name} {}",
                if enabled {
                    "switched on".to_owned()
                } else {
                    format!("switched off; {ended} upstream session(s) ended, their grants revoked")
                }
            ),
        ))
        .await?;
    Ok(())
}

/// Ends every sign-in made through an upstream, and revokes the grants made from them: what
/// an upstream switched off or removed (a compromise, a distrusted provider) vouched for stops
/// counting at once. Sessions do not say which upstream made them: people who signed in
/// through another sign in again.
async fn end_upstream_sign_ins(store: &dyn Store) -> Result<u64> {
    Ok(store.end_sign_ins_with(ACR_UPSTREAM, now()).await?)
}

/// Removes upstream `name` with its links, audited through `via`.
pub async fn remove(store: &dyn Store, audit: &AuditLog, via: &str, name: &str) -> Result<()> {
    named(store, name).await?;
    store.delete_upstream(name).await?;
    let ended = end_upstream_sign_ins(store).await?;
    audit
        .append(AuditEvent::admin(
            via,
            format!(
                "upstream provider {name} removed with its account links; {ended} upstream session(s) ended, their grants revoked"
            ),
        ))
        .await?;
    Ok(())
}

/// A person's link to an upstream account, as shown.
#[derive(Clone, Debug, Serialize)]
pub struct Link {
    /// The provider's name.
    pub provider: String,
    /// The upstream's subject.
    pub subject: String,
    /// The Renkei account's username.
    pub username: String,
    /// When (Unix seconds).
    pub linked_at: i64,
    /// How it was made.
    pub linked_by: String,
}

/// Links the upstream account `subject` of provider `name` to the account `username` ahead of
/// its first sign-in (the rule `subject`, or to correct a link), audited through `via`.
pub async fn link(
    store: &dyn Store,
    audit: &AuditLog,
    via: &str,
    name: &str,
    username: &str,
    subject: &str,
) -> Result<Link> {
    named(store, name).await?;
    let user = crate::user::by_username(store, username).await?;
    let subject = subject.trim();
    if subject.is_empty() || subject.len() > 255 {
        return Err(Error::Invalid(
            "--subject is missing or longer than 255 characters: the upstream's `sub` for the person".into(),
        ));
    }
    let row = UpstreamLinkRow {
        provider: name.to_owned(),
        subject: subject.to_owned(),
        user_id: user.id.clone(),
        linked_at: now(),
        linked_by: via.to_owned(),
    };
    store.insert_upstream_link(&row).await.map_err(|e| match e {
        StoreError::Conflict(_) => Error::Invalid(format!(
            "that upstream account, or another account of {username} at {name}, is linked already; unlink it first (`renkei upstream unlink --name {name} --username …`)"
        )),
        other => other.into(),
    })?;
    audit
        .append(AuditEvent::admin_about(
            via,
            user.sourced_id.as_deref(),
            format!("account {username} linked to subject {subject} of upstream provider {name}"),
        ))
        .await?;
    Ok(Link {
        provider: row.provider,
        subject: row.subject,
        username: user.username,
        linked_at: row.linked_at,
        linked_by: row.linked_by,
    })
}

/// Unlinks `username`'s account at provider `name`, audited through `via`: false if it had none.
pub async fn unlink(
    store: &dyn Store,
    audit: &AuditLog,
    via: &str,
    name: &str,
    username: &str,
) -> Result<bool> {
    let user = crate::user::by_username(store, username).await?;
    let removed = store.delete_upstream_link(name, &user.id).await?;
    if removed {
        // What the unlinked account signed in stops counting (a wrong link's sessions too).
        let ended = store
            .end_other_sessions(&user.id, "", Some(ACR_UPSTREAM), now())
            .await?;
        audit
            .append(AuditEvent::admin_about(
                via,
                user.sourced_id.as_deref(),
                format!(
                    "account {username} unlinked from upstream provider {name}; {ended} upstream session(s) ended, their grants revoked"
                ),
            ))
            .await?;
    }
    Ok(removed)
}

/// A person's linked upstream accounts.
pub async fn links_of(store: &dyn Store, user: &crate::store::UserRow) -> Result<Vec<Link>> {
    Ok(store
        .upstream_links_of(&user.id)
        .await?
        .into_iter()
        .map(|row| Link {
            provider: row.provider,
            subject: row.subject,
            username: user.username.clone(),
            linked_at: row.linked_at,
            linked_by: row.linked_by,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_rules_parse_and_print_back() {
        for text in ["email", "subject", "claim:preferred_username"] {
            assert_eq!(LinkRule::parse(text).unwrap().as_string(), text);
        }
        assert!(LinkRule::parse("claim:").is_err());
        assert!(LinkRule::parse("claim:a b").is_err());
        assert!(LinkRule::parse("username").is_err());
    }

    #[test]
    fn tenants_domains_and_issuers_are_checked() {
        assert!(tenant_ok("72f988bf-86f1-41af-91ab-2d7cd011db47"));
        assert!(!tenant_ok("contoso.onmicrosoft.com"));
        assert!(domain_ok("sakura.ed.jp"));
        assert!(!domain_ok("sakura"));
        assert!(!domain_ok("a..jp"));
        assert!(issuer_ok("https://accounts.google.com"));
        assert!(issuer_ok("http://127.0.0.1:9000/tenant/v2.0"));
        assert!(!issuer_ok("http://accounts.example.com"));
        assert!(!issuer_ok("https://idp.example.com/?x=1"));
    }
}
