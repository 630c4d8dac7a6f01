//! The registry of data categories: what apps may ask to read, with names in Japanese and
//! English and a sensitivity class (MEXT information-asset classes I–III). Seeded by migration;
//! OneRoster categories use the OneRoster 1.2 scope URIs, the others
//! `urn:renkei:scope:<name>.readonly`.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::store::ConsentStore;
use renkei_platform::{AuditEvent, AuditLog};

/// One data category.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Category {
    /// Stable identifier (also the OAuth scope an app asks for).
    pub id: String,
    /// Japanese name.
    pub name_ja: String,
    /// English name.
    pub name_en: String,
    /// Japanese description.
    pub description_ja: String,
    /// English description.
    pub description_en: String,
    /// 1 (class I, 要配慮個人情報), 2 (class II) or 3 (class III).
    pub sensitivity: i64,
}

impl Category {
    /// Class I data (要配慮個人情報) may only be shared on a guardian's consent unless an
    /// administrator records why the board's duties cover it.
    pub fn is_highly_sensitive(&self) -> bool {
        self.sensitivity == 1
    }
}

/// Adds an administrator's category after checking its identifier, names and class, and
/// audits it (through `via`).
pub async fn add(
    store: &dyn ConsentStore,
    audit: &AuditLog,
    via: &str,
    category: &Category,
    now: i64,
) -> Result<()> {
    let well_formed = category
        .id
        .strip_prefix("urn:renkei:scope:")
        .and_then(|rest| rest.strip_suffix(".readonly"))
        .is_some_and(|name| {
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if !well_formed {
        return Err(Error::Invalid(format!(
            "category id {:?} must look like urn:renkei:scope:<name>.readonly (lower-case letters, digits, hyphens)",
            category.id
        )));
    }
    if category.name_ja.trim().is_empty() || category.name_en.trim().is_empty() {
        return Err(Error::Invalid(
            "a category needs a Japanese and an English name (--name-ja, --name-en)".into(),
        ));
    }
    if !(1..=3).contains(&category.sensitivity) {
        return Err(Error::Invalid(
            "--sensitivity must be 1 (要配慮個人情報), 2 or 3".into(),
        ));
    }
    if store.category(&category.id).await?.is_some() {
        return Err(Error::Invalid(format!(
            "the category {:?} already exists",
            category.id
        )));
    }
    store.insert_category(category, now).await?;
    audit
        .append(AuditEvent::change(
            "admin",
            None,
            vec![category.id.clone()],
            Vec::new(),
            via,
            format!("data category {:?} added", category.name_ja),
        ))
        .await?;
    Ok(())
}
