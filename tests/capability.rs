//! Capability tokens, on SQLite and PostgreSQL: minted by RFC 8693 token exchange from policy ∩
//! consent, verified by our verifier library and by a third-party Biscuit implementation
//! (biscuit-python), refused when forged, tampered, expired, signed by an unknown key, revoked
//! or over-attenuated.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;

use biscuit_auth::{Biscuit, BlockBuilder};
use renkei_capability::{Capability, Child};
use renkei_capability::{TOKEN_TYPE, Target, now_ms};
use renkei_consent::capability::mint::{self, Claims, Coverage};
use renkei_consent::policy::{self, Basis, PolicyInput, Reach};
use renkei_consent::record::{self, Action, ConsentInput};
use renkei_consent::store::{ConsentStore, Pupil};
use serde_json::Value;
use support::*;

on_both_databases!(
    guardian_consent_covers_exactly_the_consenting_child,
    minted_children_follow_basis_consent_state_and_category,
    bad_tokens_are_refused,
    exchange_requests_are_validated,
    users_exchange_their_own_access_tokens,
    a_school_of_a_thousand_fits_in_eight_kilobytes,
    guardians_decide_in_the_portal_api,
    consent_page_names_the_data_the_board_lets_the_app_read,
    a_token_minted_across_a_withdrawal_is_refused_and_none_outlives_its_consent,
    a_guardian_who_lost_custody_no_longer_consents,
);

