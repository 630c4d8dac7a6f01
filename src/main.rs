//! `renkei`: the one binary of Renkei (連携), the identity and consent hub for school boards.

use std::io::Read;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use renkei::{App, Error, Result, open_database};
use renkei_idp::Config;
use renkei_idp::client::NewClient;
use renkei_idp::keys::SigningAlg;
use renkei_idp::store::Store;
use renkei_idp::user::NewUser;
use renkei_platform::AuditLog;

#[derive(Parser)]
#[command(
    name = "renkei",
    version,
    about = "Renkei (連携): identity and consent hub for Japanese school boards"
)]
struct Cli {
    /// Database: sqlite://FILE (created if missing) or postgres://USER@HOST/DB.
    #[arg(
        long,
        global = true,
        env = "RENKEI_DATABASE_URL",
        default_value = "sqlite://renkei.db"
    )]
    database_url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the OpenID Connect provider until SIGTERM or Ctrl-C.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "RENKEI_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Issuer URL that apps see (the public origin of this server).
        #[arg(long, env = "RENKEI_ISSUER", default_value = "http://localhost:8080")]
        issuer: String,
        /// Seed a demo board into an empty database and print how to try it.
        #[arg(long)]
        demo: bool,
        /// Address of a reverse proxy whose X-Forwarded-For is believed (repeatable).
        #[arg(
            long = "trusted-proxy",
            env = "RENKEI_TRUSTED_PROXIES",
            value_delimiter = ','
        )]
        trusted_proxies: Vec<std::net::IpAddr>,
        /// Signing algorithm of access tokens: RS256 (default), ES256 or EdDSA.
        #[arg(long, env = "RENKEI_ACCESS_TOKEN_ALG", default_value = "RS256", value_parser = parse_signing_alg)]
        access_token_alg: SigningAlg,
        /// Seconds to wait for an upstream sign-in provider (Google, Microsoft) before telling
        /// the person it did not answer.
        #[arg(long, env = "RENKEI_UPSTREAM_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=120))]
        upstream_timeout: u64,
    },
    /// Run the data gateway alone (OneRoster and school-affairs endpoints), for boards that
    /// keep it in another network zone; it shares the database with `renkei serve`.
    Gateway {
        /// Address to listen on.
        #[arg(long, env = "RENKEI_GATEWAY_LISTEN", default_value = "127.0.0.1:8081")]
        listen: String,
        /// Public URL of this gateway (for the `href`s of its answers).
        #[arg(
            long,
            env = "RENKEI_GATEWAY_URL",
            default_value = "http://127.0.0.1:8081"
        )]
        public_url: String,
        /// Address of a reverse proxy whose X-Forwarded-For is believed (repeatable).
        #[arg(
            long = "trusted-proxy",
            env = "RENKEI_TRUSTED_PROXIES",
            value_delimiter = ','
        )]
        trusted_proxies: Vec<std::net::IpAddr>,
    },
    /// Apply pending database migrations.
    Migrate,
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage registered apps (OAuth clients).
    Client {
        #[command(subcommand)]
        command: ClientCommand,
    },
    /// Check or export the audit log (data reads, administrative actions, consent changes).
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// The board's assurance policy: which sign-in methods count, per role.
    Assurance {
        #[command(subcommand)]
        command: AssuranceCommand,
    },
    /// Sign-ins through the board's Google Workspace, Microsoft Entra ID or any other OpenID
    /// Connect provider (Renkei brokers them; the roster says who is who).
    Upstream {
        #[command(subcommand)]
        command: UpstreamCommand,
    },
    /// Printed sign-in cards for pupils who cannot type yet.
    Card {
        #[command(subcommand)]
        command: CardCommand,
    },
    /// Manage token signing keys (OpenID Connect and capability root keys).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Import data from the board's school-affairs system.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Which app may read which school-affairs data (administrators' policies).
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Guardians' and students' consent records.
    Consent {
        #[command(subcommand)]
        command: ConsentCommand,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Set (a new version of) the policy for one app and one data category.
    Set(Box<PolicySet>),
    /// List the policies in force (of one app, if given).
    List {
        /// The app's client id.
        #[arg(long)]
        client: Option<String>,
    },
    /// List the data categories apps may ask for.
    Categories,
    /// Add a data category to the registry (e.g. one the school-affairs system exports).
    AddCategory {
        /// Identifier: `urn:renkei:scope:<name>.readonly` (lower-case letters, digits, hyphens).
        #[arg(long)]
        id: String,
        /// Japanese name.
        #[arg(long)]
        name_ja: String,
        /// English name.
        #[arg(long)]
        name_en: String,
        /// Japanese description.
        #[arg(long, default_value = "")]
        description_ja: String,
        /// English description.
        #[arg(long, default_value = "")]
        description_en: String,
        /// MEXT information-asset class: 1 (要配慮個人情報), 2 or 3.
        #[arg(long)]
        sensitivity: i64,
    },
}

#[derive(Args)]
struct PolicySet {
    /// The app's client id.
    #[arg(long)]
    client: String,
    /// Data category (see `renkei policy categories`).
    #[arg(long)]
    category: String,
    /// Legal basis: school, guardian or student.
    #[arg(long)]
    basis: String,
    /// A school (sourcedId) whose pupils it covers (repeatable).
    #[arg(long)]
    school: Vec<String>,
    /// A class (sourcedId) whose pupils it covers (repeatable).
    #[arg(long)]
    class: Vec<String>,
    /// A grade (P1–P6, J1–J3, H1–H3) it covers (repeatable).
    #[arg(long)]
    grade: Vec<String>,
    /// 利用目的 (purpose of use) in Japanese.
    #[arg(long)]
    purpose_ja: Option<String>,
    /// Purpose of use in English.
    #[arg(long)]
    purpose_en: Option<String>,
    /// Last day of validity (YYYY-MM-DD, Japan time).
    #[arg(long)]
    until: Option<String>,
    /// Why the board's duties cover special-care (class I) data without guardian consent.
    #[arg(long)]
    justification: Option<String>,
    /// Administrator setting it (recorded); default: the login name.
    #[arg(long)]
    by: Option<String>,
}

