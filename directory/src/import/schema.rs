//! The OneRoster CSV files Renkei reads (1.1 and 1.2, with the Japan profiles' `metadata.jp.*`
//! columns), and how each column maps into the OneRoster 1.2 REST representation that the
//! directory keeps and the gateway serves.

/// OneRoster version of a file set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// OneRoster 1.1 (also the base of the Japan Profile used by learning e-portals).
    V1_1,
    /// OneRoster 1.2 (with the Japan K-12 profile).
    V1_2,
}

impl Version {
    /// Parses a manifest's `oneroster.version`: `1.1`, or `1.2` and its variants (`1.2.1`,
    /// `1.2_JP`).
    pub fn parse(value: &str) -> Option<Self> {
        if value == "1.1" || value.starts_with("1.1.") {
            Some(Version::V1_1)
        } else if value == "1.2" || value.starts_with("1.2.") || value.starts_with("1.2_") {
            Some(Version::V1_2)
        } else {
            None
        }
    }

    /// The manifest's `oneroster.version` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V1_1 => "1.1",
            Version::V1_2 => "1.2",
        }
    }
}

/// What kind of record a reference points to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// orgs.csv
    Org,
    /// academicSessions.csv
    AcademicSession,
    /// courses.csv
    Course,
    /// classes.csv
    Class,
    /// users.csv
    User,
    /// userProfiles.csv
    UserProfile,
    /// categories.csv
    Category,
    /// lineItems.csv
    LineItem,
    /// Resources and score scales are not imported; references to them are kept unchecked.
    Unchecked(&'static str),
}

impl Target {
    /// The `type` of a OneRoster GUIDRef to this target.
    pub fn type_name(self) -> &'static str {
        match self {
            Target::Org => "org",
            Target::AcademicSession => "academicSession",
            Target::Course => "course",
            Target::Class => "class",
            Target::User => "user",
            Target::UserProfile => "userProfile",
            Target::Category => "category",
            Target::LineItem => "lineItem",
            Target::Unchecked(name) => name,
        }
    }
}

/// How a column's text is checked and represented.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// Any text.
    Text,
    /// `YYYY-MM-DD`.
    Date,
    /// ISO 8601 date and time, e.g. `2026-04-01T09:00:00Z` (a date alone is accepted).
    DateTime,
    /// `true` or `false`.
    Bool,
    /// A decimal number.
    Number,
    /// One of the listed words.
    Enum(&'static [&'static str]),
    /// One of the listed words, or an extension written `ext:…` (OneRoster 1.2 extensible
    /// vocabularies).
    ExtEnum(&'static [&'static str]),
    /// Comma-separated words.
    List,
    /// Comma-separated grade codes.
    Grades,
    /// A sourcedId of a record of the target.
    Ref(Target),
    /// Comma-separated sourcedIds of records of the target.
    RefList(Target),
}

/// When a column must be present and filled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// In every version.
    Always,
    /// Only in OneRoster 1.1 files.
    V1_1,
    /// Only in OneRoster 1.2 files.
    V1_2,
    /// Never.
    Optional,
}

/// One column of a file.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    /// CSV header.
    pub header: &'static str,
    /// Field name in the REST representation.
    pub field: &'static str,
    /// Format.
    pub kind: Kind,
    /// Whether the column must be present with a value.
    pub need: Need,
}

const fn col(header: &'static str, field: &'static str, kind: Kind, need: Need) -> Column {
    Column {
        header,
        field,
        kind,
        need,
    }
}

/// The files of a OneRoster set, in the order they are applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileKind {
    /// orgs.csv
    Orgs,
    /// academicSessions.csv
    AcademicSessions,
    /// courses.csv
    Courses,
    /// classes.csv
    Classes,
    /// users.csv
    Users,
    /// userProfiles.csv (1.2)
    UserProfiles,
    /// roles.csv (1.2)
    Roles,
    /// enrollments.csv
    Enrollments,
    /// demographics.csv
    Demographics,
    /// categories.csv
    Categories,
    /// lineItems.csv
    LineItems,
    /// results.csv
    Results,
}

