//! The RFC 8693 token exchange that mints capability tokens: who the request speaks for
//! decides which pupils it may be about; policy ∩ consent decides which of them each category
//! covers.

use renkei_directory::{Administers, Directory, Role};
use std::sync::Arc;

use async_trait::async_trait;
use renkei_idp::AppState;
use renkei_idp::error::Error as IdpError;
use renkei_idp::token::exchange::{ExchangeRequest, ExchangedToken, TokenExchanger};

use super::keys::CapabilityKeys;
use super::mint::{self, Claims};
use super::{TOKEN_TYPE, TTL, Target};
use crate::error::Error;
use crate::store::{CapabilityRow, ConsentStore, Pupil};

/// Mints capability tokens at the provider's token endpoint.
pub struct CapabilityExchanger {
    /// Consent storage.
    pub store: Arc<dyn ConsentStore>,
    /// The roster directory (a guardian's children, a teacher's classes).
    pub directory: Arc<dyn Directory>,
    /// Root keys.
    pub keys: Arc<CapabilityKeys>,
}

/// Who a token is about: the targets (scope facts) and the pupils it may cover.
struct Audience {
    targets: Vec<Target>,
    /// Everyone the directory places in the targets (for short-reference collisions).
    in_scope: Vec<Pupil>,
    /// The pupils the requester may see (a subset of `in_scope`).
    candidates: Vec<Pupil>,
}

#[async_trait]
impl TokenExchanger for CapabilityExchanger {
    fn token_type(&self) -> &'static str {
        TOKEN_TYPE
    }

    async fn exchange(
        &self,
        _state: &AppState,
        request: ExchangeRequest,
    ) -> renkei_idp::Result<ExchangedToken> {
        // Timed by the database, as revocation marks are: a withdrawal recorded after this
        // moment refuses the token even if it is recorded later.
        let started_ms = self.store.clock_ms().await.map_err(store_error)?;
        let now = renkei_platform::clock::now();
        let target = match request.resource.as_deref() {
            None => None,
            Some(resource) => Some(Target::parse(resource).ok_or_else(|| {
                IdpError::oauth(
                    "invalid_target",
                    "resource must be urn:renkei:class:<sourcedId> or urn:renkei:school:<sourcedId>",
                )
            })?),
        };
        let audience = self.audience(&request, target).await?;
        let mut categories = Vec::new();
        for asked in &request.scope {
            let category = self.store.category(asked).await.map_err(store_error)?.ok_or_else(|| {
                IdpError::oauth(
                    "invalid_scope",
                    format!("{asked:?} is not a data category; the registry lists them (`renkei policy categories`)"),
                )
            })?;
            // The MEXT guideline asks staff to sign in with a second factor before reading class
            // I and II data; a password-only sign-in gets class III only.
            let staff = request.subject.as_ref().is_some_and(|s| {
                matches!(
                    Role::parse(&s.user.role),
                    Some(Role::Teacher | Role::Administrator)
                )
            });
            let multi_factor = request.subject.as_ref().is_some_and(|s| {
                s.claims
                    .amr
                    .as_ref()
                    .is_some_and(|amr| amr.iter().any(|m| m == "hwk" || m == "mfa"))
            });
            if staff && category.sensitivity <= 2 && !multi_factor {
                continue;
            }
            if !categories.contains(&category.id) {
                categories.push(category.id);
            }
        }
        let coverage = mint::coverage(
            self.store.as_ref(),
            self.directory.as_ref(),
            &request.client.id,
            &categories,
            &audience.candidates,
            now,
        )
        .await
        .map_err(consent_error)?;
        if coverage.is_empty() {
            return Err(IdpError::oauth(
                "invalid_scope",
                "no policy lets this app read the asked categories (staff need a multi-factor sign-in for class I and II data)",
            ));
        }
        let subject = request
            .subject
            .as_ref()
            .map_or(request.client.id.as_str(), |s| s.user.id.as_str());
        let keys = self.keys.snapshot();
        let minted = mint::sign(
            &keys,
            &Claims {
                client_id: &request.client.id,
                subject,
                targets: &audience.targets,
                coverage: &coverage,
                pupils_in_scope: &audience.in_scope,
                now,
            },
        )
        .map_err(consent_error)?;
        let granted: Vec<String> = coverage.iter().map(|c| c.category.clone()).collect();
        self.store
            .record_capability(&CapabilityRow {
                revocation_id: minted.revocation_id,
                client_id: request.client.id.clone(),
                categories: granted.clone(),
                subject: subject.to_owned(),
                issued_at_ms: started_ms,
                expires_at: minted.expires_at,
            })
            .await
            .map_err(store_error)?;
        tracing::info!(client = %request.client.id, categories = granted.len(),
            children = coverage.iter().map(|c| c.children.len()).max().unwrap_or(0), "capability token minted");
        Ok(ExchangedToken {
            token: minted.token,
            issued_token_type: TOKEN_TYPE,
            expires_in: TTL,
            scope: granted.join(" "),
        })
    }
}