#[derive(Subcommand)]
enum ConsentCommand {
    /// Record a consent.
    Grant(ConsentArgs),
    /// Record a withdrawal.
    Withdraw(ConsentArgs),
    /// List consent records, oldest first.
    List {
        /// One child (sourcedId).
        #[arg(long)]
        student: Option<String>,
        /// One app.
        #[arg(long)]
        client: Option<String>,
    },
}

#[derive(Args)]
struct ConsentArgs {
    /// Username of the guardian, student or administrator deciding.
    #[arg(long)]
    by: String,
    /// The child (sourcedId).
    #[arg(long)]
    student: String,
    /// The app's client id.
    #[arg(long)]
    client: String,
    /// Data category.
    #[arg(long)]
    category: String,
    /// Last day a grant holds (YYYY-MM-DD, Japan time); default: the policy's validity.
    #[arg(long)]
    until: Option<String>,
    /// An administrator recording a consent given on paper (紙の同意書): the username of the
    /// guardian who signed it (the record then counts while the roster links them to the
    /// child).
    #[arg(long)]
    paper_from: Option<String>,
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Import a OneRoster 1.1 / 1.2 CSV file set (a folder or a zip with manifest.csv).
    Oneroster(OnerosterImport),
    /// Import school-affairs records (attendance, timetables, …) from a CSV or JSON-lines file.
    Affairs(AffairsImport),
    /// Erase people who left the board longer ago than the retention period.
    PurgeDeparted {
        /// Retention period in days (people disabled longer ago are erased).
        #[arg(long)]
        retention_days: u32,
    },
}

/// The flags every import shares.
#[derive(Args)]
struct ImportFlags {
    /// Check the files and report what would change, without changing anything.
    #[arg(long)]
    dry_run: bool,
    /// Output: text for people, json for machines.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    format: String,
    /// CSV encoding: auto (UTF-8 if the whole file is, else Shift_JIS), utf-8 or shift_jis;
    /// for every file, or for one as FILE=ENCODING (repeat the flag: --encoding
    /// users.csv=shift_jis).
    #[arg(long, value_name = "ENCODING | FILE=ENCODING")]
    encoding: Vec<String>,
    /// List at most this many problems (all are counted).
    #[arg(long, default_value_t = 100)]
    max_errors: usize,
}

impl ImportFlags {
    fn encodings(&self) -> Result<renkei_directory::Encodings> {
        renkei_directory::Encodings::parse(&self.encoding).map_err(Error::Invalid)
    }

    /// Prints a report as JSON (`--format json`) or as `text` made for people.
    fn print(&self, report: &impl serde::Serialize, text: impl FnOnce() -> String) {
        if self.format == "json" {
            println!(
                "{}",
                serde_json::to_string_pretty(report).expect("reports serialise")
            );
        } else {
            print!("{}", text());
        }
    }
}

#[derive(Args)]
struct OnerosterImport {
    /// Folder or zip of OneRoster CSV files.
    path: std::path::PathBuf,
    #[command(flatten)]
    flags: ImportFlags,
    /// Who runs the import (recorded with it); default: the login name.
    #[arg(long)]
    by: Option<String>,
    /// Apply the import even though it disables or moves more of a school's accounts than
    /// the threshold: the id of the held import whose summary you checked (the files must be
    /// the same).
    #[arg(long, value_name = "HELD_IMPORT_ID")]
    confirm_mass_change: Option<String>,
    /// The share of a school's accounts, in percent, that an import may disable or move
    /// before it is held.
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u32).range(1..=100))]
    mass_change_threshold: u32,
}

