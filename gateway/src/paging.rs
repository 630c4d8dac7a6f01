//! OneRoster 1.2 collection parameters: `limit`/`offset` pagination (with `X-Total-Count` and
//! `Link`), `filter` (predicates joined by ` AND ` or ` OR `, operators `=`, `!=`, `>`, `>=`,
//! `<`, `<=`, `~`), `sort`/`orderBy` and `fields`.

use std::cmp::Ordering;

use axum::http::{HeaderMap, HeaderValue};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Default page size (OneRoster 1.2 §3.4.1).
pub const DEFAULT_LIMIT: usize = 100;
/// Largest page served.
pub const MAX_LIMIT: usize = 1000;

/// The query string of a collection request.
#[derive(Debug, Default, Deserialize)]
pub struct Params {
    limit: Option<String>,
    offset: Option<String>,
    filter: Option<String>,
    sort: Option<String>,
    #[serde(rename = "orderBy")]
    order_by: Option<String>,
    fields: Option<String>,
}

/// One filter predicate.
struct Predicate {
    field: String,
    op: &'static str,
    value: String,
}

/// A parsed filter: predicates joined all by AND or all by OR.
struct Filter {
    any: bool,
    predicates: Vec<Predicate>,
}

fn parse_filter(text: &str) -> Result<Filter> {
    const OPERATORS: [&str; 7] = ["!=", ">=", "<=", "=", ">", "<", "~"];
    let invalid = |what: String| Error::InvalidParameter(format!("filter: {what}"));
    let mut rest = text.trim();
    let mut predicates = Vec::new();
    let mut joiner: Option<bool> = None;
    loop {
        // field
        let field_end = rest
            .find(|c: char| "!=<>~".contains(c))
            .ok_or_else(|| invalid(format!("{rest:?} has no operator (=, !=, >, >=, <, <=, ~)")))?;
        let field = rest[..field_end].trim();
        if field.is_empty() || field.contains(char::is_whitespace) {
            return Err(invalid(format!(
                "{:?} is not a field name; write field<operator>'value'",
                &rest[..field_end]
            )));
        }
        rest = &rest[field_end..];
        let op = OPERATORS
            .into_iter()
            .find(|op| rest.starts_with(op))
            .ok_or_else(|| {
                invalid(format!(
                    "{rest:?} starts with no operator (=, !=, >, >=, <, <=, ~)"
                ))
            })?;
        rest = rest[op.len()..].trim_start();
        // value: in single quotes, '' for a quote inside
        let mut chars = rest.char_indices();
        if !matches!(chars.next(), Some((_, '\''))) {
            return Err(invalid(format!(
                "the value after {field}{op} must be in single quotes, e.g. {field}{op}'value'"
            )));
        }
        let mut value = String::new();
        let mut closed = None;
        while let Some((i, c)) = chars.next() {
            if c == '\'' {
                if rest[i + 1..].starts_with('\'') {
                    value.push('\'');
                    chars.next();
                } else {
                    closed = Some(i + 1);
                    break;
                }
            } else {
                value.push(c);
            }
        }
        let closed = closed
            .ok_or_else(|| invalid(format!("the value after {field}{op} has no closing quote")))?;
        predicates.push(Predicate {
            field: field.to_owned(),
            op,
            value,
        });
        rest = rest[closed..].trim_start();
        if rest.is_empty() {
            break;
        }
        let any = if let Some(next) = rest.strip_prefix("AND ") {
            rest = next;
            false
        } else if let Some(next) = rest.strip_prefix("OR ") {
            rest = next;
            true
        } else {
            return Err(invalid(format!("expected AND or OR before {rest:?}")));
        };
        if joiner.is_some_and(|j| j != any) {
            return Err(invalid(
                "mixing AND and OR is not supported; use one of them".into(),
            ));
        }
        joiner = Some(any);
        rest = rest.trim_start();
    }
    Ok(Filter {
        any: joiner.unwrap_or(false),
        predicates,
    })
}