impl CapabilityExchanger {
    async fn audience(
        &self,
        request: &ExchangeRequest,
        target: Option<Target>,
    ) -> renkei_idp::Result<Audience> {
        let Some(subject) = &request.subject else {
            // The app's own school-level job: it must say which class or school.
            let target = target.ok_or_else(|| {
                IdpError::oauth(
                    "invalid_target",
                    "an exchange without a user must name a class or school in resource",
                )
            })?;
            return self.whole(vec![self.checked(target).await?]).await;
        };
        let user = &subject.user;
        let me = user.sourced_id.clone().unwrap_or_default();
        match Role::parse(&user.role) {
            Some(Role::Student) => {
                refuse_target(&target, "a student's token covers the student's own data")?;
                let placement = self
                    .directory
                    .placement(&me)
                    .await
                    .map_err(store_error)?
                    .ok_or_else(not_in_roster)?;
                let targets: Vec<Target> = placement
                    .schools
                    .iter()
                    .cloned()
                    .map(Target::School)
                    .collect();
                let pupil = Pupil {
                    id: me,
                    grade: placement.grade,
                };
                Ok(Audience {
                    targets,
                    in_scope: vec![pupil.clone()],
                    candidates: vec![pupil],
                })
            }
            Some(Role::Guardian) => {
                refuse_target(
                    &target,
                    "a guardian's token covers the guardian's own children",
                )?;
                let mut targets = Vec::new();
                let mut children = Vec::new();
                for child in self.directory.children_of(&me).await.map_err(store_error)? {
                    if let Some(placement) = self
                        .directory
                        .placement(&child)
                        .await
                        .map_err(store_error)?
                    {
                        targets.extend(placement.schools.iter().cloned().map(Target::School));
                        children.push(Pupil {
                            id: child,
                            grade: placement.grade,
                        });
                    }
                }
                targets.sort();
                targets.dedup();
                Ok(Audience {
                    targets,
                    in_scope: children.clone(),
                    candidates: children,
                })
            }
            Some(Role::Teacher) => {
                let mut taught: Vec<String> = self
                    .directory
                    .classes_taught_by(&me)
                    .await
                    .map_err(store_error)?
                    .into_iter()
                    .map(|class| class.id)
                    .collect();
                taught.sort();
                let targets = match target {
                    Some(Target::Class(class)) if taught.contains(&class) => {
                        vec![Target::Class(class)]
                    }
                    Some(_) => {
                        return Err(IdpError::oauth(
                            "invalid_target",
                            "a teacher's token can name only a class the teacher teaches",
                        ));
                    }
                    None => taught.into_iter().map(Target::Class).collect(),
                };
                self.whole(targets).await
            }
            Some(Role::Administrator) => {
                let target = target.ok_or_else(|| {
                    IdpError::oauth(
                        "invalid_target",
                        "an administrator's exchange must name a class or school in resource",
                    )
                })?;
                let target = self.checked(target).await?;
                let school = match &target {
                    Target::School(id) => Some(id.clone()),
                    Target::Class(id) => {
                        self.directory.class_school(id).await.map_err(store_error)?
                    }
                };
                let administers = renkei_directory::administered(
                    self.directory.as_ref(),
                    user.sourced_id.as_deref(),
                    user.school_id.as_deref(),
                )
                .await
                .map_err(store_error)?;
                if administers == Administers::Nothing {
                    return Err(IdpError::oauth(
                        "invalid_grant",
                        "this administrator's organisation is neither the board nor within a school; the roster gives board-wide rights through the board's own org or a districtAdministrator role",
                    ));
                }
                if !administers.reaches_any(school.as_slice()) {
                    return Err(IdpError::oauth(
                        "invalid_target",
                        "an administrator of one school cannot name another school's class or school",
                    ));
                }
                self.whole(vec![target]).await
            }
            None => Err(IdpError::oauth(
                "invalid_grant",
                format!("accounts of role {:?} cannot exchange tokens", user.role),
            )),
        }
    }

    /// Every pupil of the targets is a candidate.
    async fn whole(&self, targets: Vec<Target>) -> renkei_idp::Result<Audience> {
        let mut pupils = Vec::new();
        for target in &targets {
            pupils.extend(
                match target {
                    Target::School(id) => self.directory.pupils_of_school(id).await,
                    Target::Class(id) => self.directory.pupils_of_class(id).await,
                }
                .map_err(store_error)?,
            );
        }
        pupils.sort_by(|a, b| a.id.cmp(&b.id));
        pupils.dedup_by(|a, b| a.id == b.id);
        // Teachers, departed pupils and anyone else placed there: a verifier may be asked
        // about them too.
        let mut in_scope = pupils.clone();
        for target in &targets {
            let placed = match target {
                Target::School(id) => self.directory.people_in_school(id).await,
                Target::Class(id) => self.directory.people_in_class(id).await,
            };
            for id in placed.map_err(store_error)? {
                in_scope.push(Pupil { id, grade: None });
            }
        }
        in_scope.sort_by(|a, b| a.id.cmp(&b.id));
        in_scope.dedup_by(|a, b| a.id == b.id);
        Ok(Audience {
            targets,
            in_scope,
            candidates: pupils,
        })
    }

    /// The target exists in the directory.
    async fn checked(&self, target: Target) -> renkei_idp::Result<Target> {
        let exists = match &target {
            Target::School(id) => self.directory.school_exists(id).await,
            Target::Class(id) => self.directory.class_exists(id).await,
        }
        .map_err(store_error)?;
        if exists {
            Ok(target)
        } else {
            Err(IdpError::oauth(
                "invalid_target",
                "resource names no active class or school of the directory",
            ))
        }
    }
}

fn refuse_target(target: &Option<Target>, why: &str) -> renkei_idp::Result<()> {
    match target {
        Some(_) => Err(IdpError::oauth("invalid_target", why)),
        None => Ok(()),
    }
}

fn not_in_roster() -> IdpError {
    IdpError::oauth(
        "invalid_grant",
        "the user is not an active person of the roster",
    )
}

fn store_error(error: renkei_platform::StoreError) -> IdpError {
    IdpError::Store(error)
}

fn consent_error(error: Error) -> IdpError {
    match error {
        Error::Store(error) => IdpError::Store(error),
        other => IdpError::internal(other.to_string()),
    }
}