/// A consent counts only while its author may act for the child: after a delta import moves
/// s003 from guardian g002 to g001, g002's grant covers nothing, the token minted on it is
/// revoked, the portal shows g001 that it has lapsed, and g001 (not g002) decides.
async fn a_guardian_who_lost_custody_no_longer_consents(backend: Backend) {
    let board = board(backend).await;
    let app = &board.app;
    board.policy(app, ATTENDANCE, Basis::Guardian, None).await;
    board
        .decide("g002", app, ATTENDANCE, "s003", Action::Grant, None)
        .await;
    let before = board
        .capability(app, ATTENDANCE, "urn:renkei:class:cls-sakura-3-2")
        .await;
    let verifier = &board.server.consent.verifier;
    let capability = verifier.verify(&before).await.unwrap();
    assert_eq!(
        board.readable(&capability, ATTENDANCE).await,
        set(&["s003"])
    );

    // The roster: s003's guardian is now g001 (both records say so; g002 lists no child).
    let delta = std::env::temp_dir().join(format!("renkei-delta-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&delta).unwrap();
    let fixture = roster_fixture("board-1.1");
    let header = std::fs::read_to_string(fixture.join("users.csv")).unwrap();
    let header = header.lines().next().unwrap();
    let rows: Vec<String> = std::fs::read_to_string(fixture.join("users.csv"))
        .unwrap()
        .lines()
        .filter(|line| {
            line.starts_with("s003,") || line.starts_with("g001,") || line.starts_with("g002,")
        })
        .map(|line| {
            line.replace(",g002,P3,", ",g001,P3,")
                .replace(",\"s001,s002\",", ",\"s001,s002,s003\",")
                .replace(",,,s003,,,", ",,,,,,")
        })
        .collect();
    assert_eq!(rows.len(), 3);
    std::fs::write(
        delta.join("users.csv"),
        format!("{header}\n{}\n", rows.join("\n")),
    )
    .unwrap();
    let manifest = std::fs::read_to_string(roster_fixture("delta-1.1").join("manifest.csv"))
        .unwrap()
        .replace("file.enrollments,delta", "file.enrollments,absent");
    std::fs::write(delta.join("manifest.csv"), manifest).unwrap();
    let report = renkei::import_roster(
        &board.server.app.database,
        &board.server.audit,
        "test: delta",
        &delta,
        &renkei_directory::ImportOptions::default(),
    )
    .await
    .unwrap();
    std::fs::remove_dir_all(&delta).unwrap();
    assert_eq!(report.outcome, "applied", "{report}");
    let directory = board.server.directory.as_ref();
    assert!(directory.is_guardian_of("g001", "s003").await.unwrap());
    assert!(!directory.is_guardian_of("g002", "s003").await.unwrap());

    // The token minted on the old roster is refused, here and by third parties.
    assert_eq!(
        verifier.verify(&before).await.err().unwrap().to_string(),
        "the token has been revoked"
    );
    assert_eq!(
        board.third_party(&before, "s003", ATTENDANCE).await,
        "deny: revoked"
    );
    // g002's grant no longer covers s003.
    let class = "urn:renkei:class:cls-sakura-3-2";
    assert!(board.readable_now(app, ATTENDANCE, class).await.is_empty());

    // The current guardian sees it has lapsed and decides; the former one cannot.
    board.server.set_password("g001", "guardian-pass-001").await;
    let browser = Browser::new();
    browser
        .sign_in(&board.server, "g001", "guardian-pass-001")
        .await;
    let overview: Value = browser
        .get(&board.server.url("/api/consent"))
        .await
        .json()
        .await
        .unwrap();
    let s003 = overview["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|child| child["id"] == "s003")
        .expect("g001 now decides for s003");
    assert_eq!(s003["requests"][0]["state"], "lapsed");
    assert_eq!(s003["requests"][0]["decision"]["by_role"], "guardian");
    let former = record::record(
        board.consent.as_ref(),
        directory,
        &board.server.audit,
        "test",
        &board.user("g002").await,
        ConsentInput {
            student_id: "s003".into(),
            client_id: app.id.clone(),
            category_id: ATTENDANCE.into(),
            action: Action::Withdraw,
            until: None,
            paper_from: None,
        },
        renkei_platform::clock::now(),
    )
    .await;
    assert!(
        matches!(former, Err(renkei_consent::Error::Forbidden(_))),
        "{former:?}"
    );
    board
        .decide("g001", app, ATTENDANCE, "s003", Action::Grant, None)
        .await;
    assert_eq!(
        board.readable_now(app, ATTENDANCE, class).await,
        set(&["s003"])
    );
    board.server.stop().await;
}

const ATTENDANCE: &str = "urn:renkei:scope:attendance.readonly";
const GRADEBOOK: &str = "https://purl.imsglobal.org/spec/or/v1p2/scope/gradebook.readonly";
const FAMILY: &str = "urn:renkei:scope:family-situation.readonly";
const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const PUPILS: [&str; 6] = ["s001", "s002", "s003", "s004", "s005", "s006"];

struct Board {
    server: TestServer,
    consent: Arc<dyn ConsentStore>,
    app: TestClient,
}

async fn board(backend: Backend) -> Board {
    let server = TestServer::with_board(backend, "board-1.1").await;
    let consent = server.consent.store.clone();
    let app = server.web_app().await;
    Board {
        server,
        consent,
        app,
    }
}

impl Board {
    async fn user(&self, username: &str) -> renkei_idp::store::UserRow {
        self.server
            .store
            .user_by_username(username)
            .await
            .unwrap()
            .unwrap()
    }

    async fn policy(
        &self,
        app: &TestClient,
        category: &str,
        basis: Basis,
        justification: Option<&str>,
    ) {
        self.server
            .school_policy(app, category, basis, justification)
            .await;
    }

    async fn decide(
        &self,
        by: &str,
        app: &TestClient,
        category: &str,
        child: &str,
        action: Action,
        until: Option<i64>,
    ) {
        let actor = self.user(by).await;
        // An administrator records a guardian's paper consent naming the guardian who signed.
        let asks_guardians = self
            .consent
            .current_policy(&app.id, category, renkei_platform::clock::now())
            .await
            .unwrap()
            .is_some_and(|p| p.basis == Basis::Guardian);
        let paper_from = if actor.role == "administrator" && asks_guardians {
            self.server
                .directory
                .guardian_accounts_of(&[child.to_owned()])
                .await
                .unwrap()
                .into_iter()
                .map(|(_, account)| account)
                .next()
        } else {
            None
        };
        record::record(
            self.consent.as_ref(),
            self.server.directory.as_ref(),
            &self.server.audit,
            "test",
            &actor,
            ConsentInput {
                student_id: child.into(),
                client_id: app.id.clone(),
                category_id: category.into(),
                action,
                until,
                paper_from,
            },
            renkei_platform::clock::now(),
        )
        .await
        .unwrap();
    }

    /// Asks for a capability at the token endpoint with the app's own credentials.
    async fn exchange(
        &self,
        app: &TestClient,
        scope: &str,
        resource: Option<&str>,
    ) -> reqwest::Response {
        let mut form = vec![
            ("grant_type", EXCHANGE),
            ("requested_token_type", TOKEN_TYPE),
            ("scope", scope),
        ];
        form.extend(resource.map(|r| ("resource", r)));
        back_channel(&self.server, app, "/token", &form).await
    }

    /// The pupils a token exchanged now for `resource` lets the app read `category` of.
    async fn readable_now(
        &self,
        app: &TestClient,
        category: &str,
        resource: &str,
    ) -> BTreeSet<String> {
        let token = self.capability(app, category, resource).await;
        let capability = self.server.consent.verifier.verify(&token).await.unwrap();
        self.readable(&capability, category).await
    }

    async fn capability(&self, app: &TestClient, scope: &str, resource: &str) -> String {
        let response = self.exchange(app, scope, Some(resource)).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// Signs a token for `client_id` as the exchange would and records it (issued when
    /// `issued_at_ms`), for tests that choose the coverage or the moment themselves.
    async fn mint_recorded(
        &self,
        client_id: &str,
        target: Target,
        coverage: &[Coverage],
        pupils: &[Pupil],
        now: i64,
        issued_at_ms: i64,
    ) -> mint::Minted {
        let keys = self.server.consent.keys.snapshot();
        let minted = mint::sign(
            &keys,
            &Claims {
                client_id,
                subject: client_id,
                targets: &[target],
                coverage,
                pupils_in_scope: pupils,
                now,
            },
        )
        .unwrap();
        self.consent
            .record_capability(&renkei_consent::store::CapabilityRow {
                revocation_id: minted.revocation_id.clone(),
                client_id: client_id.to_owned(),
                categories: coverage.iter().map(|c| c.category.clone()).collect(),
                subject: client_id.to_owned(),
                issued_at_ms,
                expires_at: minted.expires_at,
            })
            .await
            .unwrap();
        minted
    }

    /// The pupils of the board a verified token lets the holder read `category` of.
    async fn readable(&self, capability: &Capability, category: &str) -> BTreeSet<String> {
        let mut readable = BTreeSet::new();
        for id in PUPILS.iter().chain(&["s007", "s008"]) {
            let placement = self.server.directory.placement(id).await.unwrap().unwrap();
            let child = Child {
                id,
                schools: &placement.schools,
                classes: &placement.classes,
            };
            let allowed = capability.may_read_child(category, &child);
            assert_eq!(
                allowed,
                capability.may_read_child_by_rules(category, &child),
                "{id}: the verifier and the Datalog rules disagree"
            );
            if allowed {
                readable.insert(id.to_string());
            }
        }
        readable
    }

    /// What biscuit-python, knowing only the published key and the documented vocabulary,
    /// says of reading `category` of `child`.
    async fn third_party(&self, token: &str, child: &str, category: &str) -> String {
        let placement = self
            .server
            .directory
            .placement(child)
            .await
            .unwrap()
            .unwrap();
        let root = env!("CARGO_MANIFEST_DIR");
        let output = std::process::Command::new("python3")
            .arg(format!("{root}/tests/third_party/verify_capability.py"))
            .arg(self.server.url("/capability/keys"))
            .arg(self.server.url("/capability/revoked"))
            .arg(format!("{root}/policies/capability.datalog"))
            .arg(token)
            .arg(child)
            .arg(category)
            .arg(placement.schools.join(","))
            .arg(placement.classes.join(","))
            .output()
            .expect("python3 runs");
        assert!(
            output.status.success(),
            "the third-party verifier needs python3 with biscuit-python (./scripts/test installs it): {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

async fn guardian_consent_covers_exactly_the_consenting_child(backend: Backend) {
    let board = board(backend).await;
    let app = &board.app;
    board.policy(app, ATTENDANCE, Basis::Guardian, None).await;
    // Two guardians: g002 (of s003, in class 3-2) consents, g001 (of s001 and s002) does not.
    board
        .decide("g002", app, ATTENDANCE, "s003", Action::Grant, None)
        .await;

    let response = board
        .exchange(app, ATTENDANCE, Some("urn:renkei:class:cls-sakura-3-2"))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["issued_token_type"], TOKEN_TYPE);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], ATTENDANCE);
    assert!(body["expires_in"].as_i64().unwrap() <= 300);
    let token = body["access_token"].as_str().unwrap().to_owned();
    let verifier = &board.server.consent.verifier;
    let capability = verifier.verify(&token).await.unwrap();
    assert_eq!(capability.client_id, app.id);
    assert_eq!(
        board.readable(&capability, ATTENDANCE).await,
        set(&["s003"])
    );
    assert_eq!(board.third_party(&token, "s003", ATTENDANCE).await, "allow");
    assert!(
        board
            .third_party(&token, "s004", ATTENDANCE)
            .await
            .starts_with("deny")
    );
    assert!(
        board
            .third_party(&token, "s001", ATTENDANCE)
            .await
            .starts_with("deny"),
        "outside the class the token was minted for"
    );

    board
        .decide("g002", app, ATTENDANCE, "s003", Action::Withdraw, None)
        .await;
    assert!(
        board
            .readable_now(app, ATTENDANCE, "urn:renkei:class:cls-sakura-3-2")
            .await
            .is_empty(),
        "the next token covers nobody"
    );
    let old = verifier
        .verify(&token)
        .await
        .err()
        .expect("the old token is refused");
    assert_eq!(old.to_string(), "the token has been revoked");
    assert!(
        board
            .third_party(&token, "s003", ATTENDANCE)
            .await
            .starts_with("deny: revoked")
    );
    board.server.stop().await;
}

/// Basis × consent state × category: each pupil of sakura-es is in one consent state (s001
/// none, s002 granted, s003 withdrawn, s004 expired, s005 granted to a policy version that
/// changed since — on a second app whose policy is set again — s006 granted by the child).
async fn minted_children_follow_basis_consent_state_and_category(backend: Backend) {
    let board = board(backend).await;
    let start = renkei_platform::clock::now();
    let pupils = board
        .server
        .directory
        .pupils_of_school("sakura-es")
        .await
        .unwrap();
    assert_eq!(pupils.len(), 6);
    let cases: [(&str, Basis, Option<&str>); 7] = [
        (ATTENDANCE, Basis::School, None),
        (ATTENDANCE, Basis::Guardian, None),
        (ATTENDANCE, Basis::Student, None),
        (GRADEBOOK, Basis::Guardian, None),
        (GRADEBOOK, Basis::Student, None),
        (FAMILY, Basis::Guardian, None),
        (FAMILY, Basis::School, Some("児童福祉法に基づく情報提供")),
    ];
    for (category, basis, justification) in cases {
        let app = board.server.web_app().await;
        let changed = board.server.web_app().await;
        board.policy(&app, category, basis, justification).await;
        board.policy(&changed, category, basis, justification).await;
        if basis != Basis::School {
            let paper = |child| board.decide("a001", &app, category, child, Action::Grant, None);
            paper("s002").await;
            paper("s003").await;
            board
                .decide("a001", &app, category, "s003", Action::Withdraw, None)
                .await;
            // A guardian's paper consent names one of the child's guardians: on the guardian
            // basis the expiring and the outdated consents are for children who have one.
            let (expiring, outdated) = if basis == Basis::Guardian {
                ("s001", "s003")
            } else {
                ("s004", "s005")
            };
            board
                .decide(
                    "a001",
                    &app,
                    category,
                    expiring,
                    Action::Grant,
                    Some(start + 5),
                )
                .await;
            let own = if basis == Basis::Student {
                "s006"
            } else {
                "g001"
            };
            let child = if basis == Basis::Student {
                "s006"
            } else {
                "s002"
            };
            board
                .decide(own, &app, category, child, Action::Grant, None)
                .await;
            board
                .decide("a001", &changed, category, outdated, Action::Grant, None)
                .await;
        }
        board.policy(&changed, category, basis, justification).await;
        // Mint later than s004's consent ends.
        let at = start + 10;
        let expected = match basis {
            Basis::School => set(&PUPILS),
            Basis::Guardian => set(&["s002"]),
            Basis::Student => set(&["s002", "s006"]),
        };
        let expected_changed = match basis {
            Basis::School => set(&PUPILS),
            _ => BTreeSet::new(),
        };
        for (client, expected) in [(&app, expected), (&changed, expected_changed)] {
            let coverage = mint::coverage(
                board.consent.as_ref(),
                board.server.directory.as_ref(),
                &client.id,
                &[category.to_owned()],
                &pupils,
                at,
            )
            .await
            .unwrap();
            assert_eq!(coverage.len(), 1, "{category} {basis:?}");
            assert_eq!(
                coverage[0].children, expected,
                "{category} {basis:?} coverage"
            );
            let minted = board
                .mint_recorded(
                    &client.id,
                    Target::School("sakura-es".into()),
                    &coverage,
                    &pupils,
                    at,
                    now_ms(),
                )
                .await;
            let capability = board
                .server
                .consent
                .verifier
                .verify_at(&minted.token, at)
                .await
                .unwrap();
            assert_eq!(
                board.readable(&capability, category).await,
                expected,
                "{category} {basis:?} token"
            );
            assert!(
                board
                    .readable(
                        &capability,
                        ATTENDANCE.replace("attendance", "timetable").as_str()
                    )
                    .await
                    .is_empty()
            );
        }
    }
    // Class I on the child's own consent is not a policy an administrator can set.
    let refused = policy::set(
        board.consent.as_ref(),
        board.server.directory.as_ref(),
        &board.server.audit,
        "test",
        PolicyInput {
            client_id: board.app.id.clone(),
            category_id: FAMILY.into(),
            basis: Basis::Student,
            reach: vec![Reach::School("sakura-es".into())],
            purpose_ja: None,
            purpose_en: None,
            valid_until: None,
            justification: None,
            by: "a001".into(),
        },
        start,
    )
    .await;
    assert!(refused.is_err());
    board.server.stop().await;
}

async fn bad_tokens_are_refused(backend: Backend) {
    let board = board(backend).await;
    let app = &board.app;
    board.policy(app, ATTENDANCE, Basis::School, None).await;
    board.policy(app, GRADEBOOK, Basis::School, None).await;
    let token = board
        .capability(
            app,
            &format!("{ATTENDANCE} {GRADEBOOK}"),
            "urn:renkei:class:cls-sakura-3-1",
        )
        .await;
    let verifier = &board.server.consent.verifier;
    let capability = verifier.verify(&token).await.unwrap();
    assert_eq!(
        board.readable(&capability, GRADEBOOK).await,
        set(&["s001", "s002"])
    );

    // Forged: the same facts signed by a key that is not published.
    let forger = biscuit_auth::KeyPair::new();
    let forged = Biscuit::builder()
        .root_key_id(1)
        .code(format!(
            "app(\"{}\"); category(\"{ATTENDANCE}\"); scope_school(\"sakura-es\"); covers_category(0, \"{ATTENDANCE}\"); covers_child(0, \"s001\"); expires(2099-01-01T00:00:00Z);",
            app.id
        ))
        .unwrap()
        .build(&forger)
        .unwrap()
        .to_base64()
        .unwrap();
    assert!(verifier.verify(&forged).await.is_err(), "forged");
    assert!(
        board
            .third_party(&forged, "s001", ATTENDANCE)
            .await
            .starts_with("deny")
    );
    // Tampered: one byte of the signed payload changed.
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE;
    let mut bytes = engine.decode(&token).unwrap();
    let middle = bytes.len() / 3;
    bytes[middle] ^= 0x01;
    assert!(
        verifier.verify(&engine.encode(&bytes)).await.is_err(),
        "tampered"
    );
    // Wrong key: a root key id that is not published.
    let wrong = Biscuit::builder()
        .root_key_id(999)
        .fact("app(\"x\")")
        .unwrap()
        .build(&forger)
        .unwrap();
    assert!(
        verifier.verify(&wrong.to_base64().unwrap()).await.is_err(),
        "unknown key id"
    );
    // Expired.
    let later = verifier
        .verify_at(&token, renkei_platform::clock::now() + 301)
        .await;
    assert_eq!(later.err().unwrap().to_string(), "the token has expired");

    // Attenuated offline by the app: one child, one category, shorter expiry.
    let kid = Biscuit::from_base64(&token, |_| Ok(biscuit_auth::KeyPair::new().public())).err();
    assert!(
        kid.is_some(),
        "a token does not verify under any key but its own"
    );
    let keys = board.server.consent.keys.snapshot();
    let parsed = Biscuit::from_base64(&token, |id: Option<u32>| {
        keys.public(id.unwrap())
            .ok_or(biscuit_auth::error::Format::UnknownPublicKey)
    })
    .unwrap();
    let one_child = parsed
        .append(
            BlockBuilder::new()
                .code("check if request_child(\"s001\")")
                .unwrap(),
        )
        .unwrap()
        .to_base64()
        .unwrap();
    let narrowed = verifier.verify(&one_child).await.unwrap();
    assert_eq!(board.readable(&narrowed, ATTENDANCE).await, set(&["s001"]));
    assert_eq!(
        board.third_party(&one_child, "s001", ATTENDANCE).await,
        "allow"
    );
    assert!(
        board
            .third_party(&one_child, "s002", ATTENDANCE)
            .await
            .starts_with("deny"),
        "over-attenuated"
    );
    let one_category = parsed
        .append(
            BlockBuilder::new()
                .code(format!("check if request_category(\"{GRADEBOOK}\")"))
                .unwrap(),
        )
        .unwrap()
        .to_base64()
        .unwrap();
    let narrowed = verifier.verify(&one_category).await.unwrap();
    assert!(
        board.readable(&narrowed, ATTENDANCE).await.is_empty(),
        "over-attenuated category"
    );
    assert_eq!(
        board.readable(&narrowed, GRADEBOOK).await,
        set(&["s001", "s002"])
    );
    let shorter = parsed
        .append(
            BlockBuilder::new()
                .code("check if time($t), $t <= 2000-01-01T00:00:00Z")
                .unwrap(),
        )
        .unwrap()
        .to_base64()
        .unwrap();
    assert_eq!(
        verifier.verify(&shorter).await.err().unwrap().to_string(),
        "the token has expired",
        "attenuated expiry"
    );
    let both = Biscuit::from_base64(&one_category, |id: Option<u32>| {
        keys.public(id.unwrap())
            .ok_or(biscuit_auth::error::Format::UnknownPublicKey)
    })
    .unwrap()
    .append(
        BlockBuilder::new()
            .code("check if request_child(\"s002\"); check if time($t), $t <= 2999-01-01T00:00:00Z")
            .unwrap(),
    )
    .unwrap()
    .to_base64()
    .unwrap();
    let narrowed = verifier.verify(&both).await.unwrap();
    assert_eq!(board.readable(&narrowed, GRADEBOOK).await, set(&["s002"]));
    assert!(board.readable(&narrowed, ATTENDANCE).await.is_empty());
    // An appended block cannot widen: facts are refused before anything evaluates them (they
    // would not be trusted by the rules either), and so is anything but the three narrowing
    // checks: a rule joining appended facts with themselves would cost the cube of their number.
    let refused = |block: &str| {
        let appended = parsed
            .append(BlockBuilder::new().code(block).unwrap())
            .unwrap()
            .to_base64()
            .unwrap();
        async move { verifier.verify(&appended).await.err().unwrap().to_string() }
    };
    let widening = refused(
        "covers_child(0, \"s003\"); scope_school(\"aoba-jhs\"); covers_child(0, \"s007\");",
    )
    .await;
    assert!(
        widening.starts_with(
            "the token's attenuation is refused: block 1 holds `covers_child(0, \"s003\")`"
        ),
        "{widening}"
    );
    let facts: String = (0..300).map(|i| format!("s({i});")).collect();
    let cube = refused(&format!(
        "{facts} q($x) <- s($x), s($y), s($z), $x + $y + $z == -1; check if q(0);"
    ))
    .await;
    assert!(
        cube.starts_with("the token's attenuation is refused: block 1 holds"),
        "{cube}"
    );
    let wide_check = refused("check if request_child($c), request_class($c)").await;
    assert!(
        wide_check.contains("may only hold checks of the forms"),
        "{wide_check}"
    );
    let many: String = (0..17)
        .map(|i| format!("check if request_child(\"s{i:03}\");"))
        .collect();
    assert!(refused(&many).await.contains("holds 17 checks; at most 16"));

    // Revoked: a policy change stops outstanding tokens at once (and so does disabling the app,
    // below).
    board.policy(app, ATTENDANCE, Basis::Guardian, None).await;
    assert_eq!(
        verifier.verify(&token).await.err().unwrap().to_string(),
        "the token has been revoked"
    );
    assert!(
        verifier.verify(&one_child).await.is_err(),
        "attenuated copies are revoked with it"
    );
    let fresh = board
        .capability(app, GRADEBOOK, "urn:renkei:class:cls-sakura-3-1")
        .await;
    assert!(verifier.verify(&fresh).await.is_ok());
    let disabled = run_renkei(
        &board.server.database.url,
        &["client", "disable", "--client", &app.id],
        None,
    );
    assert!(
        disabled.status.success(),
        "{}",
        String::from_utf8_lossy(&disabled.stderr)
    );
    assert_eq!(
        verifier.verify(&fresh).await.err().unwrap().to_string(),
        "the token has been revoked"
    );
    let refused = board
        .exchange(app, GRADEBOOK, Some("urn:renkei:class:cls-sakura-3-1"))
        .await;
    assert_eq!(refused.status(), 401, "a disabled app cannot authenticate");
    let revoked: Value = reqwest::get(board.server.url("/capability/revoked"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(revoked["revoked"].as_array().unwrap().len(), 2);
    board.server.stop().await;
}

async fn exchange_requests_are_validated(backend: Backend) {
    let board = board(backend).await;
    let app = &board.app;
    let error = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        (status, body["error"].as_str().unwrap().to_owned())
    };
    let nothing_allowed = board
        .exchange(app, ATTENDANCE, Some("urn:renkei:class:cls-sakura-3-1"))
        .await;
    assert_eq!(error(nothing_allowed).await, (400, "invalid_scope".into()));
    board.policy(app, ATTENDANCE, Basis::School, None).await;
    let unknown = board
        .exchange(
            app,
            "urn:renkei:scope:nope.readonly",
            Some("urn:renkei:class:cls-sakura-3-1"),
        )
        .await;
    assert_eq!(error(unknown).await, (400, "invalid_scope".into()));
    let no_target = board.exchange(app, ATTENDANCE, None).await;
    assert_eq!(error(no_target).await, (400, "invalid_target".into()));
    let bad_target = board
        .exchange(app, ATTENDANCE, Some("https://elsewhere.example/"))
        .await;
    assert_eq!(error(bad_target).await, (400, "invalid_target".into()));
    let missing_class = board
        .exchange(app, ATTENDANCE, Some("urn:renkei:class:cls-nope"))
        .await;
    assert_eq!(error(missing_class).await, (400, "invalid_target".into()));
    let wrong_type = back_channel(
        &board.server,
        app,
        "/token",
        &[
            ("grant_type", EXCHANGE),
            (
                "requested_token_type",
                "urn:ietf:params:oauth:token-type:jwt",
            ),
            ("scope", ATTENDANCE),
        ],
    )
    .await;
    assert_eq!(error(wrong_type).await, (400, "invalid_request".into()));
    let bad_subject = back_channel(
        &board.server,
        app,
        "/token",
        &[
            ("grant_type", EXCHANGE),
            ("requested_token_type", TOKEN_TYPE),
            ("scope", ATTENDANCE),
            ("subject_token", "not-a-token"),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
        ],
    )
    .await;
    assert_eq!(error(bad_subject).await, (400, "invalid_request".into()));
    let unauthenticated = reqwest::Client::new()
        .post(board.server.url("/token"))
        .form(&[
            ("grant_type", EXCHANGE),
            ("requested_token_type", TOKEN_TYPE),
            ("scope", ATTENDANCE),
            ("client_id", app.id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(error(unauthenticated).await.0, 401);
    // Granted may be less than asked: attendance only.
    let partial = board
        .exchange(
            app,
            &format!("{ATTENDANCE} {GRADEBOOK}"),
            Some("urn:renkei:school:sakura-es"),
        )
        .await;
    let body: Value = partial.json().await.unwrap();
    assert_eq!(body["scope"], ATTENDANCE);
    // Acting for itself, school-wide, needs the client_credentials registration: a
    // confidential client registered only to act for signed-in users cannot, policy or not.
    let for_users_only = board
        .server
        .client(renkei_idp::client::NewClient {
            name: "ひまわり連絡帳".into(),
            redirect_uris: vec!["https://renraku.example.jp/callback".into()],
            grant_types: vec!["authorization_code".into()],
            ..Default::default()
        })
        .await;
    board
        .policy(&for_users_only, ATTENDANCE, Basis::School, None)
        .await;
    let acting_alone = board
        .exchange(
            &for_users_only,
            ATTENDANCE,
            Some("urn:renkei:school:sakura-es"),
        )
        .await;
    assert_eq!(
        error(acting_alone).await,
        (400, "unauthorized_client".into())
    );
    let discovery: Value = reqwest::get(board.server.url("/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        discovery["capability_keys_uri"],
        board.server.url("/capability/keys")
    );
    assert!(
        discovery["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&Value::from(EXCHANGE))
    );
    let keys: Value = reqwest::get(board.server.url("/capability/keys"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = &keys["keys"][0];
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str()),
        (Some("OKP"), Some("Ed25519"))
    );
    assert!(
        key["kid"].as_str().unwrap().parse::<u32>().is_ok(),
        "kid is the root key id in decimal"
    );
    board.server.stop().await;
}

async fn users_exchange_their_own_access_tokens(backend: Backend) {
    let owned = board(backend).await;
    let board = &owned;
    let app = &board.app;
    board.policy(app, ATTENDANCE, Basis::School, None).await;
    board.policy(app, GRADEBOOK, Basis::School, None).await;
    let as_user = |username: &'static str, password: &'static str| async move {
        let browser = Browser::with_password(password);
        let tokens = code_flow_tokens(&board.server, app, &browser, username, "openid").await;
        tokens["access_token"].as_str().unwrap().to_owned()
    };
    let ask = |access: String, resource: Option<&'static str>| async move {
        let mut form = vec![
            ("grant_type", EXCHANGE.to_owned()),
            ("requested_token_type", TOKEN_TYPE.to_owned()),
            ("scope", format!("{ATTENDANCE} {GRADEBOOK}")),
            ("subject_token", access),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:access_token".to_owned(),
            ),
        ];
        form.extend(resource.map(|r| ("resource", r.to_owned())));
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        back_channel(&board.server, app, "/token", &form).await
    };
    // A pupil gets their own data only.
    let pupil = ask(as_user("s001", "sakura-pass-001").await, None).await;
    assert_eq!(pupil.status(), 200);
    let body: Value = pupil.json().await.unwrap();
    let capability = board
        .server
        .consent
        .verifier
        .verify(body["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(board.readable(&capability, GRADEBOOK).await, set(&["s001"]));
    let pupil_with_target = ask(
        as_user("s002", "sakura-pass-002").await,
        Some("urn:renkei:class:cls-sakura-3-1"),
    )
    .await;
    assert_eq!(pupil_with_target.status(), 400);

    // A teacher signed in with a password only gets class III (attendance), for the classes taught.
    board.server.set_password("t002", "teacher-pass-002").await;
    let teacher = as_user("t002", "teacher-pass-002").await;
    let response = ask(teacher.clone(), None).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["scope"], ATTENDANCE,
        "gradebook (class II) needs a multi-factor sign-in"
    );
    let capability = board
        .server
        .consent
        .verifier
        .verify(body["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(
        board.readable(&capability, ATTENDANCE).await,
        set(&["s003", "s004", "s005", "s006"])
    );
    let other_class = ask(teacher, Some("urn:renkei:class:cls-sakura-3-1")).await;
    let body: Value = other_class.json().await.unwrap();
    assert_eq!(body["error"], "invalid_target");

    // An administrator's reach: the board's own org reaches every school; a department of
    // さくら小 reaches that school only; a department of the board reaches none.
    board.server.set_password("a001", "admin-pass-001").await;
    board
        .server
        .execute_sql(
            "INSERT INTO orgs (id, name, org_type, parent_id) VALUES \
             ('dept-sakura-office', 'さくら小学校 事務室', 'department', 'sakura-es'), \
             ('dept-boe-gakumu', 'みなと市教育委員会 学務課', 'department', 'minato-boe')",
        )
        .await;
    let admin_asks = |org: &'static str, school: &'static str| async move {
        board
            .server
            .execute_sql(&format!(
                "UPDATE users SET school_id = '{org}' WHERE sourced_id = 'a001'"
            ))
            .await;
        let response = ask(as_user("a001", "admin-pass-001").await, Some(school)).await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        (
            status,
            body["error"].as_str().unwrap_or_default().to_owned(),
        )
    };
    let aoba = "urn:renkei:school:aoba-jhs";
    let sakura = "urn:renkei:school:sakura-es";
    assert_eq!(admin_asks("minato-boe", aoba).await, (200, String::new()));
    assert_eq!(
        admin_asks("dept-sakura-office", sakura).await,
        (200, String::new())
    );
    assert_eq!(
        admin_asks("dept-sakura-office", aoba).await,
        (400, "invalid_target".to_owned())
    );
    assert_eq!(
        admin_asks("dept-boe-gakumu", sakura).await,
        (400, "invalid_grant".to_owned())
    );

    // Another app cannot exchange this app's access token.
    let other_app = board.server.web_app().await;
    let access = as_user("s001", "sakura-pass-001").await;
    let stolen = back_channel(
        &board.server,
        &other_app,
        "/token",
        &[
            ("grant_type", EXCHANGE),
            ("requested_token_type", TOKEN_TYPE),
            ("scope", ATTENDANCE),
            ("subject_token", &access),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
        ],
    )
    .await;
    let body: Value = stolen.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    owned.server.stop().await;
}

/// A school-level token covering all 1,000 pupils of a school (the longest list) stays under
/// 8 KB, and names exactly them: 1,000 other pupils in scope are not covered.
async fn a_school_of_a_thousand_fits_in_eight_kilobytes(backend: Backend) {
    let board = board(backend).await;
    let pupils: Vec<Pupil> = (0..2000)
        .map(|_| Pupil {
            id: uuid::Uuid::new_v4().to_string(),
            grade: Some("P3".into()),
        })
        .collect();
    let children: BTreeSet<String> = pupils.iter().take(1000).map(|p| p.id.clone()).collect();
    let coverage = [Coverage {
        category: ATTENDANCE.into(),
        policy_version: 1,
        children: children.clone(),
        ends_at: None,
    }];
    let minted = board
        .mint_recorded(
            &board.app.id,
            Target::School("big-school".into()),
            &coverage,
            &pupils,
            renkei_platform::clock::now(),
            now_ms(),
        )
        .await;
    assert!(minted.token.len() < 8192, "{} bytes", minted.token.len());
    let capability = board
        .server
        .consent
        .verifier
        .verify(&minted.token)
        .await
        .unwrap();
    // The same token with a check appended that always holds: both must give the answers of
    // the Datalog rules of policies/capability.datalog, run over the whole token.
    let keys = board.server.consent.keys.snapshot();
    let attenuated = Biscuit::from_base64(&minted.token, |id: Option<u32>| {
        keys.public(id.unwrap())
            .ok_or(biscuit_auth::error::Format::UnknownPublicKey)
    })
    .unwrap()
    .append(
        BlockBuilder::new()
            .code("check if time($t), $t <= 2999-12-31T00:00:00Z")
            .unwrap(),
    )
    .unwrap()
    .to_base64()
    .unwrap();
    let by_datalog = board
        .server
        .consent
        .verifier
        .verify(&attenuated)
        .await
        .unwrap();
    assert!(!capability.is_attenuated() && by_datalog.is_attenuated());
    let school = vec!["big-school".to_owned()];
    let elsewhere = vec!["other-school".to_owned()];
    for pupil in &pupils {
        let child = Child {
            id: &pupil.id,
            schools: &school,
            classes: &[],
        };
        assert_eq!(
            capability.may_read_child(ATTENDANCE, &child),
            children.contains(&pupil.id),
            "{}",
            pupil.id
        );
        for token in [&capability, &by_datalog] {
            assert_eq!(
                token.may_read_child(ATTENDANCE, &child),
                token.may_read_child_by_rules(ATTENDANCE, &child),
                "direct and Datalog answers differ for {}",
                pupil.id
            );
        }
        for (category, schools) in [(GRADEBOOK, &school), (ATTENDANCE, &elsewhere)] {
            let child = Child {
                id: &pupil.id,
                schools,
                classes: &[],
            };
            assert!(!capability.may_read_child(category, &child));
            assert!(!by_datalog.may_read_child(category, &child));
            assert!(!by_datalog.may_read_child_by_rules(category, &child));
        }
    }
    for (category, schools) in [
        (ATTENDANCE, &school),
        (GRADEBOOK, &school),
        (ATTENDANCE, &elsewhere),
    ] {
        assert_eq!(
            capability.may_read_structure(category, schools, &[]),
            by_datalog.may_read_structure(category, schools, &[]),
            "{category} {schools:?}"
        );
    }
    board.server.stop().await;
}

async fn guardians_decide_in_the_portal_api(backend: Backend) {
    let board = board(backend).await;
    let app = &board.app;
    board.policy(app, ATTENDANCE, Basis::Guardian, None).await;
    let api = board.server.url("/api/consent");
    let anonymous = reqwest::get(&api).await.unwrap();
    assert_eq!(anonymous.status(), 401);
    board.server.set_password("g002", "guardian-pass-002").await;
    let browser = Browser::new();
    browser
        .sign_in(&board.server, "g002", "guardian-pass-002")
        .await;
    let overview: Value = browser.get(&api).await.json().await.unwrap();
    let children = overview["children"].as_array().unwrap();
    assert_eq!(children.len(), 1, "g002 decides for s003 only");
    assert_eq!(children[0]["id"], "s003");
    assert_eq!(children[0]["name"], "佐藤 一郎");
    let request = &children[0]["requests"][0];
    assert_eq!(request["client_id"], app.id.as_str());
    assert_eq!(request["category"]["name_ja"], "出欠");
    assert_eq!(request["purpose_ja"], "学習支援");
    assert_eq!(request["state"], "none");

    let change = |child: &str, action: &str| serde_json::json!({"student_id": child, "client_id": app.id, "category_id": ATTENDANCE, "action": action});
    let without_csrf = browser
        .http
        .post(&api)
        .json(&change("s003", "grant"))
        .send()
        .await
        .unwrap();
    assert_eq!(without_csrf.status(), 403);
    let csrf = overview["csrf_token"].as_str().unwrap();
    let cross_site = browser
        .http
        .post(&api)
        .header("x-csrf-token", csrf)
        .header("sec-fetch-site", "cross-site")
        .json(&change("s003", "grant"))
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    let granted = browser
        .http
        .post(&api)
        .header("x-csrf-token", csrf)
        .json(&change("s003", "grant"))
        .send()
        .await
        .unwrap();
    assert_eq!(granted.status(), 201);
    let record: Value = granted.json().await.unwrap();
    assert_eq!(
        (
            record["by_role"].as_str(),
            record["policy_version"].as_i64()
        ),
        (Some("guardian"), Some(1))
    );
    let not_mine = browser
        .http
        .post(&api)
        .header("x-csrf-token", csrf)
        .json(&change("s001", "grant"))
        .send()
        .await
        .unwrap();
    assert_eq!(not_mine.status(), 403);
    let overview: Value = browser.get(&api).await.json().await.unwrap();
    assert_eq!(overview["children"][0]["requests"][0]["state"], "granted");
    let token = board
        .capability(app, ATTENDANCE, "urn:renkei:school:sakura-es")
        .await;
    let capability = board.server.consent.verifier.verify(&token).await.unwrap();
    assert_eq!(
        board.readable(&capability, ATTENDANCE).await,
        set(&["s003"])
    );
    let withdrawn = browser
        .http
        .post(&api)
        .header("x-csrf-token", csrf)
        .json(&change("s003", "withdraw"))
        .send()
        .await
        .unwrap();
    assert_eq!(withdrawn.status(), 201);
    assert!(
        board.server.consent.verifier.verify(&token).await.is_err(),
        "withdrawal revokes at once"
    );
    // Both decisions are in the audit chain, against the child.
    board.server.gateway.audit.flush().await;
    let changes: Vec<Value> = board
        .server
        .audit
        .store()
        .audit_of_child("s003", 10)
        .await
        .unwrap()
        .iter()
        .map(|row| serde_json::from_str(&row.event).unwrap())
        .collect();
    let kinds: Vec<&str> = changes
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["consent", "consent"]);
    assert!(
        changes[0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("withdraw by ")
    );
    assert_eq!(changes[0]["endpoint"], "POST /api/consent");
    board.server.stop().await;
}

async fn consent_page_names_the_data_the_board_lets_the_app_read(backend: Backend) {
    let board = board(backend).await;
    let app = &board.app;
    board.policy(app, ATTENDANCE, Basis::School, None).await;
    let browser = Browser::new();
    browser
        .sign_in(&board.server, "s001", "sakura-pass-001")
        .await;
    let (_, challenge) = pkce();
    let url = code_request(&board.server, app, "openid", &challenge, &[("state", "s")]);
    let to_consent = browser.get(&url).await;
    let consent = board.server.url(&location(&to_consent));
    let html = browser.get(&consent).await.text().await.unwrap();
    // s001 is in grade 3: the words are a young pupil's, with furigana.
    assert!(
        html.contains("せる<ruby>情報<rp>（</rp><rt>じょうほう</rt><rp>）</rp></ruby></h2>")
            && html.contains("<strong>出欠")
            && html.contains("なんのため：学習支援"),
        "{html}"
    );
    let english = browser
        .get(&format!("{consent}&lang=en"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        english.contains("Attendance") && english.contains("Purpose: Learning support"),
        "{english}"
    );
    board.server.stop().await;
}

async fn a_token_minted_across_a_withdrawal_is_refused_and_none_outlives_its_consent(
    backend: Backend,
) {
    let board = board(backend).await;
    let app = &board.app;
    board.policy(app, ATTENDANCE, Basis::Guardian, None).await;
    let until = renkei_platform::clock::now() + 120;
    board
        .decide("g002", app, ATTENDANCE, "s003", Action::Grant, Some(until))
        .await;
    let token = board
        .capability(app, ATTENDANCE, "urn:renkei:class:cls-sakura-3-2")
        .await;
    let capability = board.server.consent.verifier.verify(&token).await.unwrap();
    assert!(
        capability.expires_at <= until,
        "the token ends with the consent it relies on"
    );

    // An exchange that read the grant, then the withdrawal, then the token is recorded: both
    // moments are the database's.
    let started = board.consent.clock_ms().await.unwrap();
    let pupils = board
        .server
        .directory
        .pupils_of_class("cls-sakura-3-2")
        .await
        .unwrap();
    let now = renkei_platform::clock::now();
    let coverage = mint::coverage(
        board.consent.as_ref(),
        board.server.directory.as_ref(),
        &app.id,
        &[ATTENDANCE.to_owned()],
        &pupils,
        now,
    )
    .await
    .unwrap();
    assert_eq!(coverage[0].children, set(&["s003"]));
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    board
        .decide("g002", app, ATTENDANCE, "s003", Action::Withdraw, None)
        .await;
    let minted = board
        .mint_recorded(
            &app.id,
            Target::Class("cls-sakura-3-2".into()),
            &coverage,
            &pupils,
            now,
            started,
        )
        .await;
    let late = board.server.consent.verifier.verify(&minted.token).await;
    assert_eq!(
        late.err().unwrap().to_string(),
        "the token has been revoked"
    );
    // Third-party verifiers refuse it too: the published list names every refused token.
    let revoked: Value = reqwest::get(board.server.url("/capability/revoked"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        revoked["revoked"]
            .as_array()
            .unwrap()
            .contains(&Value::from(minted.revocation_id.as_str())),
        "{revoked}"
    );
    assert_eq!(
        board.third_party(&minted.token, "s003", ATTENDANCE).await,
        "deny: revoked"
    );
    board.server.stop().await;
}
