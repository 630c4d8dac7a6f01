//! People's roles as the roster states them. OneRoster 1.2 lists them in `roles.csv`; 1.1 keeps
//! one role and a list of organisations on the user record itself. This is the one reading of
//! a 1.1 record as 1.2 roles, for the provider's claims and the gateway's answers alike.

use serde_json::Value;

/// One role of a person in an organisation, as a user record states it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StatedRole<'a> {
    /// OneRoster role (`student`, `teacher`, …).
    pub role: &'a str,
    /// `primary` (the record's first organisation) or `secondary`.
    pub role_type: &'static str,
    /// The organisation reference as the record gives it (`{"sourcedId": …, "type": "org"}`).
    pub org: &'a Value,
}

impl StatedRole<'_> {
    /// The organisation's sourcedId, if the reference names one.
    pub fn org_id(&self) -> Option<&str> {
        self.org.get("sourcedId").and_then(Value::as_str)
    }
}

/// The roles a OneRoster 1.1 user record states through its `role` and `orgs` (the first
/// organisation primary, the others secondary); none for a 1.2 record, which has `roles`, or
/// for a record without them.
pub fn roles_of_1_1_record(user: &Value) -> Vec<StatedRole<'_>> {
    if user.get("roles").is_some() {
        return Vec::new();
    }
    let (Some(Value::String(role)), Some(Value::Array(orgs))) =
        (user.get("role"), user.get("orgs"))
    else {
        return Vec::new();
    };
    orgs.iter()
        .enumerate()
        .map(|(i, org)| StatedRole {
            role,
            role_type: if i == 0 { "primary" } else { "secondary" },
            org,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::roles_of_1_1_record;

    #[test]
    fn a_1_1_record_states_its_first_org_as_primary() {
        let user = json!({
            "role": "teacher",
            "orgs": [{"sourcedId": "sch-1", "type": "org"}, {"sourcedId": "sch-2", "type": "org"}],
        });
        let roles = roles_of_1_1_record(&user);
        assert_eq!(roles.len(), 2);
        assert_eq!(
            (roles[0].role, roles[0].role_type, roles[0].org_id()),
            ("teacher", "primary", Some("sch-1"))
        );
        assert_eq!(
            (roles[1].role_type, roles[1].org_id()),
            ("secondary", Some("sch-2"))
        );
    }

    #[test]
    fn records_with_1_2_roles_or_without_orgs_state_none_this_way() {
        assert!(roles_of_1_1_record(&json!({"role": "student", "roles": []})).is_empty());
        assert!(roles_of_1_1_record(&json!({"role": "student"})).is_empty());
        assert!(roles_of_1_1_record(&json!("not an object")).is_empty());
    }
}