/// The value of a (possibly dotted) field as text for filtering and sorting.
fn field_text(record: &Value, field: &str) -> Option<String> {
    let mut value = record;
    for part in field.split('.') {
        value = value.get(part)?;
    }
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        Value::Array(items) => Some(
            items
                .iter()
                .map(|i| {
                    i.get("sourcedId")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .unwrap_or_else(|| i.to_string().trim_matches('"').to_owned())
                })
                .collect::<Vec<_>>()
                .join(","),
        ),
        Value::Object(o) => o
            .get("sourcedId")
            .and_then(Value::as_str)
            .map(str::to_owned),
        other => Some(other.to_string()),
    }
}

fn matches(record: &Value, predicate: &Predicate) -> bool {
    let actual = field_text(record, &predicate.field);
    let Some(actual) = actual else {
        return predicate.op == "!=";
    };
    match predicate.op {
        "=" => actual == predicate.value,
        "!=" => actual != predicate.value,
        "~" => actual
            .to_lowercase()
            .contains(&predicate.value.to_lowercase()),
        ">" => actual.as_str() > predicate.value.as_str(),
        ">=" => actual.as_str() >= predicate.value.as_str(),
        "<" => actual.as_str() < predicate.value.as_str(),
        "<=" => actual.as_str() <= predicate.value.as_str(),
        _ => false,
    }
}

/// A record about to be served, with the children whose data it is (for the audit).
pub struct Served {
    /// The record as served.
    pub value: Value,
    /// The children whose data it carries (pupils' sourcedIds).
    pub children: Vec<String>,
}

impl Served {
    /// A record that carries no child's data.
    pub fn structure(value: Value) -> Self {
        Served {
            value,
            children: Vec::new(),
        }
    }
}

/// A page of a collection, and the headers that describe it.
pub struct Page {
    /// The records of the page.
    pub records: Vec<Value>,
    /// The children whose data the read used, for the audit: the page's, or with a filter or a
    /// sort every compared record's, matched or not.
    pub children: Vec<String>,
    /// `X-Total-Count` and `Link`.
    pub headers: HeaderMap,
}

impl Params {
    /// The request's other parameters, URL-encoded, each followed by `&`.
    fn query_without_paging(&self) -> String {
        let pairs = [
            ("filter", &self.filter),
            ("sort", &self.sort),
            ("orderBy", &self.order_by),
            ("fields", &self.fields),
        ];
        let present: Vec<(&str, &str)> = pairs
            .iter()
            .filter_map(|(k, v)| v.as_deref().map(|v| (*k, v)))
            .collect();
        if present.is_empty() {
            return String::new();
        }
        serde_urlencoded::to_string(present).unwrap_or_default() + "&"
    }