#[derive(Args)]
struct AffairsImport {
    /// The collection: attendance, timetables, dailyObservations, healthRoomVisits,
    /// guidanceRecords, familySituations, specialNeedsRecords or healthRecords.
    collection: String,
    /// A .csv file (header line; UTF-8 or Shift_JIS) or a JSON-lines file (.jsonl, .ndjson).
    path: std::path::PathBuf,
    /// The file holds all of the collection's records: remove those not in it.
    #[arg(long)]
    bulk: bool,
    #[command(flatten)]
    flags: ImportFlags,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account; the password is read from standard input.
    Add(UserAdd),
    /// Set an account's password (read from standard input), e.g. for roster accounts.
    SetPassword {
        /// Sign-in name.
        #[arg(long)]
        username: String,
        /// Read the password from standard input (one line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List an account's passkeys (JSON lines: credential id, name, created, last used).
    Passkeys {
        /// Sign-in name.
        #[arg(long)]
        username: String,
    },
    /// Remove an account's passkeys (a lost or handed-on tablet): all (with its recovery codes),
    /// or one by credential id; the account is signed out everywhere and its apps' grants are
    /// revoked.
    RemovePasskeys {
        /// Sign-in name.
        #[arg(long)]
        username: String,
        /// Remove only this passkey (its `credential_id` from `renkei user passkeys`; base64url,
        /// which may begin with `-`).
        #[arg(long, allow_hyphen_values = true)]
        credential_id: Option<String>,
    },
    /// Lock an account (a lost card, a leaked password): it cannot sign in whatever the roster
    /// says until unlocked, and it is signed out everywhere.
    Lock {
        /// Sign-in name.
        #[arg(long)]
        username: String,
    },
    /// Unlock an account: it signs in again unless the roster disabled the person.
    Unlock {
        /// Sign-in name.
        #[arg(long)]
        username: String,
    },
    /// Sign an account out everywhere: its sessions end and its apps' grants are revoked.
    SignOut {
        /// Sign-in name.
        #[arg(long)]
        username: String,
    },
    /// Issue a one-time link with which a teacher or administrator registers a passkey on their
    /// own device (JSON: username, url, expires_at); an earlier unused link stops working.
    EnrolmentLink {
        /// Sign-in name.
        #[arg(long)]
        username: String,
        /// The issuer URL the link starts with (as `renkei serve --issuer`).
        #[arg(long)]
        issuer: String,
    },
}

#[derive(Args)]
struct UserAdd {
    /// Sign-in name.
    #[arg(long)]
    username: String,
    /// student, teacher, guardian or administrator.
    #[arg(long)]
    role: String,
    /// Given name (名).
    #[arg(long)]
    given_name: Option<String>,
    /// Family name (姓).
    #[arg(long)]
    family_name: Option<String>,
    /// Kana reading of the given name.
    #[arg(long)]
    given_name_kana: Option<String>,
    /// Kana reading of the family name.
    #[arg(long)]
    family_name_kana: Option<String>,
    /// E-mail address.
    #[arg(long)]
    email: Option<String>,
    /// Grade code (P1–P6, J1–J3, H1–H3).
    #[arg(long)]
    grade: Option<String>,
    /// Read the password from standard input (one line).
    #[arg(long, required = true)]
    password_stdin: bool,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the hash chain and check each event's time and child links; fails naming
    /// the first event that does not match.
    Verify {
        /// A file of checkpoints (`renkei audit checkpoint` lines) the board kept elsewhere:
        /// each must still be in the chain, so cutting off its newest events is noticed.
        #[arg(long = "checkpoints")]
        checkpoints: Option<std::path::PathBuf>,
    },
    /// Verify the chain, then print its newest event's position and hash as one JSON line, for
    /// the board to keep outside Renkei (append it to a file `audit verify --checkpoints` reads).
    Checkpoint,
    /// Write events as JSON lines to standard output.
    Export {
        /// First day (YYYY-MM-DD, Japan time) or Unix seconds; default: everything.
        #[arg(long)]
        since: Option<String>,
    },
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Register an app; prints {"client_id": …, "client_secret": …}.
    Add(Box<ClientAdd>),
    /// Disable an app: it can no longer sign users in or get tokens, and every token it holds
    /// (access, refresh, capability) stops at once.
    Disable {
        /// The app's client id.
        #[arg(long)]
        client: String,
    },
    /// Give a confidential app a new secret; prints {"client_id": …, "client_secret": …}. The
    /// old secret stops working at once.
    RotateSecret {
        /// The app's client id.
        #[arg(long)]
        client: String,
    },
    /// List the enabled apps, one JSON object per line.
    List,
}

#[derive(Args)]
struct ClientAdd {
    /// Name users see on the consent page.
    #[arg(long)]
    name: String,
    /// Exact redirect URI (repeatable).
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// Exact post-logout redirect URI (repeatable).
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// A public client (tablet or browser app): no secret, PKCE required.
    #[arg(long)]
    public: bool,
    /// Grant type (repeatable): authorization_code, refresh_token, client_credentials (the
    /// app may act for itself: its own access tokens and school-wide capability tokens).
    #[arg(long = "grant-type")]
    grant_types: Vec<String>,
    /// Scope the app may ask for (repeatable); default: all sign-in scopes.
    /// `urn:renkei:scope:admin` (with client_credentials) lets it call the JSON admin API
    /// board-wide.
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// ID-token signing algorithm: RS256 (default), EdDSA or ES256.
    #[arg(long)]
    id_token_alg: Option<String>,
    /// File with the app's JWK set, for private_key_jwt instead of a secret.
    #[arg(long)]
    jwks_file: Option<std::path::PathBuf>,
    /// A resource server (for example a school-affairs data service) that may introspect
    /// access tokens issued to other apps.
    #[arg(long)]
    may_introspect: bool,
    /// Who makes the app (shown to administrators).
    #[arg(long)]
    vendor: Option<String>,
    /// The app's privacy policy (an https address, shown to administrators).
    #[arg(long)]
    policy_uri: Option<String>,
    /// With `--scope urn:renkei:scope:admin`: the one school (its sourcedId) the app
    /// administers, as that school's administrators do; default: the whole board.
    #[arg(long)]
    admin_school: Option<String>,
}

#[derive(Subcommand)]
enum AssuranceCommand {
    /// Set what a role's sign-ins must use (e.g. teachers: a passkey, after a grace period in
    /// which a password sign-in is asked to enrol one); prints the rule as JSON.
    Set {
        /// teacher, administrator, guardian or student.
        #[arg(long)]
        role: String,
        /// passkey (a password alone does not count) or password (any method).
        #[arg(long)]
        require: String,
        /// The last day (YYYY-MM-DD, in Japan) on which a password still counts.
        #[arg(long)]
        grace_until: Option<String>,
    },
    /// Print every role's rule, one JSON object per line.
    Show,
}

#[derive(Subcommand)]
enum CardCommand {
    /// Issue a new sign-in card for every pupil of a class (their earlier cards stop working):
    /// JSON lines (student, username, name, kana, code, pin, url, expires_at, number) or a
    /// printable HTML sheet.
    Issue {
        /// The class (its sourcedId).
        #[arg(long)]
        class: String,
        /// The issuer URL the cards' QR codes lead to (as `renkei serve --issuer`).
        #[arg(long)]
        issuer: String,
        /// Give pupils from this school year on (1 = 小1 … 12 = 高3) a four-digit PIN.
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=12))]
        pin_from_grade: Option<u8>,
        /// `json` (one object per pupil) or `html` (an A4 sheet to print).
        #[arg(long, default_value = "json")]
        format: String,
    },
    /// Void a pupil's sign-in card (lost or handed on).
    Void {
        /// The pupil (their sourcedId).
        #[arg(long)]
        student: String,
    },
}

