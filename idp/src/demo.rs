//! The demo board (`renkei serve --demo`): a school with Japanese pupils, teachers, a guardian,
//! an administrator and a registered learning app, seeded into an empty database only.

use crate::client::{NewClient, register};
use crate::error::Result;
use crate::store::{OrgRow, Store};
use crate::user::{NewUser, create};

/// Password of every demo account (printed at start-up; demo data only).
pub const DEMO_PASSWORD: &str = "renkei-demo-2026";

/// Redirect URI registered for the demo app (a relying party on this machine).
pub const DEMO_REDIRECT_URI: &str = "http://127.0.0.1:8081/callback";

/// What was seeded, to print for the person trying Renkei.
pub struct DemoBoard {
    /// (username, role, name) of each demo account.
    pub accounts: Vec<(String, String, String)>,
    /// The demo app's client id.
    pub client_id: String,
    /// The demo app's client secret.
    pub client_secret: String,
}

/// One demo account.
struct DemoPerson {
    username: &'static str,
    role: &'static str,
    /// 姓, 名.
    name: [&'static str; 2],
    /// Their kana readings.
    kana: [&'static str; 2],
    grade: Option<&'static str>,
}

const fn person(
    username: &'static str,
    role: &'static str,
    name: [&'static str; 2],
    kana: [&'static str; 2],
    grade: Option<&'static str>,
) -> DemoPerson {
    DemoPerson {
        username,
        role,
        name,
        kana,
        grade,
    }
}

const PEOPLE: &[DemoPerson] = &[
    person(
        "student1",
        "student",
        ["山田", "太郎"],
        ["ヤマダ", "タロウ"],
        Some("P3"),
    ),
    person(
        "student2",
        "student",
        ["佐藤", "花子"],
        ["サトウ", "ハナコ"],
        Some("P3"),
    ),
    person(
        "student3",
        "student",
        ["鈴木", "一郎"],
        ["スズキ", "イチロウ"],
        Some("P4"),
    ),
    person(
        "student4",
        "student",
        ["高橋", "さくら"],
        ["タカハシ", "サクラ"],
        Some("P4"),
    ),
    person(
        "teacher1",
        "teacher",
        ["田中", "美咲"],
        ["タナカ", "ミサキ"],
        None,
    ),
    person(
        "teacher2",
        "teacher",
        ["伊藤", "健"],
        ["イトウ", "ケン"],
        None,
    ),
    person(
        "guardian1",
        "guardian",
        ["山田", "恵子"],
        ["ヤマダ", "ケイコ"],
        None,
    ),
    person(
        "admin",
        "administrator",
        ["渡辺", "修"],
        ["ワタナベ", "オサム"],
        None,
    ),
    person(
        "principal",
        "administrator",
        ["小林", "和子"],
        ["コバヤシ", "カズコ"],
        None,
    ),
];

/// Seeds the demo board if the database has no users; returns `None` otherwise.
pub async fn seed(store: &dyn Store) -> Result<Option<DemoBoard>> {
    if store.count_users().await? > 0 {
        return Ok(None);
    }
    store
        .insert_org(&OrgRow {
            id: "demo-board".into(),
            name: "みなと市教育委員会".into(),
            org_type: "district".into(),
            parent_id: None,
        })
        .await?;
    store
        .insert_org(&OrgRow {
            id: "demo-sakura-es".into(),
            name: "みなと市立さくら小学校".into(),
            org_type: "school".into(),
            parent_id: Some("demo-board".into()),
        })
        .await?;
    let mut accounts = Vec::new();
    for &DemoPerson {
        username,
        role,
        name: [family, given],
        kana: [family_kana, given_kana],
        grade,
    } in PEOPLE
    {
        create(
            store,
            NewUser {
                username: username.into(),
                role: role.into(),
                family_name: Some(family.into()),
                given_name: Some(given.into()),
                family_name_kana: Some(family_kana.into()),
                given_name_kana: Some(given_kana.into()),
                email: (role != "student").then(|| format!("{username}@demo.renkei.example")),
                password: Some(DEMO_PASSWORD.into()),
                school_id: (role != "guardian").then(|| "demo-sakura-es".into()),
                grade: grade.map(Into::into),
            },
        )
        .await?;
        accounts.push((
            username.to_owned(),
            role.to_owned(),
            format!("{family} {given}"),
        ));
    }
    let app = register(
        store,
        NewClient {
            name: "デモ学習アプリ (Demo Learning App)".into(),
            redirect_uris: vec![DEMO_REDIRECT_URI.into()],
            post_logout_redirect_uris: vec!["http://127.0.0.1:8081/".into()],
            ..NewClient::default()
        },
    )
    .await?;
    Ok(Some(DemoBoard {
        accounts,
        client_id: app.client.id,
        client_secret: app.secret.unwrap_or_default(),
    }))
}
