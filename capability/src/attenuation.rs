//! What an app may append to a capability token before handing it on: checks that narrow it to
//! one child, one category or an earlier expiry (policies/README.md, "Attenuation by apps"),
//! and nothing else. Every appended block is read back as Datalog source and refused, before any
//! evaluation, unless each of its statements is one of those checks: a fact, a rule or any other
//! expression could make evaluation cost grow without bound (a rule joining appended facts
//! with themselves costs the cube of their number in one pass, which no time limit interrupts).
//!
//! The accepted checks are then read into a [`Narrowing`], which the verifier applies to each
//! read directly: no appended Datalog is ever evaluated, so no token, however crafted, makes a
//! read cost more than the token's own size.

use std::str::FromStr;

use biscuit_auth::Biscuit;
use biscuit_auth::builder::{Check, Op, Term};

use crate::error::{Error, Result};

/// Appended blocks a token may carry at most.
pub const MAX_APPENDED_BLOCKS: usize = 8;

/// Checks one appended block may hold at most.
pub const MAX_CHECKS_PER_BLOCK: usize = 16;

/// Longest child sourcedId or category a check may name, in bytes.
pub const MAX_NAME_BYTES: usize = 256;

/// What the checks appended to a token require of every read: each must hold (a check of
/// every appended block, as Biscuit evaluates them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Narrowing {
    /// `check if request_child("ID")`: the read must be of this child's data (so no structure
    /// read passes), for each one named.
    pub children: Vec<String>,
    /// `check if request_category("CATEGORY")`: the read must be under this category.
    pub categories: Vec<String>,
    /// `check if time($t), $t <= DATE`: the earliest such DATE (Unix seconds).
    pub not_after: Option<i64>,
}

impl Narrowing {
    /// Whether a read of `child`'s data (or, with `None`, of the roster's structure) under
    /// `category` passes every appended check.
    pub fn allows(&self, category: &str, child: Option<&str>) -> bool {
        self.categories.iter().all(|c| c == category)
            && self.children.iter().all(|c| Some(c.as_str()) == child)
    }
}

/// Refuses a token whose appended blocks hold anything but the documented narrowing checks,
/// and reads those checks.
pub fn check(biscuit: &Biscuit) -> Result<Narrowing> {
    let appended = biscuit.block_count().saturating_sub(1);
    let mut narrowing = Narrowing::default();
    if appended > MAX_APPENDED_BLOCKS {
        return Err(refused(format!(
            "it carries {appended} appended blocks; at most {MAX_APPENDED_BLOCKS} are accepted"
        )));
    }
    for index in 1..=appended {
        if biscuit
            .block_external_key(index)
            .map_err(unreadable)?
            .is_some()
        {
            return Err(refused(format!(
                "block {index} is a third-party block; only the app's own narrowing checks may be appended"
            )));
        }
        let source = biscuit.print_block_source(index).map_err(unreadable)?;
        let statements: Vec<&str> = source
            .split(';')
            .map(str::trim)
            .filter(|statement| !statement.is_empty())
            .collect();
        if statements.len() > MAX_CHECKS_PER_BLOCK {
            return Err(refused(format!(
                "block {index} holds {} statements; at most {MAX_CHECKS_PER_BLOCK} checks are accepted",
                statements.len()
            )));
        }
        for statement in statements {
            let Some(narrowed) = narrowing_check(statement) else {
                return Err(refused(format!(
                    "block {index} holds `{}`; an appended block may only hold checks of the forms check if request_child(\"ID\"), check if request_category(\"CATEGORY\") and check if time($t), $t <= DATE",
                    shortened(statement)
                )));
            };
            match narrowed {
                Narrowed::Child(child) => narrowing.children.push(child.to_owned()),
                Narrowed::Category(category) => narrowing.categories.push(category.to_owned()),
                Narrowed::NotAfter(date) => {
                    narrowing.not_after = Some(narrowing.not_after.map_or(date, |d| d.min(date)));
                }
            }
        }
    }
    for named in [&mut narrowing.children, &mut narrowing.categories] {
        named.sort_unstable();
        named.dedup();
    }
    Ok(narrowing)
}