/// Organisation types (OneRoster 1.1 and 1.2).
pub const ORG_TYPES: &[&str] = &[
    "department",
    "school",
    "district",
    "local",
    "state",
    "national",
];
/// Academic session types.
pub const SESSION_TYPES: &[&str] = &["gradingPeriod", "semester", "schoolYear", "term"];
/// Class types.
pub const CLASS_TYPES: &[&str] = &["homeroom", "scheduled"];
/// User roles of OneRoster 1.1 and 1.2.
pub const USER_ROLES: &[&str] = &[
    "administrator",
    "aide",
    "guardian",
    "parent",
    "proctor",
    "relative",
    "student",
    "teacher",
    "districtAdministrator",
    "siteAdministrator",
    "systemAdministrator",
    "principal",
    "counselor",
    "creator",
    "externalProctor",
    "extStudent",
    "extTeacher",
    "extAdministrator",
    "extGuardian",
];
/// Enrollment roles.
pub const ENROLLMENT_ROLES: &[&str] = &[
    "administrator",
    "proctor",
    "student",
    "teacher",
    "aide",
    "guardian",
    "parent",
];
/// Role types of roles.csv.
pub const ROLE_TYPES: &[&str] = &["primary", "secondary"];
/// Score statuses of results.
pub const SCORE_STATUSES: &[&str] = &[
    "exempt",
    "fully graded",
    "not submitted",
    "partially graded",
    "submitted",
];
/// Record statuses (1.0's `inactive` is gone since 1.1).
pub const STATUSES: &[&str] = &["active", "tobedeleted"];
/// Demographics sex values.
pub const SEXES: &[&str] = &["male", "female", "unspecified", "other"];

/// Grade codes: the CEDS codes of OneRoster and the Japanese school grades of the Japan
/// profiles (P: 小学校, J: 中学校, H: 高等学校, E: 幼稚園).
pub const GRADES: &[&str] = &[
    "IT", "PR", "PK", "TK", "KG", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11",
    "12", "13", "PS", "UG", "Other", "P1", "P2", "P3", "P4", "P5", "P6", "J1", "J2", "J3", "H1",
    "H2", "H3", "H4", "E1", "E2", "E3",
];

use Kind::*;
use Need::*;

const HEAD: [Column; 3] = [
    col("sourcedId", "sourcedId", Text, Always),
    col("status", "status", Enum(STATUSES), Optional),
    col("dateLastModified", "dateLastModified", DateTime, Optional),
];

const ORGS: &[Column] = &[
    HEAD[0],
    HEAD[1],
    HEAD[2],
    col("name", "name", Text, Always),
    col("type", "type", ExtEnum(ORG_TYPES), Always),
    col("identifier", "identifier", Text, Optional),
    col("parentSourcedId", "parent", Ref(Target::Org), Optional),
];

const ACADEMIC_SESSIONS: &[Column] = &[
    HEAD[0],
    HEAD[1],
    HEAD[2],
    col("title", "title", Text, Always),
    col("type", "type", ExtEnum(SESSION_TYPES), Always),
    col("startDate", "startDate", Date, Always),
    col("endDate", "endDate", Date, Always),
    col(
        "parentSourcedId",
        "parent",
        Ref(Target::AcademicSession),
        Optional,
    ),
    col("schoolYear", "schoolYear", Text, Always),
];

const COURSES: &[Column] = &[
    HEAD[0],
    HEAD[1],
    HEAD[2],
    col(
        "schoolYearSourcedId",
        "schoolYear",
        Ref(Target::AcademicSession),
        Optional,
    ),
    col("title", "title", Text, Always),
    col("courseCode", "courseCode", Text, Optional),
    col("grades", "grades", Grades, Optional),
    col("orgSourcedId", "org", Ref(Target::Org), Always),
    col("subjects", "subjects", List, Optional),
    col("subjectCodes", "subjectCodes", List, Optional),
];