    /// Filters, sorts, counts and cuts `records`; `base` is the request URL without query.
    pub fn apply(&self, mut records: Vec<Served>, base: &str) -> Result<Page> {
        let number = |name: &str, value: &Option<String>, default: usize| -> Result<usize> {
            match value {
                None => Ok(default),
                Some(v) => v.parse::<usize>().map_err(|_| {
                    Error::InvalidParameter(format!("{name} must be a whole number, not {v:?}"))
                }),
            }
        };
        let limit = number("limit", &self.limit, DEFAULT_LIMIT)?.clamp(1, MAX_LIMIT);
        let offset = number("offset", &self.offset, 0)?;
        // A filter, or a sort on anything but the sourcedId (the default order), compares the
        // data of every record the token lets the read see, and whether a record matched, the
        // count and the order tell of it: all of their children are part of the read, matched
        // or not, not only the page's.
        let compared = self.filter.as_deref().is_some_and(|f| !f.trim().is_empty())
            || self
                .sort
                .as_deref()
                .is_some_and(|s| !s.is_empty() && s != "sourcedId");
        let mut children = Vec::new();
        if compared {
            for served in &records {
                children.extend(served.children.iter().cloned());
            }
        }
        if let Some(filter) = self.filter.as_deref().filter(|f| !f.trim().is_empty()) {
            let filter = parse_filter(filter)?;
            records.retain(|Served { value: record, .. }| {
                if filter.any {
                    filter.predicates.iter().any(|p| matches(record, p))
                } else {
                    filter.predicates.iter().all(|p| matches(record, p))
                }
            });
        }
        if let Some(sort) = self.sort.as_deref().filter(|s| !s.is_empty()) {
            let descending = match self.order_by.as_deref() {
                None | Some("asc") => false,
                Some("desc") => true,
                Some(other) => {
                    return Err(Error::InvalidParameter(format!(
                        "orderBy must be asc or desc, not {other:?}"
                    )));
                }
            };
            records.sort_by(|a, b| {
                let order = field_text(&a.value, sort).cmp(&field_text(&b.value, sort));
                if descending { order.reverse() } else { order }
            });
        }
        let total = records.len();
        let mut page: Vec<Value> = records
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|served| {
                if !compared {
                    children.extend(served.children);
                }
                served.value
            })
            .collect();
        children.sort();
        children.dedup();
        if let Some(fields) = self.fields.as_deref().filter(|f| !f.is_empty()) {
            let wanted: Vec<&str> = fields.split(',').map(str::trim).collect();
            for record in &mut page {
                if let Value::Object(object) = record {
                    let kept: Map<String, Value> = object
                        .iter()
                        .filter(|(k, _)| wanted.contains(&k.as_str()))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    *object = kept;
                }
            }
        }
        let mut headers = HeaderMap::new();
        headers.insert("x-total-count", HeaderValue::from(total));
        let kept = self.query_without_paging();
        let link = |offset: usize, rel: &str| {
            format!("<{base}?{kept}limit={limit}&offset={offset}>; rel=\"{rel}\"")
        };
        let mut links = Vec::new();
        if offset.saturating_add(limit) < total {
            links.push(link(offset + limit, "next"));
        }
        if offset > 0 {
            links.push(link(offset.saturating_sub(limit), "prev"));
        }
        links.push(link(0, "first"));
        let last = if total == 0 {
            0
        } else {
            (total - 1) / limit * limit
        };
        links.push(link(last, "last"));
        if let Ok(value) = HeaderValue::from_str(&links.join(", ")) {
            headers.insert(axum::http::header::LINK, value);
        }
        Ok(Page {
            records: page,
            children,
            headers,
        })
    }
}

/// Compares two records by sourcedId (the default order).
pub fn by_sourced_id(a: &Served, b: &Served) -> Ordering {
    a.value
        .get("sourcedId")
        .and_then(Value::as_str)
        .cmp(&b.value.get("sourcedId").and_then(Value::as_str))
}

#[cfg(test)]
mod tests {
    use super::parse_filter;

    #[test]
    fn filter_values_may_hold_spaces_operators_and_joiners() {
        let filter = parse_filter("familyName='O''Brien OR x=1' AND givenName~'a AND b'").unwrap();
        assert!(!filter.any);
        let parsed: Vec<(&str, &str, &str)> = filter
            .predicates
            .iter()
            .map(|p| (p.field.as_str(), p.op, p.value.as_str()))
            .collect();
        assert_eq!(
            parsed,
            vec![
                ("familyName", "=", "O'Brien OR x=1"),
                ("givenName", "~", "a AND b")
            ]
        );
        let either = parse_filter("sourcedId='s1' OR sourcedId>='s9'").unwrap();
        assert!(either.any);
        assert_eq!(either.predicates[1].op, ">=");
    }

    #[test]
    fn malformed_filters_say_what_is_wrong() {
        let message = |text: &str| parse_filter(text).err().unwrap().to_string();
        assert!(message("givenName").contains("has no operator"));
        assert!(message("givenName=taro").contains("must be in single quotes"));
        assert!(message("givenName='taro").contains("no closing quote"));
        assert!(message("a='1' AND b='2' OR c='3'").contains("mixing AND and OR"));
        assert!(message("a='1' b='2'").contains("expected AND or OR"));
    }
}
