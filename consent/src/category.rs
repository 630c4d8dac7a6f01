//! The registry of data categories: what apps may ask to read, with names in Japanese and
//! English and a sensitivity class (MEXT information-asset classes I–III). Seeded by migration;
//! OneRoster categories use the OneRoster 1.2 scope URIs, the others
//! `urn:renkei:scope:<name>.readonly`.

use serde::Serialize;

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