const CLASSES: &[Column] = &[
    HEAD[0],
    HEAD[1],
    HEAD[2],
    col("title", "title", Text, Always),
    col("grades", "grades", Grades, Optional),
    col("courseSourcedId", "course", Ref(Target::Course), Always),
    col("classCode", "classCode", Text, Optional),
    col("classType", "classType", ExtEnum(CLASS_TYPES), Always),
    col("location", "location", Text, Optional),
    col("schoolSourcedId", "school", Ref(Target::Org), Always),
    col(
        "termSourcedIds",
        "terms",
        RefList(Target::AcademicSession),
        Always,
    ),
    col("subjects", "subjects", List, Optional),
    col("subjectCodes", "subjectCodes", List, Optional),
    col("periods", "periods", List, Optional),
];

const USERS: &[Column] = &[
    HEAD[0],
    HEAD[1],
    HEAD[2],
    col("enabledUser", "enabledUser", Bool, Always),
    col("orgSourcedIds", "orgs", RefList(Target::Org), V1_1),
    col("role", "role", Enum(USER_ROLES), V1_1),
    col("username", "username", Text, Always),
    col("userIds", "userIds", List, Optional),
    col("givenName", "givenName", Text, Always),
    col("familyName", "familyName", Text, Always),
    col("middleName", "middleName", Text, Optional),
    col("identifier", "identifier", Text, Optional),
    col("email", "email", Text, Optional),
    col("sms", "sms", Text, Optional),
    col("phone", "phone", Text, Optional),
    col("agentSourcedIds", "agents", RefList(Target::User), Optional),
    col("grades", "grades", Grades, Optional),
    col("password", "password", Text, Optional),
    col(
        "userMasterIdentifier",
        "userMasterIdentifier",
        Text,
        Optional,
    ),
    col(
        "resourceSourcedIds",
        "resources",
        RefList(Target::Unchecked("resource")),
        Optional,
    ),
    col("preferredGivenName", "preferredFirstName", Text, Optional),
    col("preferredMiddleName", "preferredMiddleName", Text, Optional),
    col("preferredFamilyName", "preferredLastName", Text, Optional),
    col(
        "primaryOrgSourcedId",
        "primaryOrg",
        Ref(Target::Org),
        Optional,
    ),
    col("pronouns", "pronouns", Text, Optional),
];

const USER_PROFILES: &[Column] = &[
    HEAD[0],
    HEAD[1],
    HEAD[2],
    col("userSourcedId", "user", Ref(Target::User), Always),
    col("profileType", "profileType", Text, Always),
    col("vendorId", "vendorId", Text, Always),
    col("applicationId", "applicationId", Text, Optional),
    col("description", "description", Text, Optional),
    col("credentialType", "credentialType", Text, Always),
    col("username", "username", Text, Always),
    col("password", "password", Text, Optional),
];

const ROLES: &[Column] = &[
    HEAD[0],
    HEAD[1],
    HEAD[2],
    col("userSourcedId", "user", Ref(Target::User), Always),
    col("roleType", "roleType", Enum(ROLE_TYPES), Always),
    col("role", "role", ExtEnum(USER_ROLES), Always),
    col("beginDate", "beginDate", Date, Optional),
    col("endDate", "endDate", Date, Optional),
    col("orgSourcedId", "org", Ref(Target::Org), Always),
    col(
        "userProfileSourcedId",
        "userProfile",
        Ref(Target::UserProfile),
        Optional,
    ),
];

const ENROLLMENTS: &[Column] = &[
    HEAD[0],
    HEAD[1],
    HEAD[2],
    col("classSourcedId", "class", Ref(Target::Class), Always),
    col("schoolSourcedId", "school", Ref(Target::Org), Always),
    col("userSourcedId", "user", Ref(Target::User), Always),
    col("role", "role", ExtEnum(ENROLLMENT_ROLES), Always),
    col("primary", "primary", Bool, Optional),
    col("beginDate", "beginDate", Date, Optional),
    col("endDate", "endDate", Date, Optional),
];