/// One accepted check.
enum Narrowed<'a> {
    Child(&'a str),
    Category(&'a str),
    NotAfter(i64),
}

/// The narrowing a statement states, if it is one of the three documented checks.
fn narrowing_check(statement: &str) -> Option<Narrowed<'_>> {
    let body = statement.strip_prefix("check if ")?;
    let named = |name: &str| {
        quoted_argument(body, name).filter(|text| !text.is_empty() && text.len() <= MAX_NAME_BYTES)
    };
    if let Some(child) = named("request_child") {
        return Some(Narrowed::Child(child));
    }
    if let Some(category) = named("request_category") {
        return Some(Narrowed::Category(category));
    }
    if !earlier_expiry(body) {
        return None;
    }
    // The form is known; Biscuit's own parser reads the date.
    let check = Check::from_str(statement).ok()?;
    let date = check
        .queries
        .iter()
        .flat_map(|query| &query.expressions)
        .flat_map(|expression| &expression.ops)
        .find_map(|op| match op {
            Op::Value(Term::Date(date)) => Some(*date),
            _ => None,
        })?;
    Some(Narrowed::NotAfter(i64::try_from(date).unwrap_or(i64::MAX)))
}

/// `NAME("TEXT")` → `TEXT`, when TEXT holds no quote or backslash.
fn quoted_argument<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    let text = body
        .strip_prefix(name)?
        .strip_prefix("(\"")?
        .strip_suffix("\")")?;
    (!text.contains(['"', '\\'])).then_some(text)
}

/// `time($v), $v <= DATE` with one variable name and an RFC 3339 date.
fn earlier_expiry(body: &str) -> bool {
    let Some(rest) = body.strip_prefix("time($") else {
        return false;
    };
    let Some((variable, rest)) = rest.split_once("), $") else {
        return false;
    };
    let Some(date) = rest
        .strip_prefix(variable)
        .and_then(|rest| rest.strip_prefix(" <= "))
    else {
        return false;
    };
    !variable.is_empty()
        && variable
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && date.len() <= 40
        && !date.is_empty()
        && date
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b':' | b'T' | b'Z' | b'+' | b'.'))
}

fn refused(why: String) -> Error {
    Error::InvalidToken(format!("the token's attenuation is refused: {why}"))
}

fn unreadable(error: biscuit_auth::error::Token) -> Error {
    Error::InvalidToken(format!("unreadable capability token: {error}"))
}

/// A statement as quoted in an error: at most 80 characters.
fn shortened(statement: &str) -> String {
    let mut shown: String = statement.chars().take(80).collect();
    if shown.len() < statement.len() {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::{Narrowed, narrowing_check};

    fn is_narrowing_check(statement: &str) -> bool {
        narrowing_check(statement).is_some()
    }

    #[test]
    fn checks_are_read_into_what_they_narrow() {
        assert!(matches!(
            narrowing_check("check if request_child(\"s-001\")"),
            Some(Narrowed::Child("s-001"))
        ));
        assert!(matches!(
            narrowing_check("check if time($t), $t <= 2026-11-24T09:05:00Z"),
            Some(Narrowed::NotAfter(1_795_511_100))
        ));
        assert!(matches!(
            narrowing_check("check if time($t), $t <= 2026-11-24T18:05:00+09:00"),
            Some(Narrowed::NotAfter(1_795_511_100))
        ));
    }

    #[test]
    fn only_the_documented_checks_pass() {
        for accepted in [
            "check if request_child(\"s-001\")",
            "check if request_category(\"urn:renkei:scope:attendance.readonly\")",
            "check if time($t), $t <= 2026-11-24T09:05:00Z",
            "check if time($time), $time <= 2026-11-24T09:05:00+09:00",
        ] {
            assert!(is_narrowing_check(accepted), "{accepted}");
        }
        for refused in [
            "covers_child(0, \"s003\")",
            "s($x) <- s($y), s($z), $x + $y == $z",
            "check if request_child($c), s($c)",
            "check if request_child(\"a\"), request_child(\"b\")",
            "check if request_child(\"a\\\"b\")",
            "check if request_child(\"\")",
            "check if time($t)",
            "check if time($t), $u <= 2026-11-24T09:05:00Z",
            "check if time($t), $t >= 2026-11-24T09:05:00Z",
            "check all request_child(\"s-001\")",
            "deny if true",
        ] {
            assert!(!is_narrowing_check(refused), "{refused}");
        }
    }
}