// Parsed once per run: the size of its largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum UpstreamCommand {
    /// Add an upstream provider (its client secret on standard input); prints it as one JSON
    /// object with the redirect URI to register at the upstream, and whether its discovery
    /// document answered.
    Add {
        /// Short name (lower-case letters, digits, `-`), in the sign-in addresses.
        #[arg(long)]
        name: String,
        /// `google` (Google Workspace) or `microsoft` (Microsoft Entra ID, with --tenant): fills
        /// the issuer, scopes, linking rule and button words not given.
        #[arg(long)]
        preset: Option<String>,
        /// The upstream's issuer URL (its discovery document is under it).
        #[arg(long)]
        issuer: Option<String>,
        /// Renkei's client id at the upstream.
        #[arg(long)]
        client_id: String,
        /// Read the client secret from standard input (required: never on the command line).
        #[arg(long)]
        client_secret_stdin: bool,
        /// A scope to ask for (repeatable; default `openid email profile`).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// An e-mail domain (Google's `hd`) accepted (repeatable; none: any).
        #[arg(long = "allowed-domain")]
        allowed_domains: Vec<String>,
        /// The Microsoft Entra tenant id every ID token's `tid` must carry.
        #[arg(long)]
        tenant: Option<String>,
        /// A school (sourcedId) it is for (repeatable; none: the whole board).
        #[arg(long = "school")]
        schools: Vec<String>,
        /// How an upstream account finds its roster person the first time: `email` (the
        /// roster e-mail, verified upstream), `subject` (only accounts linked beforehand) or
        /// `claim:NAME` (a claim holding the roster username).
        #[arg(long)]
        link_by: Option<String>,
        /// The sign-in button's words in Japanese.
        #[arg(long)]
        label_ja: Option<String>,
        /// The sign-in button's words in English.
        #[arg(long)]
        label_en: Option<String>,
        /// Its schools sign in only through it (no password form on their sign-in page).
        #[arg(long)]
        only: bool,
        /// Trust the upstream's `amr` `mfa` as a second factor (the board's passkey rule and
        /// class II+ data then accept it).
        #[arg(long)]
        trust_mfa: bool,
        /// Renkei's issuer (as `renkei serve --issuer`): the redirect URI starts with it.
        #[arg(long, env = "RENKEI_ISSUER", default_value = "http://localhost:8080")]
        renkei_issuer: String,
    },
    /// Print every upstream provider, one JSON object per line (never its secret).
    List {
        /// Renkei's issuer (as `renkei serve --issuer`), for the redirect URIs.
        #[arg(long, env = "RENKEI_ISSUER", default_value = "http://localhost:8080")]
        renkei_issuer: String,
    },
    /// Switch an upstream off: its button goes and its sign-ins are refused.
    Disable {
        /// The provider's name.
        #[arg(long)]
        name: String,
    },
    /// Switch an upstream on again.
    Enable {
        /// The provider's name.
        #[arg(long)]
        name: String,
    },
    /// Remove an upstream and every account link to it.
    Remove {
        /// The provider's name.
        #[arg(long)]
        name: String,
    },
    /// Link an upstream account (its `sub`) to a Renkei account ahead of its first sign-in.
    Link {
        /// The provider's name.
        #[arg(long)]
        name: String,
        /// The Renkei account's username.
        #[arg(long)]
        username: String,
        /// The upstream's `sub` for the person.
        #[arg(long)]
        subject: String,
    },
    /// Unlink a person's account at an upstream.
    Unlink {
        /// The provider's name.
        #[arg(long)]
        name: String,
        /// The Renkei account's username.
        #[arg(long)]
        username: String,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Make new signing keys active; old ones stay published until their tokens expire.
    Rotate,
}

/// Request handling allocates many small, short-lived values on several threads, and password
/// checks take 19 MiB at a time: mimalloc serves the first faster than the system allocator and
/// gives the second back instead of keeping it per thread.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Servers log what they do; a one-shot command speaks through its output and its one-line
    // error, so by default it logs only errors (a slow migration statement is no news to the
    // person who typed the command). RENKEI_LOG overrides both.
    let default_filter = match cli.command {
        Command::Serve { .. } | Command::Gateway { .. } => "info,sqlx=warn",
        _ => "error",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RENKEI_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// An opened database for one command: the parts' storage and the audit log its operations
/// write to.
struct Opened {
    database: renkei_platform::Database,
    audit: AuditLog,
}

impl Opened {
    /// Opens the database and applies pending migrations.
    async fn at(url: &str) -> Result<Self> {
        let database = open_database(url).await?;
        let audit = AuditLog::start(&database);
        Ok(Opened { database, audit })
    }

    /// The provider's storage.
    fn idp(&self) -> std::sync::Arc<dyn Store> {
        renkei_idp::store::open(&self.database)
    }

    /// The roster directory.
    fn directory(&self) -> std::sync::Arc<dyn renkei_directory::Directory> {
        renkei_directory::open(&self.database)
    }

    /// The consent service's storage.
    fn consent(&self) -> std::sync::Arc<dyn renkei_consent::store::ConsentStore> {
        renkei_consent::store::open(&self.database)
    }
}

/// Prints one JSON line.
fn print_json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string(value).expect("command output serialises")
    );
}

/// The end of a day given as YYYY-MM-DD, in Japan time (UTC+9), as Unix seconds.
fn end_of_day_in_japan(date: &str) -> Result<i64> {
    renkei_platform::clock::end_of_day_in_japan(date)
        .ok_or_else(|| Error::Invalid(format!("{date:?} is not a date; write it as YYYY-MM-DD")))
}

/// Who runs a command, as recorded with what it changes: `--by`, else the login name.
fn operator(by: Option<String>) -> String {
    by.or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "cli".into())
}

async fn policy_command(url: &str, command: PolicyCommand) -> Result<()> {
    use renkei_consent::policy::{self, Basis, PolicyInput, Reach};
    let opened = Opened::at(url).await?;
    let store = opened.consent();
    match command {
        PolicyCommand::Set(args) => {
            let PolicySet {
                client,
                category,
                basis,
                school,
                class,
                grade,
                purpose_ja,
                purpose_en,
                until,
                justification,
                by,
            } = *args;
            let reach = school
                .into_iter()
                .map(Reach::School)
                .chain(class.into_iter().map(Reach::Class))
                .chain(grade.into_iter().map(Reach::Grade))
                .collect();
            let input = PolicyInput {
                client_id: client,
                category_id: category,
                basis: Basis::parse(&basis)?,
                reach,
                purpose_ja,
                purpose_en,
                valid_until: until.as_deref().map(end_of_day_in_japan).transpose()?,
                justification,
                by: operator(by),
            };
            let stored = policy::set(
                store.as_ref(),
                opened.directory().as_ref(),
                &opened.audit,
                "renkei policy set",
                input,
                renkei_platform::clock::now(),
            )
            .await?;
            print_json(&stored);
        }
        PolicyCommand::List { client } => {
            for policy in store.policies(client.as_deref()).await? {
                print_json(&policy);
            }
        }
        PolicyCommand::AddCategory {
            id,
            name_ja,
            name_en,
            description_ja,
            description_en,
            sensitivity,
        } => {
            let category = renkei_consent::category::Category {
                id,
                name_ja,
                name_en,
                description_ja,
                description_en,
                sensitivity,
            };
            renkei_consent::category::add(
                store.as_ref(),
                &opened.audit,
                "renkei policy add-category",
                &category,
                renkei_platform::clock::now(),
            )
            .await?;
            print_json(&category);
        }
        PolicyCommand::Categories => {
            for category in store.categories().await? {
                print_json(&category);
            }
        }
    }
    Ok(())
}

