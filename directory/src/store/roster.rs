//! The roster tables and the transaction an import writes them in.
//!
//! Every roster table has the same shape — `sourced_id`, `status`, `date_last_modified`, a few
//! columns to join and filter on, and `data` (the record's OneRoster JSON) — so one generic
//! upsert serves them all; accounts (`users`) have their own.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;

use renkei_platform::StoreResult;

/// A roster table: its name, key column and the columns between `date_last_modified` and
/// `data`.
#[derive(Debug)]
pub struct Table {
    /// Table name.
    pub name: &'static str,
    /// Key column (`sourced_id`, or `id` for `orgs`).
    pub key: &'static str,
    /// Join/filter columns, in the order of [`DirectoryRow::extra`].
    pub extra: &'static [&'static str],
}

/// The roster tables.
pub mod tables {
    use super::Table;

    /// Organisations (board, schools).
    pub const ORGS: Table = Table {
        name: "orgs",
        key: "id",
        extra: &["name", "org_type", "parent_id"],
    };
    /// Academic sessions (school years, terms).
    pub const ACADEMIC_SESSIONS: Table = Table {
        name: "academic_sessions",
        key: "sourced_id",
        extra: &["session_type", "parent_id", "school_year"],
    };
    /// Courses.
    pub const COURSES: Table = Table {
        name: "courses",
        key: "sourced_id",
        extra: &["org_id", "school_year_id"],
    };
    /// Classes (homerooms and scheduled classes).
    pub const CLASSES: Table = Table {
        name: "classes",
        key: "sourced_id",
        extra: &["school_id", "course_id", "class_type", "title"],
    };
    /// Enrollments of users in classes.
    pub const ENROLLMENTS: Table = Table {
        name: "enrollments",
        key: "sourced_id",
        extra: &["class_id", "school_id", "user_id", "role"],
    };
    /// Roles of users in organisations.
    pub const ROLES: Table = Table {
        name: "roles",
        key: "sourced_id",
        extra: &["user_id", "org_id", "role_type", "role"],
    };
    /// User profiles (1.2).
    pub const USER_PROFILES: Table = Table {
        name: "user_profiles",
        key: "sourced_id",
        extra: &["user_id"],
    };
    /// Demographics (sensitive).
    pub const DEMOGRAPHICS: Table = Table {
        name: "demographics",
        key: "sourced_id",
        extra: &[],
    };
    /// Gradebook categories.
    pub const CATEGORIES: Table = Table {
        name: "categories",
        key: "sourced_id",
        extra: &[],
    };
    /// Gradebook line items.
    pub const LINE_ITEMS: Table = Table {
        name: "line_items",
        key: "sourced_id",
        extra: &["class_id", "category_id"],
    };
    /// Gradebook results (sensitive).
    pub const RESULTS: Table = Table {
        name: "results",
        key: "sourced_id",
        extra: &["line_item_id", "student_id"],
    };
    /// Accounts that come from the roster (only for id look-ups; writes use the account upsert).
    pub const USERS: Table = Table {
        name: "users",
        key: "sourced_id",
        extra: &[],
    };
    /// Guardian ↔ child links (only for look-ups; writes use [`super::ImportTx::replace_agents`]).
    pub const USER_AGENTS: Table = Table {
        name: "user_agents",
        key: "user_id",
        extra: &[],
    };
}

/// One roster record to store.
#[derive(Clone, Debug)]
pub struct DirectoryRow {
    /// OneRoster sourcedId.
    pub sourced_id: String,
    /// `active` (or `tobedeleted` / `inactive` as the file says).
    pub status: String,
    /// As in the file.
    pub date_last_modified: Option<String>,
    /// Values of the table's extra columns.
    pub extra: Vec<Option<String>>,
    /// The OneRoster JSON of the record.
    pub data: String,
}

