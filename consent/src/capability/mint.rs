//! Minting: which children each asked category covers now (policy ∩ consent ∩ the pupils the
//! request is about), and the authority block that states it compactly.

use renkei_directory::{Directory, Role};

use crate::record::Authors;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use biscuit_auth::Biscuit;
use biscuit_auth::builder::{date, fact, string};

use super::keys::KeySet;
use super::{FULL_ID_LIMIT, REF_WIDTH, TTL, Target, child_ref, hex};
use crate::error::{Error, Result};
use crate::policy::{Basis, Policy, Reach};
use crate::store::{ConsentStore, Pupil};

/// The children one category covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coverage {
    /// The category.
    pub category: String,
    /// The policy version in force.
    pub policy_version: i64,
    /// The children (sourcedIds) for whom policy ∩ consent holds.
    pub children: BTreeSet<String>,
    /// When the earliest of the policy's validity and the covered consents ends, if ever: the
    /// token must not outlive it.
    pub ends_at: Option<i64>,
}

/// For each asked category with a policy in force for the app: the `candidates` it covers at
/// `now`. Categories without a policy in force are left out (not granted).
pub async fn coverage(
    store: &dyn ConsentStore,
    directory: &dyn Directory,
    client_id: &str,
    categories: &[String],
    candidates: &[Pupil],
    now: i64,
) -> Result<Vec<Coverage>> {
    let mut granted = Vec::new();
    for category in categories {
        let Some(policy) = store.current_policy(client_id, category, now).await? else {
            continue;
        };
        let reached = reached(directory, &policy, candidates).await?;
        let (children, consent_ends) = provided(store, directory, &policy, reached, now).await?;
        let ends_at = [policy.valid_until, consent_ends]
            .into_iter()
            .flatten()
            .min();
        granted.push(Coverage {
            category: category.clone(),
            policy_version: policy.version,
            children,
            ends_at,
        });
    }
    Ok(granted)
}

/// Of the `reached` children, those the policy provides to its app at `now`: all of them on
/// the school's decision, those whose consent holds otherwise (with when the first of those
/// consents ends).
pub(crate) async fn provided(
    store: &dyn ConsentStore,
    directory: &dyn Directory,
    policy: &Policy,
    reached: BTreeSet<String>,
    now: i64,
) -> Result<(BTreeSet<String>, Option<i64>)> {
    match policy.basis {
        Basis::School => Ok((reached, None)),
        Basis::Guardian | Basis::Student => {
            consenting(store, directory, policy, reached, now).await
        }
    }
}

/// The candidates within the policy's schools, grades and classes.
pub(crate) async fn reached(
    directory: &dyn Directory,
    policy: &Policy,
    candidates: &[Pupil],
) -> Result<BTreeSet<String>> {
    let mut reached = BTreeSet::new();
    let ids: Vec<String> = candidates.iter().map(|p| p.id.clone()).collect();
    for reach in &policy.reach {
        match reach {
            Reach::Grade(grade) => reached.extend(
                candidates
                    .iter()
                    .filter(|p| p.grade.as_ref() == Some(grade))
                    .map(|p| p.id.clone()),
            ),
            Reach::School(id) => reached.extend(directory.pupils_within_school(id, &ids).await?),
            Reach::Class(id) => reached.extend(directory.pupils_within_class(id, &ids).await?),
        }
    }
    Ok(reached)
}