async fn upstream_command(url: &str, command: UpstreamCommand) -> Result<()> {
    use renkei_idp::upstream;
    let opened = Opened::at(url).await?;
    let store = opened.idp();
    let audit = &opened.audit;
    match command {
        UpstreamCommand::Add {
            name,
            preset,
            issuer,
            client_id,
            client_secret_stdin,
            scopes,
            allowed_domains,
            tenant,
            schools,
            link_by,
            label_ja,
            label_en,
            only,
            trust_mfa,
            renkei_issuer,
        } => {
            if !client_secret_stdin {
                return Err(Error::Invalid(
                    "the client secret is read from standard input: add --client-secret-stdin and pipe it in (never on the command line, where others can see it)".into(),
                ));
            }
            let renkei_issuer = Config::new(&renkei_issuer)?.issuer;
            let new = upstream::NewUpstream {
                name,
                preset,
                issuer,
                client_id,
                client_secret: read_secret("the client secret")?,
                scopes,
                allowed_domains,
                tenant,
                schools,
                link_by,
                label_ja,
                label_en,
                only,
                trust_mfa,
            };
            let clients = upstream::client::Clients::new(std::time::Duration::from_secs(10));
            let added = upstream::add(
                store.as_ref(),
                opened.directory().as_ref(),
                audit,
                &clients,
                "renkei upstream add",
                &renkei_issuer,
                new,
            )
            .await?;
            if added.discovery != "ok" {
                eprintln!("{}", added.discovery);
            }
            print_json(&added);
        }
        UpstreamCommand::List { renkei_issuer } => {
            let renkei_issuer = Config::new(&renkei_issuer)?.issuer;
            for shown in upstream::list(store.as_ref(), &renkei_issuer).await? {
                print_json(&shown);
            }
        }
        UpstreamCommand::Disable { name } => {
            let via = "renkei upstream disable";
            upstream::set_enabled(store.as_ref(), audit, via, &name, false).await?;
            print_json(&serde_json::json!({"name": name, "enabled": false}));
        }
        UpstreamCommand::Enable { name } => {
            let via = "renkei upstream enable";
            upstream::set_enabled(store.as_ref(), audit, via, &name, true).await?;
            print_json(&serde_json::json!({"name": name, "enabled": true}));
        }
        UpstreamCommand::Remove { name } => {
            upstream::remove(store.as_ref(), audit, "renkei upstream remove", &name).await?;
            print_json(&serde_json::json!({"name": name, "removed": true}));
        }
        UpstreamCommand::Link {
            name,
            username,
            subject,
        } => {
            let link = upstream::link(
                store.as_ref(),
                audit,
                "renkei upstream link",
                &name,
                &username,
                &subject,
            )
            .await?;
            print_json(&link);
        }
        UpstreamCommand::Unlink { name, username } => {
            let unlinked = upstream::unlink(
                store.as_ref(),
                audit,
                "renkei upstream unlink",
                &name,
                &username,
            )
            .await?;
            print_json(
                &serde_json::json!({"name": name, "username": username, "unlinked": unlinked}),
            );
        }
    }
    Ok(())
}

async fn card_command(url: &str, command: CardCommand) -> Result<()> {
    let opened = Opened::at(url).await?;
    let store = opened.idp();
    match command {
        CardCommand::Issue {
            class,
            issuer,
            pin_from_grade,
            format,
        } => {
            if format != "json" && format != "html" {
                return Err(Error::Invalid(format!(
                    "--format {format:?}: use json or html"
                )));
            }
            let directory = opened.directory();
            let school = directory.class_school(&class).await?.ok_or_else(|| {
                Error::Invalid(format!(
                    "there is no class {class:?} in the roster; use a class's sourcedId (classes.csv)"
                ))
            })?;
            let class_ref = directory
                .classes_of_school(&school)
                .await?
                .into_iter()
                .find(|c| c.id == class)
                .ok_or_else(|| Error::Invalid(format!("there is no class {class:?}")))?;
            let issuer = Config::new(&issuer)?.issuer;
            let cards = renkei_idp::card::issue_for_class(
                store.as_ref(),
                directory.as_ref(),
                &opened.audit,
                "renkei card issue",
                &issuer,
                &class,
                pin_from_grade,
            )
            .await?;
            if format == "json" {
                for card in &cards {
                    print_json(card);
                }
            } else {
                let printed = cards
                    .into_iter()
                    .map(|card| renkei_admin::cards::printed(&class_ref, card))
                    .collect::<Result<Vec<_>, _>>()?;
                println!(
                    "{}",
                    renkei_admin::pages::cards::standalone(renkei_idp::pages::Locale::Ja, printed)
                );
            }
            Ok(())
        }
        CardCommand::Void { student } => {
            let person = opened
                .directory()
                .people(std::slice::from_ref(&student))
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| Error::Invalid(format!("there is no pupil {student:?}")))?;
            let voided = renkei_idp::card::void(
                store.as_ref(),
                &opened.audit,
                "renkei card void",
                &person.username,
            )
            .await?;
            print_json(&serde_json::json!({"student": student, "voided": voided}));
            Ok(())
        }
    }
}

