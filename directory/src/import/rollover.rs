//! The safeguard of the year rollover: an import that would disable or move a large part of a
//! school's accounts (a March export without the new first graders, a school missing from the
//! files) is held (its transaction rolled back, so nothing of it is kept), with a summary of
//! what it would do, until the operator confirms it.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::store::roster::AccountPlace;

/// When an import is held: it disables or moves out at least `minimum` accounts of one school
/// (or of the whole board) and more than `threshold_percent` of those that could sign in
/// before. A year's graduates (a sixth of a primary school) stay under the default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Safeguard {
    /// Share of a school's accounts, in percent, above which an import is held.
    pub threshold_percent: u32,
    /// Fewer accounts than this never hold an import (a small school's few leavers).
    pub minimum: u64,
}

impl Default for Safeguard {
    fn default() -> Self {
        Self {
            threshold_percent: 25,
            minimum: 10,
        }
    }
}

/// Sourced ids named per school as examples.
const EXAMPLES: usize = 5;

/// Accounts an import disables or moves, counted per school they leave, as the rows are
/// written (inside the transaction, so nothing is kept when the import is held).
#[derive(Debug, Default)]
pub struct Leaving {
    schools: BTreeMap<Option<String>, SchoolLeaving>,
}

#[derive(Debug, Default)]
struct SchoolLeaving {
    disabled: u64,
    moved: u64,
    by_role: BTreeMap<String, u64>,
    examples: Vec<String>,
}

impl Leaving {
    /// Notes one account's change: `before` is where it was; `after` where it goes (its school,
    /// and whether it may still sign in), `None` when it is removed. Accounts that could not
    /// sign in before, and accounts that stay, are not counted.
    pub fn note(
        &mut self,
        sourced_id: &str,
        before: &AccountPlace,
        after: Option<(Option<&str>, bool)>,
    ) {
        if !before.enabled {
            return;
        }
        let disabled = match after {
            None | Some((_, false)) => true,
            Some((school, true)) if school != before.school_id.as_deref() => false,
            Some(_) => return,
        };
        let school = self.schools.entry(before.school_id.clone()).or_default();
        if disabled {
            school.disabled += 1;
        } else {
            school.moved += 1;
        }
        *school.by_role.entry(before.role.clone()).or_default() += 1;
        if school.examples.len() < EXAMPLES {
            school.examples.push(sourced_id.to_owned());
        }
    }

    /// Whether no account left its place.
    pub fn is_empty(&self) -> bool {
        self.schools.is_empty()
    }
}

/// What an import would disable or move, per school, and whether that holds it.
#[derive(Clone, Debug, Serialize)]
pub struct MassChange {
    /// The threshold in force, in percent of a school's accounts.
    pub threshold_percent: u32,
    /// Whether the change passes the threshold (the import is held unless confirmed).
    pub exceeds_threshold: bool,
    /// Accounts that could sign in before the import, on the whole board.
    pub accounts_before: u64,
    /// Of those, how many it disables or moves to another school.
    pub leaving: u64,
    /// Per school the accounts leave.
    pub schools: Vec<SchoolChange>,
}

/// One school's share of a mass change.
#[derive(Clone, Debug, Serialize)]
pub struct SchoolChange {
    /// The school's sourcedId (`None`: accounts without a school).
    pub school: Option<String>,
    /// Accounts of the school that could sign in before the import.
    pub accounts_before: u64,
    /// Accounts it disables (removed, or no longer enabled).
    pub disabled: u64,
    /// Accounts it moves to another school.
    pub moved: u64,
    /// Disabled and moved, per Renkei role.
    pub by_role: BTreeMap<String, u64>,
    /// The first accounts concerned, by sourcedId.
    pub examples: Vec<String>,
    /// Whether this school passes the threshold.
    pub exceeds_threshold: bool,
}