/// The reached children whose latest consent record is a grant, to this policy version, by
/// someone the basis accepts (a guardian or the child, or an administrator recording a paper
/// consent) who may still act for the child, and not past its end; and when the first of those
/// consents ends.
async fn consenting(
    store: &dyn ConsentStore,
    directory: &dyn Directory,
    policy: &Policy,
    reached: BTreeSet<String>,
    now: i64,
) -> Result<(BTreeSet<String>, Option<i64>)> {
    let records = store
        .consents_for(&policy.client_id, &policy.category_id)
        .await?;
    let mut latest = BTreeMap::new();
    for record in records {
        if reached.contains(&record.student_id) {
            latest.insert(record.student_id.clone(), record);
        }
    }
    let accepted_role = match policy.basis {
        Basis::Guardian => Role::Guardian,
        _ => Role::Student,
    };
    let granted: Vec<_> = latest
        .into_values()
        .filter(|r| {
            r.action == "grant"
                && r.policy_version == policy.version
                && r.until.is_none_or(|until| until > now)
                && matches!(Role::parse(&r.by_role), Some(role) if role == accepted_role || role == Role::Administrator)
        })
        .collect();
    // The children whose grant counts only while a guardian acts for them: a guardian's own,
    // or a paper consent naming the guardian who signed it.
    let by_guardians: Vec<String> = granted
        .iter()
        .filter(|r| Role::parse(&r.by_role) == Some(Role::Guardian) || r.paper_from.is_some())
        .map(|r| r.student_id.clone())
        .collect();
    let authors = Authors::of(directory, &by_guardians).await?;
    let valid: Vec<_> = granted
        .into_iter()
        .filter(|r| authors.may_still_act(r))
        .collect();
    let ends = valid.iter().filter_map(|r| r.until).min();
    Ok((valid.into_iter().map(|r| r.student_id).collect(), ends))
}

/// What to sign.
pub struct Claims<'a> {
    /// The app.
    pub client_id: &'a str,
    /// The user the token speaks for, or the app itself.
    pub subject: &'a str,
    /// The schools and classes the token is for.
    pub targets: &'a [Target],
    /// What each granted category covers.
    pub coverage: &'a [Coverage],
    /// Every pupil of the targets: short references must not collide with any of them.
    pub pupils_in_scope: &'a [Pupil],
    /// Issue time (Unix seconds).
    pub now: i64,
}

/// A signed capability token.
pub struct Minted {
    /// The Biscuit, base64url.
    pub token: String,
    /// Hex of the authority block's revocation identifier.
    pub revocation_id: String,
    /// Expiry (Unix seconds).
    pub expires_at: i64,
}

/// Signs the authority block: categories with identical child sets share one group.
pub fn sign(keys: &KeySet, claims: &Claims<'_>) -> Result<Minted> {
    let expires_at = claims
        .coverage
        .iter()
        .filter_map(|c| c.ends_at)
        .fold(claims.now + TTL, i64::min)
        .max(claims.now + 1);
    let (root_key_id, root) = keys.signing();
    let mut builder = Biscuit::builder()
        .root_key_id(root_key_id)
        .fact(fact("app", &[string(claims.client_id)]))
        .and_then(|b| b.fact(fact("subject", &[string(claims.subject)])))
        .map_err(signing_failed)?;
    for target in claims.targets {
        let (name, id) = match target {
            Target::School(id) => ("scope_school", id),
            Target::Class(id) => ("scope_class", id),
        };
        builder = builder
            .fact(fact(name, &[string(id)]))
            .map_err(signing_failed)?;
    }
    let mut groups: BTreeMap<&BTreeSet<String>, Vec<&str>> = BTreeMap::new();
    for covered in claims.coverage {
        builder = builder
            .fact(fact("category", &[string(&covered.category)]))
            .map_err(signing_failed)?;
        groups
            .entry(&covered.children)
            .or_default()
            .push(&covered.category);
    }
    for (number, (children, categories)) in groups.into_iter().enumerate() {
        let group = biscuit_auth::builder::int(number as i64);
        for category in categories {
            builder = builder
                .fact(fact("covers_category", &[group.clone(), string(category)]))
                .map_err(signing_failed)?;
        }
        let outsiders: Vec<String> = claims
            .pupils_in_scope
            .iter()
            .filter(|p| !children.contains(&p.id))
            .map(|p| child_ref(&p.id))
            .collect();
        let (refs, full) = compact(children, &outsiders);
        if !refs.is_empty() {
            builder = builder
                .fact(fact("covers", &[group.clone(), string(&refs)]))
                .map_err(signing_failed)?;
        }
        for child in full {
            builder = builder
                .fact(fact("covers_child", &[group.clone(), string(child)]))
                .map_err(signing_failed)?;
        }
    }
    let expiry = SystemTime::UNIX_EPOCH + Duration::from_secs(expires_at.max(0) as u64);
    builder = builder
        .fact(fact("expires", &[date(&expiry)]))
        .map_err(signing_failed)?;
    let mut check =
        biscuit_auth::builder::Check::try_from("check if time($time), $time <= {expiry}")
            .map_err(signing_failed)?;
    check.set("expiry", date(&expiry)).map_err(signing_failed)?;
    let token = builder
        .check(check)
        .and_then(|b| b.build(root))
        .map_err(signing_failed)?;
    let revocation_id = token
        .revocation_identifiers()
        .first()
        .map(|id| hex(id))
        .ok_or_else(|| Error::Invalid("a signed token has no revocation id".into()))?;
    Ok(Minted {
        token: token.to_base64().map_err(signing_failed)?,
        revocation_id,
        expires_at,
    })
}