async fn consent_command(url: &str, command: ConsentCommand) -> Result<()> {
    use renkei_consent::record::{self, Action, ConsentInput};
    let opened = Opened::at(url).await?;
    let store = opened.consent();
    let (action, args) = match command {
        ConsentCommand::Grant(args) => (Action::Grant, args),
        ConsentCommand::Withdraw(args) => (Action::Withdraw, args),
        ConsentCommand::List { student, client } => {
            for consent in store
                .consents(student.as_deref(), client.as_deref())
                .await?
            {
                print_json(&consent);
            }
            return Ok(());
        }
    };
    let actor = renkei_idp::user::by_username(opened.idp().as_ref(), &args.by).await?;
    let paper_from = match &args.paper_from {
        Some(username) => Some(
            renkei_idp::user::by_username(opened.idp().as_ref(), username)
                .await?
                .id,
        ),
        None => None,
    };
    let input = ConsentInput {
        student_id: args.student,
        client_id: args.client,
        category_id: args.category,
        action,
        until: args.until.as_deref().map(end_of_day_in_japan).transpose()?,
        paper_from,
    };
    let via = format!("renkei consent {}", action.as_str());
    let stored = record::record(
        store.as_ref(),
        opened.directory().as_ref(),
        &opened.audit,
        &via,
        &actor,
        input,
        renkei_platform::clock::now(),
    )
    .await?;
    print_json(&stored);
    Ok(())
}

/// Reads a JOSE algorithm name Renkei signs with.
fn parse_signing_alg(name: &str) -> Result<SigningAlg, String> {
    SigningAlg::parse(name).ok_or_else(|| {
        format!("{name:?} is not an algorithm Renkei signs with; use RS256, ES256 or EdDSA")
    })
}

async fn run(cli: Cli) -> Result<()> {
    let url = cli.database_url.as_str();
    match cli.command {
        Command::Serve {
            listen,
            issuer,
            demo,
            trusted_proxies,
            access_token_alg,
            upstream_timeout,
        } => {
            let mut config = Config::new(&issuer)?;
            config.upstream_timeout = std::time::Duration::from_secs(upstream_timeout);
            config.trusted_proxies = trusted_proxies;
            config.access_token_alg = access_token_alg;
            serve(url, &listen, config, demo).await
        }
        Command::Gateway {
            listen,
            public_url,
            trusted_proxies,
        } => {
            let listener = bind(&listen).await?;
            println!("Renkei gateway is serving {public_url} (listening on {listen})");
            renkei::serve_gateway(
                url,
                listener,
                &public_url,
                &trusted_proxies,
                shutdown_signal(),
            )
            .await?;
            println!("Renkei gateway stopped");
            Ok(())
        }
        Command::Migrate => {
            open_database(url).await?;
            println!(
                "migrations applied to {}",
                renkei_platform::database::redacted(url)
            );
            Ok(())
        }
        Command::User { command } => user_command(url, command).await,
        Command::Client {
            command: ClientCommand::Add(args),
        } => {
            let opened = Opened::at(url).await?;
            let jwks =
                match args.jwks_file {
                    Some(path) => Some(std::fs::read_to_string(&path).map_err(|e| {
                        Error::Invalid(format!("cannot read {}: {e}", path.display()))
                    })?),
                    None => None,
                };
            let registered = renkei_idp::client::register(
                opened.idp().as_ref(),
                opened.directory().as_ref(),
                &opened.audit,
                "renkei client add",
                NewClient {
                    name: args.name,
                    redirect_uris: args.redirect_uris,
                    post_logout_redirect_uris: args.post_logout_redirect_uris,
                    public: args.public,
                    grant_types: args.grant_types,
                    scopes: args.scopes,
                    id_token_alg: args.id_token_alg,
                    jwks,
                    may_introspect: args.may_introspect,
                    vendor: args.vendor,
                    policy_uri: args.policy_uri,
                    admin_school: args.admin_school,
                },
            )
            .await?;
            let mut out = serde_json::json!({"client_id": registered.client.id});
            if let Some(secret) = registered.secret {
                out["client_secret"] = secret.into();
            }
            println!("{out}");
            Ok(())
        }
        Command::Client {
            command: ClientCommand::Disable { client },
        } => {
            let opened = Opened::at(url).await?;
            let disabled = renkei_consent::app::disable(
                opened.idp().as_ref(),
                opened.consent().as_ref(),
                &opened.audit,
                "renkei client disable",
                &client,
            )
            .await?;
            print_json(&disabled);
            Ok(())
        }
        Command::Client {
            command: ClientCommand::RotateSecret { client },
        } => {
            let opened = Opened::at(url).await?;
            let secret = renkei_idp::client::rotate_secret(
                opened.idp().as_ref(),
                &opened.audit,
                "renkei client rotate-secret",
                &client,
            )
            .await?;
            println!(
                "{}",
                serde_json::json!({"client_id": client, "client_secret": secret})
            );
            Ok(())
        }
        Command::Client {
            command: ClientCommand::List,
        } => {
            let opened = Opened::at(url).await?;
            for client in opened.idp().clients().await? {
                println!(
                    "{}",
                    serde_json::json!({
                        "client_id": client.id,
                        "name": client.name,
                        "redirect_uris": client.redirect_uris.split_whitespace().collect::<Vec<_>>(),
                        "grant_types": client.grant_types.split_whitespace().collect::<Vec<_>>(),
                        "public": client.secret_hash.is_none() && client.jwks.is_none(),
                        "created_at": client.created_at,
                    })
                );
            }
            Ok(())
        }
        Command::Import { command } => import_command(url, command).await,
        Command::Policy { command } => policy_command(url, command).await,
        Command::Consent { command } => consent_command(url, command).await,
        Command::Card { command } => card_command(url, command).await,
        Command::Upstream { command } => upstream_command(url, command).await,
        Command::Audit { command } => audit_command(url, command).await,
        Command::Assurance { command } => {
            let opened = Opened::at(url).await?;
            match command {
                AssuranceCommand::Set {
                    role,
                    require,
                    grace_until,
                } => {
                    let rule = renkei_idp::assurance::set(
                        opened.idp().as_ref(),
                        &opened.audit,
                        "renkei assurance set",
                        &role,
                        renkei_idp::assurance::Requirement::parse(&require)?,
                        grace_until.as_deref(),
                    )
                    .await?;
                    print_json(&rule);
                }
                AssuranceCommand::Show => {
                    for rule in renkei_idp::assurance::show(opened.idp().as_ref()).await? {
                        print_json(&rule);
                    }
                }
            }
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Rotate,
        } => {
            let opened = Opened::at(url).await?;
            let config = Config::new("http://localhost")?;
            let rotated = renkei_admin::keys::rotate_all(
                opened.idp().as_ref(),
                opened.consent().as_ref(),
                &opened.audit,
                "renkei keys rotate",
                config.key_activation_delay,
                config.key_retention(),
            )
            .await?;
            print_json(&rotated);
            Ok(())
        }
    }
}