impl MassChange {
    /// Sums up `leaving` against the accounts each school had (`before`); `None` when no
    /// account leaves.
    pub fn of(
        leaving: Leaving,
        before: &HashMap<Option<String>, u64>,
        safeguard: Safeguard,
    ) -> Option<Self> {
        if leaving.is_empty() {
            return None;
        }
        let over = |left: u64, had: u64| {
            left >= safeguard.minimum
                && u128::from(left) * 100
                    > u128::from(safeguard.threshold_percent) * u128::from(had)
        };
        let schools: Vec<SchoolChange> = leaving
            .schools
            .into_iter()
            .map(|(school, left)| {
                let had = before.get(&school).copied().unwrap_or(0);
                SchoolChange {
                    exceeds_threshold: over(left.disabled + left.moved, had),
                    accounts_before: had,
                    school,
                    disabled: left.disabled,
                    moved: left.moved,
                    by_role: left.by_role,
                    examples: left.examples,
                }
            })
            .collect();
        let accounts_before = before.values().sum();
        let leaving = schools.iter().map(|s| s.disabled + s.moved).sum();
        Some(MassChange {
            threshold_percent: safeguard.threshold_percent,
            exceeds_threshold: over(leaving, accounts_before)
                || schools.iter().any(|s| s.exceeds_threshold),
            accounts_before,
            leaving,
            schools,
        })
    }
}

impl std::fmt::Display for MassChange {
    /// One line per school, for the text report.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "  Accounts disabled or moved to another school: {} of {} (threshold {}% of a school)",
            self.leaving, self.accounts_before, self.threshold_percent
        )?;
        for school in &self.schools {
            let roles: Vec<String> = school
                .by_role
                .iter()
                .map(|(role, n)| format!("{role} {n}"))
                .collect();
            writeln!(
                f,
                "    {}: {} disabled, {} moved, of {} ({}){}; e.g. {}",
                school.school.as_deref().unwrap_or("(no school)"),
                school.disabled,
                school.moved,
                school.accounts_before,
                roles.join(", "),
                if school.exceeds_threshold {
                    " — above the threshold"
                } else {
                    ""
                },
                school.examples.join(", ")
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(school: &str) -> AccountPlace {
        AccountPlace {
            school_id: Some(school.to_owned()),
            role: "student".into(),
            enabled: true,
        }
    }

    #[test]
    fn a_third_of_a_school_passes_the_threshold_and_a_sixth_does_not() {
        let before = HashMap::from([(Some("s1".to_owned()), 60), (Some("s2".to_owned()), 60)]);
        let mut leaving = Leaving::default();
        for i in 0..20 {
            leaving.note(&format!("a{i}"), &place("s1"), None);
        }
        for i in 0..10 {
            leaving.note(&format!("b{i}"), &place("s2"), Some((Some("s1"), true)));
        }
        let change = MassChange::of(leaving, &before, Safeguard::default()).unwrap();
        assert!(change.exceeds_threshold);
        assert_eq!(change.leaving, 30);
        assert!(change.schools[0].exceeds_threshold, "20 of 60 is a third");
        assert_eq!(change.schools[0].disabled, 20);
        assert!(!change.schools[1].exceeds_threshold, "10 of 60 is a sixth");
        assert_eq!(change.schools[1].moved, 10);
        assert_eq!(change.schools[0].examples.len(), EXAMPLES);
    }

    #[test]
    fn accounts_that_stay_or_were_disabled_already_do_not_count() {
        let mut leaving = Leaving::default();
        leaving.note("a", &place("s1"), Some((Some("s1"), true)));
        let mut off = place("s1");
        off.enabled = false;
        leaving.note("b", &off, None);
        assert!(leaving.is_empty());
        assert!(MassChange::of(leaving, &HashMap::new(), Safeguard::default()).is_none());
    }

    #[test]
    fn many_small_shares_can_pass_the_threshold_on_the_whole_board() {
        let before: HashMap<Option<String>, u64> =
            (0..5).map(|i| (Some(format!("s{i}")), 30)).collect();
        let mut leaving = Leaving::default();
        for school in 0..5 {
            for i in 0..9 {
                leaving.note(
                    &format!("a{school}-{i}"),
                    &place(&format!("s{school}")),
                    None,
                );
            }
        }
        let change = MassChange::of(leaving, &before, Safeguard::default()).unwrap();
        assert!(
            change.schools.iter().all(|s| !s.exceeds_threshold),
            "9 is under the minimum in each school"
        );
        assert!(change.exceeds_threshold, "45 of 150 is above a quarter");
    }

    #[test]
    fn a_few_leavers_of_a_small_school_are_not_held() {
        let before = HashMap::from([(Some("s1".to_owned()), 8)]);
        let mut leaving = Leaving::default();
        for i in 0..4 {
            leaving.note(&format!("a{i}"), &place("s1"), None);
        }
        let change = MassChange::of(leaving, &before, Safeguard::default()).unwrap();
        assert!(!change.exceeds_threshold, "4 is under the minimum of 10");
    }
}
