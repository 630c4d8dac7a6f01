//! What an app may append to a capability token before handing it on: checks that narrow it to
//! one child, one category or an earlier expiry (policies/README.md, "Attenuation by apps"),
//! and nothing else. Every appended block is read back as Datalog source and refused, before any
//! evaluation, unless each of its statements is one of those checks: a fact, a rule or any other
//! expression could make evaluation cost grow without bound (a rule joining appended facts
//! with themselves costs the cube of their number in one pass, which no time limit interrupts).

use biscuit_auth::Biscuit;

use crate::error::{Error, Result};

/// Appended blocks a token may carry at most.
pub const MAX_APPENDED_BLOCKS: usize = 8;

/// Checks one appended block may hold at most.
pub const MAX_CHECKS_PER_BLOCK: usize = 16;

/// Longest child sourcedId or category a check may name, in bytes.
pub const MAX_NAME_BYTES: usize = 256;

/// Refuses a token whose appended blocks hold anything but the documented narrowing checks.
pub fn check(biscuit: &Biscuit) -> Result<()> {
    let appended = biscuit.block_count().saturating_sub(1);
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
            if !is_narrowing_check(statement) {
                return Err(refused(format!(
                    "block {index} holds `{}`; an appended block may only hold checks of the forms check if request_child(\"ID\"), check if request_category(\"CATEGORY\") and check if time($t), $t <= DATE",
                    shortened(statement)
                )));
            }
        }
    }
    Ok(())
}

/// Whether a statement is one of the three documented narrowing checks.
fn is_narrowing_check(statement: &str) -> bool {
    let Some(body) = statement.strip_prefix("check if ") else {
        return false;
    };
    if let Some(name) =
        quoted_argument(body, "request_child").or_else(|| quoted_argument(body, "request_category"))
    {
        return !name.is_empty() && name.len() <= MAX_NAME_BYTES;
    }
    earlier_expiry(body)
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
    use super::is_narrowing_check;

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