async fn user_command(url: &str, command: UserCommand) -> Result<()> {
    let opened = Opened::at(url).await?;
    let store = opened.idp();
    match command {
        UserCommand::Add(args) => {
            let password = read_password()?;
            let user = renkei_idp::user::create(
                store.as_ref(),
                &opened.audit,
                "renkei user add",
                NewUser {
                    username: args.username,
                    role: args.role,
                    given_name: args.given_name,
                    family_name: args.family_name,
                    given_name_kana: args.given_name_kana,
                    family_name_kana: args.family_name_kana,
                    email: args.email,
                    password: Some(password),
                    school_id: None,
                    grade: args.grade,
                },
            )
            .await?;
            println!(
                "{}",
                serde_json::json!({"id": user.id, "username": user.username, "role": user.role})
            );
        }
        UserCommand::SetPassword { username, .. } => {
            let password = read_password()?;
            let user = renkei_idp::user::set_password(
                store.as_ref(),
                &opened.audit,
                "renkei user set-password",
                &username,
                password,
            )
            .await?;
            println!(
                "{}",
                serde_json::json!({"id": user.id, "username": user.username, "password": "set"})
            );
        }
        UserCommand::Passkeys { username } => {
            let (_, passkeys) = renkei_idp::passkey::of_account(store.as_ref(), &username).await?;
            for passkey in passkeys {
                println!(
                    "{}",
                    serde_json::json!({
                        "credential_id": passkey.credential_id,
                        "name": passkey.name,
                        "created_at": passkey.created_at,
                        "last_used_at": passkey.last_used_at,
                    })
                );
            }
        }
        UserCommand::RemovePasskeys {
            username,
            credential_id,
        } => {
            let removed = renkei_idp::passkey::remove(
                store.as_ref(),
                &opened.audit,
                "renkei user remove-passkeys",
                &username,
                credential_id.as_deref(),
            )
            .await?;
            println!(
                "{}",
                serde_json::json!({
                    "username": removed.user.username,
                    "removed": removed.passkeys.len(),
                    "sessions_ended": removed.sessions_ended,
                    "recovery_codes_voided": removed.recovery_codes_voided,
                })
            );
        }
        UserCommand::Lock { username } => {
            let via = "renkei user lock";
            let ended =
                renkei_idp::user::lock(store.as_ref(), &opened.audit, via, &username, via).await?;
            println!(
                "{}",
                serde_json::json!({"username": username, "locked": true, "sessions_ended": ended})
            );
        }
        UserCommand::Unlock { username } => {
            let enabled = renkei_idp::user::unlock(
                store.as_ref(),
                &opened.audit,
                "renkei user unlock",
                &username,
            )
            .await?;
            println!(
                "{}",
                serde_json::json!({"username": username, "locked": false, "enabled": enabled})
            );
        }
        UserCommand::EnrolmentLink { username, issuer } => {
            let via = "renkei user enrolment-link";
            let issuer = Config::new(&issuer)?.issuer;
            let link = renkei_idp::enrolment::issue(
                store.as_ref(),
                &opened.audit,
                via,
                &issuer,
                &username,
                via,
            )
            .await?;
            print_json(&link);
        }
        UserCommand::SignOut { username } => {
            let ended = renkei_idp::user::sign_out_everywhere(
                store.as_ref(),
                &opened.audit,
                "renkei user sign-out",
                &username,
            )
            .await?;
            println!(
                "{}",
                serde_json::json!({"username": username, "sessions_ended": ended})
            );
        }
    }
    Ok(())
}

/// Runs an import; on SIGINT or SIGTERM it stops, removes the private copies of the files
/// (which can hold the roster's passwords) and says nothing was changed (the transaction is
/// never committed).
async fn import_command(url: &str, command: ImportCommand) -> Result<()> {
    tokio::select! {
        result = run_import(url, command) => result,
        () = shutdown_signal() => {
            renkei_directory::import::source::remove_temporary_folders();
            Err(Error::Invalid(
                "the import was interrupted; nothing was changed".into(),
            ))
        }
    }
}

async fn run_import(url: &str, command: ImportCommand) -> Result<()> {
    let opened = Opened::at(url).await?;
    match command {
        ImportCommand::Oneroster(args) => {
            let options = renkei_directory::ImportOptions {
                dry_run: args.flags.dry_run,
                encoding: args.flags.encodings()?,
                max_problems: args.flags.max_errors.max(1),
                actor: operator(args.by),
                limits: renkei_directory::import::Limits::default(),
                safeguard: renkei_directory::import::Safeguard {
                    threshold_percent: args.mass_change_threshold,
                    ..Default::default()
                },
                confirm_mass_change: args.confirm_mass_change,
            };
            let report = renkei::import_roster(
                &opened.database,
                &opened.audit,
                "renkei import oneroster",
                &args.path,
                &options,
            )
            .await?;
            args.flags.print(&report, || report.to_string());
            if report.outcome == "rejected" {
                return Err(Error::Invalid(format!(
                    "the import was rejected with {} problem(s); nothing was changed",
                    report.problem_count
                )));
            }
            if report.outcome == "held" {
                return Err(Error::Invalid(format!(
                    "the import was held: it disables or moves many accounts; nothing was changed (run it again with --confirm-mass-change {} to apply it)",
                    report.id
                )));
            }
        }
        ImportCommand::Affairs(args) => {
            use renkei_gateway::affairs::{self, import};
            let collection = affairs::collection(&args.collection).ok_or_else(|| {
                let names: Vec<&str> = affairs::COLLECTIONS.iter().map(|c| c.path).collect();
                Error::Invalid(format!(
                    "unknown collection {:?}; use one of: {}",
                    args.collection,
                    names.join(", ")
                ))
            })?;
            let options = import::Options {
                bulk: args.bulk,
                dry_run: args.flags.dry_run,
                encoding: args
                    .flags
                    .encodings()?
                    .for_file(&args.path.file_name().unwrap_or_default().to_string_lossy()),
                max_errors: args.flags.max_errors,
            };
            let report = import::import(
                renkei_gateway::store::open(&opened.database, opened.directory()).as_ref(),
                &opened.audit,
                "renkei import affairs",
                collection,
                &args.path,
                options,
            )
            .await
            .map_err(|problem| Error::Invalid(problem.to_string()))?;
            args.flags.print(&report, || report.to_string());
            if !report.problems.is_empty() {
                return Err(Error::Invalid(format!(
                    "the import was rejected with {} problem(s); nothing was changed",
                    report.problem_count
                )));
            }
        }
        ImportCommand::PurgeDeparted { retention_days } => {
            let purged = renkei_directory::purge_departed(
                opened.directory().as_ref(),
                &opened.audit,
                "renkei import purge-departed",
                retention_days,
            )
            .await?;
            print_json(&purged);
        }
    }
    Ok(())
}

