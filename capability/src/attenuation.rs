//! What an app may append to a capability token before handing it on: checks that narrow it to
//! one child, one category or an earlier expiry (policies/README.md, "Attenuation by apps"),
//! and nothing else. Every appended block is decoded as Biscuit's wire format and refused,
//! before any evaluation, unless it holds no fact, no rule and no scope and each of its checks
//! is, term for term, one of those three: a fact, a rule or any other expression could make
//! evaluation cost grow without bound (a rule joining appended facts with themselves costs the
//! cube of their number in one pass, which no time limit interrupts). The structure is read,
//! not the printed source: Biscuit prints names and strings unescaped, so printed text can be
//! made to look like anything.
//!
//! The accepted checks are then read into a [`Narrowing`], which the verifier applies to each
//! read directly: no appended Datalog is ever evaluated.

use biscuit_auth::Biscuit;
use biscuit_auth::datalog::SymbolTable;
use biscuit_auth::format::schema;
use prost::Message;

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

/// Largest appended block (serialized) whose source is quoted in a refusal.
const PRINTED_BLOCK_MAX: usize = 1024;

/// The forms an appended check may take, for error messages.
const FORMS: &str = "check if request_child(\"ID\"), check if request_category(\"CATEGORY\") and check if time($t), $t <= DATE";

/// Decodes a serialized token's blocks (not their signatures) and refuses one with more than
/// [`MAX_APPENDED_BLOCKS`] appended blocks: cheap, so it comes before the signatures are
/// checked, one per block.
pub(crate) fn decode(bytes: &[u8]) -> Result<schema::Biscuit> {
    let wire = schema::Biscuit::decode(bytes).map_err(malformed)?;
    if wire.blocks.len() > MAX_APPENDED_BLOCKS {
        return Err(refused(format!(
            "it carries {} appended blocks; at most {MAX_APPENDED_BLOCKS} are accepted",
            wire.blocks.len()
        )));
    }
    Ok(wire)
}