/// A person from the roster, as an account.
#[derive(Clone, Debug)]
pub struct AccountRow {
    /// New account id (`sub`), used only if the sourcedId is new.
    pub id: String,
    /// OneRoster sourcedId.
    pub sourced_id: String,
    /// Sign-in name.
    pub username: String,
    /// Renkei role.
    pub role: String,
    /// 名.
    pub given_name: Option<String>,
    /// 姓.
    pub family_name: Option<String>,
    /// Kana of 名.
    pub given_name_kana: Option<String>,
    /// Kana of 姓.
    pub family_name_kana: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Argon2id hash of a new password from the roster's password column; `None` keeps the
    /// current password (also when the roster repeats a password the person has changed since).
    pub password_hash: Option<String>,
    /// Primary school.
    pub school_id: Option<String>,
    /// First grade code.
    pub grade: Option<String>,
    /// Whether the person may sign in.
    pub enabled: bool,
    /// Record status.
    pub status: String,
    /// As in the file.
    pub date_last_modified: Option<String>,
    /// The OneRoster JSON of the user.
    pub data: String,
}

/// Where a roster account is, as far as the mass-change safeguard looks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountPlace {
    /// Primary school.
    pub school_id: Option<String>,
    /// Renkei role.
    pub role: String,
    /// Whether the person may sign in.
    pub enabled: bool,
}

/// What an upsert did.
#[derive(Clone, Copy, Debug, Default)]
pub struct Upserted {
    /// Rows that did not exist.
    pub created: u64,
    /// Rows that existed and changed.
    pub updated: u64,
}

/// The transaction an import runs in; dropped without [`ImportTx::commit`] it rolls back.
#[async_trait]
pub trait ImportTx: Send {
    /// Which of `ids` exist in `table`.
    async fn existing(&mut self, table: &Table, ids: &[String]) -> StoreResult<HashSet<String>>;
    /// Which of `ids` exist in `table` and are not `tobedeleted` (for reference checks).
    async fn existing_active(
        &mut self,
        table: &Table,
        ids: &[String],
    ) -> StoreResult<HashSet<String>>;
    /// Whether `table` holds any row with a key (for `users`: any roster account). An import
    /// into a table that holds none knows every row it writes is new, and skips the look-ups
    /// that tell created from updated.
    async fn holds_records(&mut self, table: &Table) -> StoreResult<bool>;
    /// Inserts or updates rows; rows whose status, date and data are unchanged are not touched.
    /// `all_new`: the caller knows none of the rows exists (see [`Self::holds_records`]).
    async fn upsert(
        &mut self,
        table: &Table,
        rows: &[DirectoryRow],
        all_new: bool,
    ) -> StoreResult<Upserted>;
    /// Every key in `table` whose record is not already `tobedeleted`, in order (for the sweep
    /// after a bulk file).
    async fn all_ids(&mut self, table: &Table) -> StoreResult<Vec<String>>;
    /// Marks records `tobedeleted` (OneRoster's logical delete) as of `when`; returns how many
    /// were not already.
    async fn mark_deleted(&mut self, table: &Table, ids: &[String], when: &str)
    -> StoreResult<u64>;
    /// The stored primary role and organisation of roster users, by sourcedId.
    async fn primary_roles(
        &mut self,
        user_ids: &[String],
    ) -> StoreResult<HashMap<String, (String, String)>>;
    /// Hashes of the passwords the roster last supplied, by sourcedId.
    async fn password_hashes(
        &mut self,
        sourced_ids: &[String],
    ) -> StoreResult<HashMap<String, Option<String>>>;
    /// Usernames of the accounts made outside the roster (administrators' own accounts):
    /// folded with [`fold_username`] → as stored.
    async fn usernames_outside_roster(&mut self) -> StoreResult<HashMap<String, String>>;
    /// Accounts holding any of `usernames` without regard to case: folded username → every
    /// (username as stored, sourcedId; `None` for accounts made outside the roster) holding it
    /// (a database from before usernames were folded may hold several).
    async fn username_owners(
        &mut self,
        usernames: &[String],
    ) -> StoreResult<HashMap<String, Vec<(String, Option<String>)>>>;
    /// Where the given roster accounts are now, by sourcedId (for the mass-change safeguard,
    /// read before they are changed).
    async fn account_places(
        &mut self,
        sourced_ids: &[String],
    ) -> StoreResult<HashMap<String, AccountPlace>>;
    /// How many roster accounts may sign in, per school (`None`: no school).
    async fn enabled_accounts_by_school(&mut self) -> StoreResult<HashMap<Option<String>, u64>>;
    /// Records of `table` not `tobedeleted` whose `column` (one of the table's own columns,
    /// a constant: it is written into the statement) holds one of `ids`: how many, and the
    /// first `examples` of them as (key, the id it refers to).
    async fn active_referring(
        &mut self,
        table: &Table,
        column: &'static str,
        ids: &[String],
        examples: usize,
    ) -> StoreResult<(u64, Vec<(String, String)>)>;
    /// Inserts or updates roster accounts (an existing account keeps its id and sign-in
    /// methods); disabled accounts lose their sessions and grants. `all_new` as for
    /// [`Self::upsert`].
    async fn upsert_accounts(
        &mut self,
        rows: &[AccountRow],
        now: i64,
        all_new: bool,
    ) -> StoreResult<Upserted>;
    /// Marks roster accounts as left the board (`tobedeleted`, disabled, kept until the
    /// retention period ends); their sessions end and their grants are revoked.
    async fn remove_accounts(&mut self, sourced_ids: &[String], now: i64) -> StoreResult<u64>;
    /// Replaces the agents (guardians ↔ children) of the given users; `all_new`: none of them
    /// has any yet.
    async fn replace_agents(
        &mut self,
        user_ids: &[String],
        pairs: &[(String, String)],
        all_new: bool,
    ) -> StoreResult<()>;
    /// Records the import.
    async fn record_import(&mut self, record: &ImportRecord) -> StoreResult<()>;
    /// An earlier import's record (to confirm a held import).
    async fn import_record(&mut self, id: &str) -> StoreResult<Option<ImportRecord>>;
    /// Makes everything permanent.
    async fn commit(self: Box<Self>) -> StoreResult<()>;
}