/// Splits a child set into one string of short references and the children that must be
/// named in full: all of them for a small set; otherwise those whose reference, or whose
/// neighbours' concatenated references, would also match a pupil of the scope who is not
/// covered (a verifier's substring test must never say yes for an uncovered pupil).
fn compact<'a>(children: &'a BTreeSet<String>, outsiders: &[String]) -> (String, Vec<&'a str>) {
    if children.len() <= FULL_ID_LIMIT {
        return (String::new(), children.iter().map(String::as_str).collect());
    }
    let mut listed: Vec<(&str, String)> = children
        .iter()
        .map(|id| (id.as_str(), child_ref(id)))
        .collect();
    let mut full = Vec::new();
    loop {
        let refs: String = listed.iter().map(|(_, r)| r.as_str()).collect();
        let clash = outsiders
            .iter()
            .find_map(|needle| refs.find(needle.as_str()));
        let Some(offset) = clash else {
            return (refs, full);
        };
        // The match overlaps at most two listed references: name those children in full.
        let first = offset / REF_WIDTH;
        // (the index of the chunk holding the match's last character)
        let last = offset.div_ceil(REF_WIDTH).min(listed.len() - 1);
        for (id, _) in listed.drain(first..=last) {
            full.push(id);
        }
        if listed.is_empty() {
            return (String::new(), full);
        }
    }
}

fn signing_failed(error: biscuit_auth::error::Token) -> Error {
    Error::Invalid(format!("cannot sign the capability token: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_sets_are_named_in_full() {
        let children: BTreeSet<String> = ["a".to_owned(), "b".to_owned()].into();
        let (refs, full) = compact(&children, &[child_ref("c")]);
        assert!(refs.is_empty());
        assert_eq!(full, vec!["a", "b"]);
    }

    #[test]
    fn large_sets_use_references_that_match_no_outsider() {
        let children: BTreeSet<String> = (0..400).map(|i| format!("in-{i}")).collect();
        let outsiders: Vec<String> = (0..400).map(|i| child_ref(&format!("out-{i}"))).collect();
        let (refs, full) = compact(&children, &outsiders);
        assert_eq!(refs.len() + full.len() * REF_WIDTH, 400 * REF_WIDTH);
        for outsider in (0..400).map(|i| format!("out-{i}")) {
            assert!(
                !refs.contains(&child_ref(&outsider)),
                "{outsider} would be covered"
            );
        }
        for child in &children {
            assert!(refs.contains(&child_ref(child)) || full.contains(&child.as_str()));
        }
    }

    #[test]
    fn a_colliding_or_straddling_reference_is_named_in_full() {
        let children: BTreeSet<String> = (0..40).map(|i| format!("in-{i}")).collect();
        let listed: Vec<String> = children.iter().map(|c| child_ref(c)).collect();
        // An outsider with exactly a listed child's reference, and one whose reference spans
        // the boundary of two neighbours.
        let equal = listed[7].clone();
        let straddling = format!("{}{}", &listed[20][3..], &listed[21][..3]);
        let (refs, full) = compact(&children, &[equal.clone(), straddling.clone()]);
        assert!(!refs.contains(&equal));
        assert!(!refs.contains(&straddling));
        let named: BTreeSet<&str> = full.iter().copied().collect();
        let sorted: Vec<&String> = children.iter().collect();
        assert!(named.contains(sorted[7].as_str()));
        assert!(named.contains(sorted[20].as_str()) && named.contains(sorted[21].as_str()));
        assert_eq!(refs.len() / REF_WIDTH + full.len(), 40);
    }
}
