//! Where each child stands with each app: for every policy in force that reaches the child,
//! the latest decision and what it means now (granted, withdrawn, expired, outdated, lapsed,
//! none, or decided by the school). The guardians' and pupils' portal shows a family's own
//! children; the administrators' console a class's or a pupil's.

use renkei_directory::Directory;
use serde::Serialize;

use crate::error::Result;
use crate::policy::Basis;
use crate::record::{Authors, ConsentRecord};
use crate::store::ConsentStore;

/// One child's apps and categories.
#[derive(Serialize)]
pub struct ChildOverview {
    /// sourcedId.
    pub id: String,
    /// Display name.
    pub name: String,
    /// What apps ask, under a policy that needs this user's consent.
    pub requests: Vec<Request>,
    /// What apps receive on the board's own decision (no consent asked; state `school`).
    pub school_decided: Vec<Request>,
    /// Where the child is placed (the approval page asks which policies reach the child).
    #[serde(skip)]
    pub placement: renkei_directory::Placement,
}

/// One app asking for one category of the child.
#[derive(Serialize)]
pub struct Request {
    /// The app.
    pub client_id: String,
    /// Its name.
    pub app_name: String,
    /// The category.
    pub category: crate::category::Category,
    /// 利用目的.
    pub purpose_ja: Option<String>,
    /// Purpose of use.
    pub purpose_en: Option<String>,
    /// Whose consent the policy asks (`school`: nobody's).
    pub basis: Basis,
    /// Policy version a grant agrees to.
    pub policy_version: i64,
    /// End of the policy's validity.
    pub valid_until: Option<i64>,
    /// `granted`, `withdrawn`, `expired`, `outdated` (granted to an older version), `lapsed`
    /// (granted by a guardian who no longer acts for the child: not in force), `none`, or
    /// `school` (provided on the board's decision: nothing to decide).
    pub state: &'static str,
    /// The latest decision, if any.
    pub decision: Option<ConsentRecord>,
}

/// Where each of `children` stands with every policy in force (of `client_id` only, if given)
/// on one of the `asked` bases, and with those on the school's decision.
pub async fn states(
    store: &dyn ConsentStore,
    directory: &dyn Directory,
    apps: &dyn renkei_idp::store::Store,
    children: Vec<String>,
    asked: &[Basis],
    client_id: Option<&str>,
    now: i64,
) -> Result<Vec<ChildOverview>> {
    // Each policy's category and app name, read once for every child.
    let mut policies = Vec::new();
    for policy in store.policies(client_id).await? {
        if !(policy.in_force(now)
            && (asked.contains(&policy.basis) || policy.basis == Basis::School))
        {
            continue;
        }
        let Some(category) = store.category(&policy.category_id).await? else {
            continue;
        };
        let app_name = apps
            .client(&policy.client_id)
            .await?
            .map(|c| c.name)
            .unwrap_or_default();
        policies.push((policy, category, app_name));
    }
    let mut overview = Vec::new();
    for child in children {
        let Some(placement) = directory.placement(&child).await? else {
            continue;
        };
        let name = directory
            .person_name(&child)
            .await?
            .unwrap_or_else(|| child.clone());
        let records = store.consents(Some(&child), None).await?;
        let authors = Authors::of(directory, std::slice::from_ref(&child)).await?;
        let mut requests = Vec::new();
        let mut school_decided = Vec::new();
        for (policy, category, app_name) in
            policies.iter().filter(|(p, _, _)| p.reaches(&placement))
        {
            // The board's decision needs no one's consent: it is shown as such, undecided.
            let (state, decision) = if policy.basis == Basis::School {
                ("school", None)
            } else {
                let decision = records
                    .iter()
                    .rev()
                    .find(|r| {
                        r.client_id == policy.client_id && r.category_id == policy.category_id
                    })
                    .cloned();
                let state = match &decision {
                    None => "none",
                    Some(r) if r.action == "withdraw" => "withdrawn",
                    Some(r) if !authors.may_still_act(r) => "lapsed",
                    Some(r) if r.policy_version != policy.version => "outdated",
                    Some(r) if r.until.is_some_and(|until| until <= now) => "expired",
                    Some(_) => "granted",
                };
                (state, decision)
            };
            let request = Request {
                client_id: policy.client_id.clone(),
                app_name: app_name.clone(),
                category: category.clone(),
                basis: policy.basis,
                purpose_ja: policy.purpose_ja.clone(),
                purpose_en: policy.purpose_en.clone(),
                policy_version: policy.version,
                valid_until: policy.valid_until,
                state,
                decision,
            };
            if policy.basis == Basis::School {
                school_decided.push(request);
            } else {
                requests.push(request);
            }
        }
        overview.push(ChildOverview {
            id: child,
            name,
            requests,
            school_decided,
            placement,
        });
    }
    Ok(overview)
}