/// A username as compared for uniqueness and counted by sign-in's limits: without regard to
/// ASCII case (`USER02` and `user02` are one name). Only ASCII is folded, as both databases'
/// `lower()` can match it (SQLite's folds nothing else); usernames are ASCII in practice.
pub fn fold_username(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// The record kept of every import.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ImportRecord {
    /// Identifier.
    pub id: String,
    /// Start time.
    pub started_at: i64,
    /// End time.
    pub finished_at: i64,
    /// Who ran it.
    pub actor: String,
    /// Path of the files.
    pub source: String,
    /// `applied`, `dry-run` or `rejected`.
    pub outcome: String,
    /// JSON: version, per-file mode, checksum and counts, problems.
    pub summary: String,
}

/// How a database spells the parameters of the statements an import generates. SQLite looks up
/// numbered parameters by name, once per parameter and in time proportional to their number, so
/// a batch of thousands of `$n` parameters costs quadratic time there; positional `?` does not.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Params {
    /// `$1, $2, …` (PostgreSQL).
    Numbered,
    /// `?, ?, …`, bound in order of appearance (SQLite).
    Positional,
}

impl Params {
    /// The `i`-th parameter (1-based).
    pub(crate) fn one(self, i: usize) -> String {
        match self {
            Params::Numbered => format!("${i}"),
            Params::Positional => "?".to_owned(),
        }
    }