fn read_password() -> Result<String> {
    read_secret("the password")
}

/// The first line of standard input: a secret (`what`) that never goes on the command line.
fn read_secret(what: &str) -> Result<String> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| Error::Invalid(format!("cannot read {what} from standard input: {e}")))?;
    let secret = input.lines().next().unwrap_or("").to_owned();
    if secret.is_empty() {
        return Err(Error::Invalid(format!(
            "no {} on standard input: pipe it in, e.g. `echo \"$SECRET\" | renkei …`",
            what.trim_start_matches("the ")
        )));
    }
    Ok(secret)
}

async fn bind(listen: &str) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Error::Invalid(format!("cannot listen on {listen}: {e}")))
}

async fn serve(database_url: &str, listen: &str, config: Config, demo: bool) -> Result<()> {
    let mut app = App::open(database_url, config).await?;
    let seeded = if demo {
        app.prepare_demo().await?
    } else {
        None
    };
    let listener = bind(listen).await?;
    let issuer = app.provider.config.issuer.clone();
    println!(
        "Renkei is serving {issuer} (listening on {listen}, database {})",
        renkei_platform::database::redacted(database_url)
    );
    println!("  discovery: {issuer}/.well-known/openid-configuration");
    println!("  sign in:   {issuer}/login");
    if app.provider.passkeys.is_none()
        && !renkei_idp::assurance::show(app.store().as_ref())
            .await?
            .is_empty()
    {
        println!(
            "  warning: the assurance policy (renkei assurance show) is not applied: passkeys need an issuer with a domain name, and {issuer} has none"
        );
    }
    if let Some(board) = seeded {
        println!(
            "\nDemo board seeded. Every demo account's password is: {}",
            renkei_demo::DEMO_PASSWORD
        );
        for (username, role, name) in &board.accounts {
            println!("  {username:<10} {role:<14} {name}");
        }
    } else if demo {
        println!("(--demo: the database already has accounts, so no demo data was added)");
    }
    if let Some(demo_app) = &app.demo_app {
        println!(
            "\nDemo learning app: {}\n  Sign in there as student1 or teacher1; then sign in to Renkei as guardian1 to see what it read and to agree or withdraw.",
            demo_app.url()
        );
    } else if demo {
        println!(
            "(--demo: this database has no demo learning app registered for {issuer}; start with a new database to get one)"
        );
    }
    app.serve(listener, shutdown_signal())
        .await
        .map_err(|e| Error::Invalid(format!("the server failed: {e}")))?;
    println!("Renkei stopped");
    Ok(())
}

async fn audit_command(url: &str, command: AuditCommand) -> Result<()> {
    let opened = Opened::at(url).await?;
    let store = opened.audit.store();
    match command {
        AuditCommand::Verify { checkpoints } => {
            let checkpoints = match checkpoints {
                Some(path) => read_checkpoints(&path)?,
                None => Vec::new(),
            };
            let checked = renkei_platform::audit::verify(store, &checkpoints).await?;
            if let Some(seq) = checked.broken_at {
                return Err(Error::Invalid(format!(
                    "the audit chain is broken at event {seq}: {} ({} events before it verify)",
                    checked.problem.unwrap_or_default(),
                    checked.events
                )));
            }
            println!(
                "{}",
                serde_json::json!({"verified": checked.events, "checkpoints": checkpoints.len()})
            );
        }
        AuditCommand::Checkpoint => {
            // Only an intact chain is worth anchoring.
            let checked = renkei_platform::audit::verify(store, &[]).await?;
            if let Some(seq) = checked.broken_at {
                return Err(Error::Invalid(format!(
                    "no checkpoint: the audit chain is broken at event {seq}: {}",
                    checked.problem.unwrap_or_default()
                )));
            }
            let newest = checked.newest.ok_or_else(|| {
                Error::Invalid(
                    "the audit chain is empty: there is nothing to keep a checkpoint of yet".into(),
                )
            })?;
            print_json(&newest);
        }
        AuditCommand::Export { since } => {
            let since = match since.as_deref() {
                None => 0,
                Some(text) => match text.parse::<i64>() {
                    Ok(seconds) => seconds,
                    Err(_) => end_of_day_in_japan(text)? - 86_400,
                },
            };
            renkei_platform::audit::export(store, since, |event| {
                print_json(&event);
                Ok::<_, Error>(())
            })
            .await?;
        }
    }
    Ok(())
}

/// Reads a file of checkpoints, one JSON object per line (blank lines skipped).
fn read_checkpoints(path: &std::path::Path) -> Result<Vec<renkei_platform::audit::Checkpoint>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Invalid(format!("cannot read {}: {e}", path.display())))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(number, line)| {
            serde_json::from_str(line).map_err(|e| {
                Error::Invalid(format!(
                    "{} line {}: not a checkpoint as `renkei audit checkpoint` prints it ({e})",
                    path.display(),
                    number + 1
                ))
            })
        })
        .collect()
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