const DEMOGRAPHICS: &[Column] = &[
    HEAD[0],
    HEAD[1],
    HEAD[2],
    col("birthDate", "birthDate", Date, Optional),
    col("sex", "sex", ExtEnum(SEXES), Optional),
    col(
        "americanIndianOrAlaskaNative",
        "americanIndianOrAlaskaNative",
        Bool,
        Optional,
    ),
    col("asian", "asian", Bool, Optional),
    col(
        "blackOrAfricanAmerican",
        "blackOrAfricanAmerican",
        Bool,
        Optional,
    ),
    col(
        "nativeHawaiianOrOtherPacificIslander",
        "nativeHawaiianOrOtherPacificIslander",
        Bool,
        Optional,
    ),
    col("white", "white", Bool, Optional),
    col(
        "demographicRaceTwoOrMoreRaces",
        "demographicRaceTwoOrMoreRaces",
        Bool,
        Optional,
    ),
    col(
        "hispanicOrLatinoEthnicity",
        "hispanicOrLatinoEthnicity",
        Bool,
        Optional,
    ),
    col("countryOfBirthCode", "countryOfBirthCode", Text, Optional),
    col(
        "stateOfBirthAbbreviation",
        "stateOfBirthAbbreviation",
        Text,
        Optional,
    ),
    col("cityOfBirth", "cityOfBirth", Text, Optional),
    col(
        "publicSchoolResidenceStatus",
        "publicSchoolResidenceStatus",
        Text,
        Optional,
    ),
];

const CATEGORIES: &[Column] = &[
    HEAD[0],
    HEAD[1],
    HEAD[2],
    col("title", "title", Text, Always),
    col("weight", "weight", Number, Optional),
];

const LINE_ITEMS: &[Column] = &[
    HEAD[0],
    HEAD[1],
    HEAD[2],
    col("title", "title", Text, Always),
    col("description", "description", Text, Optional),
    col("assignDate", "assignDate", DateTime, Always),
    col("dueDate", "dueDate", DateTime, Always),
    col("classSourcedId", "class", Ref(Target::Class), Always),
    col(
        "categorySourcedId",
        "category",
        Ref(Target::Category),
        Always,
    ),
    col(
        "gradingPeriodSourcedId",
        "academicSession",
        Ref(Target::AcademicSession),
        V1_1,
    ),
    col(
        "academicSessionSourcedId",
        "academicSession",
        Ref(Target::AcademicSession),
        V1_2,
    ),
    col("resultValueMin", "resultValueMin", Number, V1_1),
    col("resultValueMax", "resultValueMax", Number, V1_1),
    col("schoolSourcedId", "school", Ref(Target::Org), V1_2),
    col(
        "scoreScaleSourcedId",
        "scoreScale",
        Ref(Target::Unchecked("scoreScale")),
        Optional,
    ),
];

const RESULTS: &[Column] = &[
    HEAD[0],
    HEAD[1],
    HEAD[2],
    col(
        "lineItemSourcedId",
        "lineItem",
        Ref(Target::LineItem),
        Always,
    ),
    col("studentSourcedId", "student", Ref(Target::User), Always),
    col(
        "scoreStatus",
        "scoreStatus",
        ExtEnum(SCORE_STATUSES),
        Always,
    ),
    col("score", "score", Number, V1_1),
    col("scoreDate", "scoreDate", Date, Always),
    col("comment", "comment", Text, Optional),
    col("textScore", "textScore", Text, Optional),
    col("classSourcedId", "class", Ref(Target::Class), Optional),
    col("inProgress", "inProgress", Bool, Optional),
    col("incomplete", "incomplete", Bool, Optional),
    col("late", "late", Bool, Optional),
    col("missing", "missing", Bool, Optional),
];

