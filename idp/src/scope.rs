//! Scopes: the ones Renkei understands and how requested scopes are parsed (RFC 6749 §3.3).

/// The scope of the JSON admin API (`/admin/api/`): an administrator's token, or an app's
/// own (client credentials) for a board's automation. Never given to a client by default.
pub const ADMIN_SCOPE: &str = "urn:renkei:scope:admin";

/// Scopes Renkei supports.
pub const SUPPORTED_SCOPES: [&str; 6] = [
    "openid",
    "profile",
    "email",
    "school",
    CLASSES_SCOPE,
    ADMIN_SCOPE,
];

/// A pupil's classes (id, title, school): never a default, as a class's title can say it is a
/// special-support class (特別支援学級); the board registers it for the apps that need it.
pub const CLASSES_SCOPE: &str = "classes";

/// The scopes a client registered without a list may ask for: sign-in's, not the admin API's.
pub const DEFAULT_SCOPES: [&str; 4] = ["openid", "profile", "email", "school"];

/// Whether `s` is a syntactically valid scope token (`1*NQCHAR`).
pub fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// Splits a `scope` parameter into distinct tokens, keeping their order.
pub fn parse(scope: &str) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    for token in scope.split(' ').filter(|t| !t.is_empty()) {
        if !scopes.iter().any(|s| s == token) {
            scopes.push(token.to_owned());
        }
    }
    scopes
}

/// Whether every scope of `wanted` is in the space-separated `granted`.
pub fn covers(granted: &str, wanted: &[String]) -> bool {
    wanted.iter().all(|w| granted.split(' ').any(|g| g == w))
}

/// Whether the space-separated `scope` contains `name`.
pub fn contains(scope: &str, name: &str) -> bool {
    scope.split(' ').any(|s| s == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_covers() {
        assert_eq!(parse("openid  profile openid"), vec!["openid", "profile"]);
        assert!(covers("openid profile school", &parse("school openid")));
        assert!(!covers("openid", &parse("openid email")));
        assert!(is_scope_token("urn:renkei:scope:attendance.readonly"));
        assert!(!is_scope_token("bad\"scope"));
    }
}