/// Refuses a token whose appended blocks hold anything but the documented narrowing checks,
/// and reads those checks. `wire` is the token as [`decode`] read it, `biscuit` the same bytes
/// with their signatures checked.
pub(crate) fn check(biscuit: &Biscuit, wire: &schema::Biscuit) -> Result<Narrowing> {
    let appended = biscuit.block_count().saturating_sub(1);
    let mut narrowing = Narrowing::default();
    if appended == 0 {
        return Ok(narrowing);
    }
    if appended > MAX_APPENDED_BLOCKS {
        return Err(refused(format!(
            "it carries {appended} appended blocks; at most {MAX_APPENDED_BLOCKS} are accepted"
        )));
    }
    let mut names = Vec::new();
    for index in 0..=appended {
        if index > 0
            && biscuit
                .block_external_key(index)
                .map_err(unreadable)?
                .is_some()
        {
            return Err(refused(format!(
                "block {index} is a third-party block; only the app's own narrowing checks may be appended"
            )));
        }
        names.extend(biscuit.block_symbols(index).map_err(unreadable)?);
    }
    let symbols = SymbolTable::from(names).map_err(|e| unreadable(e.into()))?;
    if wire.blocks.len() != appended {
        return Err(unreadable(biscuit_auth::error::Token::InternalError));
    }
    for (index, signed) in wire.blocks.iter().enumerate().map(|(i, b)| (i + 1, b)) {
        let block = schema::Block::decode(signed.block.as_slice()).map_err(malformed)?;
        // Quoted in refusals only when small: printing copies every operand at every
        // operator, so a crafted block costs far more to print than to decode.
        let source = || {
            if signed.block.len() <= PRINTED_BLOCK_MAX {
                biscuit.print_block_source(index).unwrap_or_default()
            } else {
                String::new()
            }
        };
        if !block.facts.is_empty() || !block.rules.is_empty() {
            let shown = first_statement(&source());
            let what = if shown.is_empty() {
                format!(
                    "{} facts and {} rules",
                    block.facts.len(),
                    block.rules.len()
                )
            } else {
                format!("`{shown}`")
            };
            return Err(refused(format!(
                "block {index} holds {what}; an appended block may only hold checks of the forms {FORMS}"
            )));
        }
        if !block.scope.is_empty() || !block.public_keys.is_empty() {
            return Err(refused(format!(
                "block {index} declares whom it trusts; an appended block may only hold checks of the forms {FORMS}"
            )));
        }
        if block.checks.len() > MAX_CHECKS_PER_BLOCK {
            return Err(refused(format!(
                "block {index} holds {} checks; at most {MAX_CHECKS_PER_BLOCK} are accepted",
                block.checks.len()
            )));
        }
        for (number, check) in block.checks.iter().enumerate() {
            match narrowed(check, &symbols) {
                Some(Narrowed::Child(child)) => narrowing.children.push(child),
                Some(Narrowed::Category(category)) => narrowing.categories.push(category),
                Some(Narrowed::NotAfter(date)) => {
                    narrowing.not_after = Some(narrowing.not_after.map_or(date, |d| d.min(date)));
                }
                None => {
                    let statement = source();
                    let shown = statement
                        .split(';')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .nth(number)
                        .map_or_else(|| format!("check {}", number + 1), shortened);
                    return Err(refused(format!(
                        "block {index} holds `{shown}`; an appended block may only hold checks of the forms {FORMS}"
                    )));
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
#[derive(Debug, PartialEq, Eq)]
enum Narrowed {
    Child(String),
    Category(String),
    NotAfter(i64),
}

/// The narrowing a check states, if it is exactly one of the three documented forms: `check
/// if` (not `check all` nor `reject if`), one query without scope or head terms, one predicate
/// of the request vocabulary, and for the time form exactly `$v <= DATE` on its variable.
fn narrowed(check: &schema::Check, symbols: &SymbolTable) -> Option<Narrowed> {
    use schema::op::Content as Op;
    use schema::term::Content as Term;
    if check
        .kind
        .is_some_and(|kind| kind != schema::check::Kind::One as i32)
    {
        return None;
    }
    let [query] = check.queries.as_slice() else {
        return None;
    };
    if !query.scope.is_empty() || !query.head.terms.is_empty() {
        return None;
    }
    let [predicate] = query.body.as_slice() else {
        return None;
    };
    let name = symbols.get_symbol(predicate.name)?;
    let [term] = predicate.terms.as_slice() else {
        return None;
    };
    match (name, &term.content, query.expressions.as_slice()) {
        ("request_child" | "request_category", Some(Term::String(text)), []) => {
            let text = symbols.get_symbol(*text)?;
            if text.is_empty() || text.len() > MAX_NAME_BYTES {
                return None;
            }
            Some(if name == "request_child" {
                Narrowed::Child(text.to_owned())
            } else {
                Narrowed::Category(text.to_owned())
            })
        }
        ("time", Some(Term::Variable(variable)), [expression]) => {
            let less_or_equal = schema::op_binary::Kind::LessOrEqual as i32;
            match expression.ops.as_slice() {
                [
                    schema::Op {
                        content:
                            Some(Op::Value(schema::Term {
                                content: Some(Term::Variable(compared)),
                            })),
                    },
                    schema::Op {
                        content:
                            Some(Op::Value(schema::Term {
                                content: Some(Term::Date(date)),
                            })),
                    },
                    schema::Op {
                        content:
                            Some(Op::Binary(schema::OpBinary {
                                kind,
                                ffi_name: None,
                            })),
                    },
                ] if compared == variable && *kind == less_or_equal => {
                    Some(Narrowed::NotAfter(i64::try_from(*date).unwrap_or(i64::MAX)))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

fn refused(why: String) -> Error {
    Error::InvalidToken(format!("the token's attenuation is refused: {why}"))
}

fn unreadable(error: biscuit_auth::error::Token) -> Error {
    Error::InvalidToken(format!("unreadable capability token: {error}"))
}

fn malformed(error: prost::DecodeError) -> Error {
    Error::InvalidToken(format!("unreadable capability token: {error}"))
}

/// The first statement of a block's printed source.
fn first_statement(source: &str) -> String {
    shortened(source.split(';').next().unwrap_or_default().trim())
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
    use biscuit_auth::builder::{BlockBuilder, CheckKind, Term, fact, pred, rule, string, var};
    use biscuit_auth::{Biscuit, KeyPair};

    use super::*;

    fn appended(block: BlockBuilder) -> Result<Narrowing> {
        let token = Biscuit::builder()
            .fact(fact("app", &[string("app-1")]))
            .unwrap()
            .build(&KeyPair::new())
            .unwrap()
            .append(block)
            .unwrap();
        check(&token, &decode(&token.to_vec().unwrap())?)
    }

    /// `None` when Biscuit's own parser does not take the source (nothing to refuse).
    fn code(source: &str) -> Option<Result<Narrowing>> {
        BlockBuilder::new().code(source).ok().map(appended)
    }

    #[test]
    fn only_the_documented_checks_pass() {
        let child = |id: &str| Narrowing {
            children: vec![id.into()],
            ..Narrowing::default()
        };
        let until = |at: i64| Narrowing {
            not_after: Some(at),
            ..Narrowing::default()
        };
        for (source, expected) in [
            ("check if request_child(\"s-001\")", child("s-001")),
            (
                "check if request_category(\"urn:renkei:scope:attendance.readonly\")",
                Narrowing {
                    categories: vec!["urn:renkei:scope:attendance.readonly".into()],
                    ..Narrowing::default()
                },
            ),
            (
                "check if time($t), $t <= 2026-11-24T09:05:00Z",
                until(1_795_511_100),
            ),
            (
                "check if time($time), $time <= 2026-11-24T18:05:00+09:00; check if time($t), $t <= 2027-01-01T00:00:00Z",
                until(1_795_511_100),
            ),
            (
                "check if request_child(\"b\"); check if request_child(\"a\")",
                Narrowing {
                    children: vec!["a".into(), "b".into()],
                    ..Narrowing::default()
                },
            ),
        ] {
            assert_eq!(code(source).unwrap().unwrap(), expected, "{source}");
        }
        for source in [
            "covers_child(0, \"s003\")",
            "s($x) <- s($y), s($z), $x + $y == $z",
            "check if request_child($c), s($c)",
            "check if request_child(\"a\"), request_child(\"b\")",
            "check if request_child(\"a\") or request_child(\"b\")",
            "check if request_child(\"\")",
            "check if request_child(1)",
            "check if time($t)",
            "check if time($t), $t >= 2026-11-24T09:05:00Z",
            "check if time($t), $t <= 2026-11-24T09:05:00Z || true",
            "check all request_child(\"s-001\")",
            "reject if request_child(\"s-001\")",
            "check if request_child(\"s-001\") trusting previous",
        ] {
            if let Some(outcome) = code(source) {
                assert!(outcome.is_err(), "{source} was accepted");
            }
        }
        let trusting = BlockBuilder::new()
            .code("check if request_child(\"s-001\")")
            .unwrap()
            .scope(biscuit_auth::builder::Scope::Previous);
        assert!(appended(trusting).is_err(), "a block-level scope");
    }

    /// Names and strings are printed unescaped: a fact named `check if request_child` prints
    /// as a check, and a rule's head can swallow its whole body into one "string". Only the
    /// structure decides.
    #[test]
    fn names_that_print_as_checks_are_refused() {
        let mut block = BlockBuilder::new();
        for n in 0..15 {
            block = block
                .fact(fact("check if request_child", &[string(&format!("v{n}"))]))
                .unwrap();
        }
        let body: Vec<_> = (0..8)
            .map(|i| {
                pred(
                    "check if request_child",
                    &[var(if i == 7 { "h\"" } else { "a" })],
                )
            })
            .collect();
        let joined = block.rule(rule("check if request_child(\"x", &[var("a")], &body));
        if let Ok(joined) = joined {
            let error = appended(joined).unwrap_err().to_string();
            assert!(error.contains("block 1 holds"), "{error}");
        }
        let spoofed_check = BlockBuilder::new()
            .check(biscuit_auth::builder::Check {
                queries: vec![rule(
                    "query",
                    &[] as &[Term],
                    &[pred("request_child(\"s-001\"), s", &[string("x")])],
                )],
                kind: CheckKind::One,
            })
            .unwrap();
        assert!(appended(spoofed_check).is_err());
        let facts_only = (0..3).fold(BlockBuilder::new(), |block, n| {
            block
                .fact(fact("check if request_child", &[string(&format!("v{n}"))]))
                .unwrap()
        });
        assert!(appended(facts_only).is_err());
        // A large block is described, not printed (printing crafted blocks is costly).
        let many_facts = (0..200).fold(BlockBuilder::new(), |block, n| {
            block
                .fact(fact("covers_child", &[string(&format!("child-{n}"))]))
                .unwrap()
        });
        let error = appended(many_facts).unwrap_err().to_string();
        assert!(
            error.contains("block 1 holds 200 facts and 0 rules"),
            "{error}"
        );
    }
}