/// `metadata.*` keys of the Japan profiles, in their canonical spelling; headers are matched
/// without regard to case (both `metadata.jp.ShussekiNo` and `metadata.jp.shussekiNo` occur).
pub const JAPAN_METADATA: &[(&str, Kind)] = &[
    ("jp.kanaGivenName", Text),
    ("jp.kanaFamilyName", Text),
    ("jp.kanaMiddleName", Text),
    ("jp.kanaPreferredGivenName", Text),
    ("jp.kanaPreferredFamilyName", Text),
    ("jp.kanaPreferredMiddleName", Text),
    ("jp.homeClass", Ref(Target::Class)),
    ("jp.shussekiNo", Number),
    ("jp.publicFlg", Bool),
    ("jp.specialNeeds", Bool),
];

impl FileKind {
    /// Every file kind, in the order they are applied (referenced records first).
    pub const ALL: [FileKind; 12] = [
        FileKind::Orgs,
        FileKind::AcademicSessions,
        FileKind::Courses,
        FileKind::Classes,
        FileKind::Users,
        FileKind::UserProfiles,
        FileKind::Roles,
        FileKind::Enrollments,
        FileKind::Demographics,
        FileKind::Categories,
        FileKind::LineItems,
        FileKind::Results,
    ];

    /// The file name (as in the manifest's `file.<name>` properties, plus `.csv`).
    pub fn base_name(self) -> &'static str {
        match self {
            FileKind::Orgs => "orgs",
            FileKind::AcademicSessions => "academicSessions",
            FileKind::Courses => "courses",
            FileKind::Classes => "classes",
            FileKind::Users => "users",
            FileKind::UserProfiles => "userProfiles",
            FileKind::Roles => "roles",
            FileKind::Enrollments => "enrollments",
            FileKind::Demographics => "demographics",
            FileKind::Categories => "categories",
            FileKind::LineItems => "lineItems",
            FileKind::Results => "results",
        }
    }

    /// The file's columns.
    pub fn columns(self) -> &'static [Column] {
        match self {
            FileKind::Orgs => ORGS,
            FileKind::AcademicSessions => ACADEMIC_SESSIONS,
            FileKind::Courses => COURSES,
            FileKind::Classes => CLASSES,
            FileKind::Users => USERS,
            FileKind::UserProfiles => USER_PROFILES,
            FileKind::Roles => ROLES,
            FileKind::Enrollments => ENROLLMENTS,
            FileKind::Demographics => DEMOGRAPHICS,
            FileKind::Categories => CATEGORIES,
            FileKind::LineItems => LINE_ITEMS,
            FileKind::Results => RESULTS,
        }
    }

    /// The kind of record its rows are, when other files refer to them.
    pub fn target(self) -> Option<Target> {
        match self {
            FileKind::Orgs => Some(Target::Org),
            FileKind::AcademicSessions => Some(Target::AcademicSession),
            FileKind::Courses => Some(Target::Course),
            FileKind::Classes => Some(Target::Class),
            FileKind::Users => Some(Target::User),
            FileKind::UserProfiles => Some(Target::UserProfile),
            FileKind::Categories => Some(Target::Category),
            FileKind::LineItems => Some(Target::LineItem),
            FileKind::Roles
            | FileKind::Enrollments
            | FileKind::Demographics
            | FileKind::Results => None,
        }
    }

    /// The file kind whose rows a target's references point to.
    pub fn of_target(target: Target) -> Option<FileKind> {
        FileKind::ALL
            .into_iter()
            .find(|kind| kind.target() == Some(target))
    }

    /// Whether this file exists in `version`.
    pub fn in_version(self, version: Version) -> bool {
        !matches!(
            (self, version),
            (FileKind::Roles | FileKind::UserProfiles, Version::V1_1)
        )
    }
}

impl Column {
    /// Whether the column must be present and filled in `version`.
    pub fn required_in(&self, version: Version) -> bool {
        match self.need {
            Need::Always => true,
            Need::V1_1 => version == Version::V1_1,
            Need::V1_2 => version == Version::V1_2,
            Need::Optional => false,
        }
    }
}
