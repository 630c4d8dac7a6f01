//! Measures capability tokens: size of a school-level token, minting (signing) time, and the
//! verifier's costs per token and per "may I return category C of child S?" question.
//!
//! `capability-bench [CHILDREN] [ROUNDS]` (defaults 1000 and 200) on a temporary SQLite file.

use std::collections::BTreeSet;
use std::time::Instant;

use renkei_capability::Child;
use renkei_capability::Target;
use renkei_consent::capability::mint::{self, Claims, Coverage};
use renkei_consent::service::ConsentService;
use renkei_consent::store::{CapabilityRow, Pupil};
use renkei_platform::{AuditLog, Database};

const ATTENDANCE: &str = "urn:renkei:scope:attendance.readonly";

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let children: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let file =
        std::env::temp_dir().join(format!("renkei-capability-bench-{}.db", std::process::id()));
    let url = format!("sqlite://{}", file.display());
    let database = Database::open(&url)
        .await
        .expect("temporary SQLite database");
    let service = ConsentService::open(&database, AuditLog::start(&database))
        .await
        .expect("consent service");

    // A school of `children` pupils, half of them covered (the largest list a token carries).
    let pupils: Vec<Pupil> = (0..children)
        .map(|_| Pupil {
            id: uuid::Uuid::new_v4().to_string(),
            grade: Some("P3".into()),
        })
        .collect();
    let covered: BTreeSet<String> = pupils.iter().step_by(2).map(|p| p.id.clone()).collect();
    let coverage = [Coverage {
        category: ATTENDANCE.into(),
        policy_version: 1,
        children: covered,
        ends_at: None,
    }];
    let keys = service.keys.snapshot();
    let now = renkei_platform::clock::now();
    let claims = Claims {
        client_id: "bench-app",
        subject: "bench-app",
        targets: &[Target::School("school".into())],
        coverage: &coverage,
        pupils_in_scope: &pupils,
        now,
    };
    let started = Instant::now();
    let all_minted: Vec<_> = (0..rounds)
        .map(|_| mint::sign(&keys, &claims).expect("mint"))
        .collect();
    let mint_time = started.elapsed() / rounds as u32;
    for minted in &all_minted {
        service
            .store
            .record_capability(&CapabilityRow {
                revocation_id: minted.revocation_id.clone(),
                client_id: "bench-app".into(),
                categories: vec![ATTENDANCE.into()],
                subject: "bench-app".into(),
                issued_at_ms: renkei_capability::now_ms(),
                expires_at: minted.expires_at,
            })
            .await
            .expect("record");
    }
    let minted = &all_minted[0];

    let verifier = &service.verifier;
    let time_verifying = async |tokens: Vec<&str>| {
        let started = Instant::now();
        for token in &tokens {
            verifier.verify(token).await.expect("verify");
        }
        started.elapsed() / tokens.len() as u32
    };
    // First use of each token: parse, signature, revocation lookup, facts.
    let verify_time = time_verifying(all_minted.iter().map(|m| m.token.as_str()).collect()).await;
    // Later uses of a token: its statements are kept; revocation and expiry are checked again.
    let verify_again = time_verifying(vec![minted.token.as_str(); rounds]).await;

    let capability = service
        .verifier
        .verify(&minted.token)
        .await
        .expect("verify");
    let school = vec!["school".to_owned()];
    let started = Instant::now();
    let mut allowed = 0;
    for pupil in &pupils {
        let child = Child {
            id: &pupil.id,
            schools: &school,
            classes: &[],
        };
        allowed += usize::from(capability.may_read_child(ATTENDANCE, &child));
    }
    let per_child = started.elapsed() / pupils.len() as u32;
    assert_eq!(allowed, children.div_ceil(2));

    // The same token with an appended check that always holds: every question runs Datalog.
    let attenuated = biscuit_auth::Biscuit::from_base64(&minted.token, |id: Option<u32>| {
        keys.public(id.unwrap_or_default())
            .ok_or(biscuit_auth::error::Format::UnknownPublicKey)
    })
    .and_then(|b| {
        b.append(
            biscuit_auth::BlockBuilder::new()
                .code("check if time($t), $t <= 2999-12-31T00:00:00Z")?,
        )
    })
    .and_then(|b| b.to_base64())
    .expect("attenuate");
    let by_datalog = service
        .verifier
        .verify(&attenuated)
        .await
        .expect("verify attenuated");
    let started = Instant::now();
    let mut also = 0;
    for pupil in &pupils {
        let child = Child {
            id: &pupil.id,
            schools: &school,
            classes: &[],
        };
        also += usize::from(by_datalog.may_read_child(ATTENDANCE, &child));
    }
    let per_child_datalog = started.elapsed() / pupils.len() as u32;
    assert_eq!(also, allowed);

    println!("children in scope: {children} (covered: {allowed})");
    println!("token size: {} bytes (base64url)", minted.token.len());
    println!("mint (sign, with collision checks): {mint_time:?} per token");
    println!("verify, first use (signature, revocation lookup, facts): {verify_time:?} per token");
    println!("verify, later uses (revocation lookup, expiry): {verify_again:?} per token");
    println!("may_read_child (unattenuated token, direct, per child): {per_child:?}");
    println!("may_read_child (attenuated token, Datalog, per child): {per_child_datalog:?}");
    drop(database);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
}