    /// `n` parameters separated by commas, the first being the `first`-th.
    pub(crate) fn list(self, first: usize, n: usize) -> String {
        (first..first + n)
            .map(|i| self.one(i))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `(…), (…)` for `rows` rows of `width` parameters, numbered from 1.
    pub(crate) fn rows(self, rows: usize, width: usize) -> String {
        (0..rows)
            .map(|row| format!("({})", self.list(row * width + 1, width)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The upsert statement for `rows` rows of `table`.
pub(crate) fn upsert_sql(params: Params, table: &Table, rows: usize) -> String {
    let mut columns = vec![table.key, "status", "date_last_modified"];
    columns.extend_from_slice(table.extra);
    columns.push("data");
    let updates: Vec<String> = columns[1..]
        .iter()
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO {t} ({cols}) VALUES {values} ON CONFLICT ({key}) DO UPDATE SET {updates} \
         WHERE {t}.data IS DISTINCT FROM excluded.data OR {t}.status IS DISTINCT FROM excluded.status",
        t = table.name,
        cols = columns.join(", "),
        values = params.rows(rows, columns.len()),
        key = table.key,
        updates = updates.join(", "),
    )
}

/// Columns of the account upsert, in bind order.
pub(crate) const ACCOUNT_COLUMNS: [&str; 20] = [
    "id",
    "sourced_id",
    "username",
    "role",
    "given_name",
    "family_name",
    "given_name_kana",
    "family_name_kana",
    "email",
    "password_hash",
    "roster_password_hash",
    "school_id",
    "grade",
    "enabled",
    "status",
    "date_last_modified",
    "data",
    "created_at",
    "updated_at",
    "disabled_at",
];

/// The account upsert for `rows` rows.
pub(crate) fn account_upsert_sql(params: Params, rows: usize) -> String {
    format!(
        "INSERT INTO users ({cols}) VALUES {values} ON CONFLICT (sourced_id) DO UPDATE SET \
         username = excluded.username, role = COALESCE(NULLIF(excluded.role, ''), users.role), given_name = excluded.given_name, \
         family_name = excluded.family_name, given_name_kana = excluded.given_name_kana, \
         family_name_kana = excluded.family_name_kana, email = excluded.email, \
         password_hash = COALESCE(excluded.password_hash, users.password_hash), \
         roster_password_hash = COALESCE(excluded.roster_password_hash, users.roster_password_hash), \
         school_id = excluded.school_id, \
         grade = excluded.grade, enabled = excluded.enabled AND users.locked_at IS NULL, status = excluded.status, \
         date_last_modified = excluded.date_last_modified, data = excluded.data, updated_at = excluded.updated_at, \
         disabled_at = CASE WHEN excluded.enabled THEN NULL ELSE COALESCE(users.disabled_at, excluded.updated_at) END \
         WHERE users.data IS DISTINCT FROM excluded.data OR users.enabled IS DISTINCT FROM (excluded.enabled AND users.locked_at IS NULL) \
         OR users.status IS DISTINCT FROM excluded.status OR users.username IS DISTINCT FROM excluded.username \
         OR users.role IS DISTINCT FROM COALESCE(NULLIF(excluded.role, ''), users.role) \
         OR users.school_id IS DISTINCT FROM excluded.school_id \
         OR (excluded.password_hash IS NOT NULL AND users.password_hash IS DISTINCT FROM excluded.password_hash)",
        cols = ACCOUNT_COLUMNS.join(", "),
        values = params.rows(rows, ACCOUNT_COLUMNS.len()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_spelled_per_database() {
        assert_eq!(Params::Numbered.rows(2, 2), "($1, $2), ($3, $4)");
        assert_eq!(Params::Positional.rows(2, 2), "(?, ?), (?, ?)");
        assert_eq!(Params::Numbered.list(3, 2), "$3, $4");
        assert!(upsert_sql(Params::Numbered, &tables::COURSES, 1).starts_with(
            "INSERT INTO courses (sourced_id, status, date_last_modified, org_id, school_year_id, data) VALUES ($1, $2, $3, $4, $5, $6)"
        ));
    }
}
