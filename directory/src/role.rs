//! The roles of Renkei's accounts, typed: what every part compares instead of strings. The
//! roster's OneRoster roles map onto them at import (`parent`, `guardian`, `relative` →
//! guardian; `administrator`, `principal`, … → administrator).

use std::fmt;

/// What a person is to the board, as their account says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// A pupil (児童・生徒).
    Student,
    /// A teacher.
    Teacher,
    /// A guardian (保護者).
    Guardian,
    /// A school's or the board's administrator.
    Administrator,
}

impl Role {
    /// Every role, in the order they are listed to people.
    pub const ALL: [Role; 4] = [
        Role::Student,
        Role::Teacher,
        Role::Guardian,
        Role::Administrator,
    ];

    /// The role named by its stored form; `None` for anything else.
    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == text)
    }

    /// The role of an optional stored form (a record's `kind`, an account's role).
    pub fn of(text: Option<&str>) -> Option<Role> {
        text.and_then(Role::parse)
    }

    /// Its stored form (`student`, `teacher`, `guardian`, `administrator`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Student => "student",
            Role::Teacher => "teacher",
            Role::Guardian => "guardian",
            Role::Administrator => "administrator",
        }
    }

    /// Every role's stored form, comma-separated (for messages that say what is accepted).
    pub fn names() -> String {
        Role::ALL.map(Role::as_str).join(", ")
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Role;

    #[test]
    fn roles_read_back_their_stored_form_and_nothing_else() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("parent"), None);
        assert_eq!(Role::parse("Student"), None);
        assert_eq!(Role::of(None), None);
        assert_eq!(Role::names(), "student, teacher, guardian, administrator");
    }
}
