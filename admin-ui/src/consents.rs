//! Consents: for a class or one pupil, where each pupil stands with every app whose policy asks
//! a guardian's or the pupil's consent — who decided, when, under which version — and the
//! history; an administrator records a consent given on paper (紙の同意書) on a guardian's
//! behalf, or a withdrawal. A school administrator sees and records for their school only.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use renkei_consent::decision::{self, ChildOverview};
use renkei_consent::policy::Basis;
use renkei_consent::record::{self, Action, ConsentInput, ConsentRecord};
use renkei_directory::ClassRef;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::Console;
use crate::actor::{self, Actor};
use crate::error::{Error, Problem, Result};

/// Which class.
#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
pub struct ClassQuery {
    /// The class's sourcedId.
    #[serde(default)]
    pub class: String,
}

/// Where one pupil stands with one app's category.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Standing {
    /// The app.
    pub client_id: String,
    /// Its name.
    pub app: String,
    /// The category.
    pub category_id: String,
    /// The category's name (Japanese).
    pub category_ja: String,
    /// The category's name (English).
    pub category_en: String,
    /// `guardian` or `student`: whose consent the policy asks.
    pub basis: String,
    /// The version in force, which a grant agrees to.
    pub policy_version: i64,
    /// `granted`, `withdrawn`, `expired`, `outdated` (given to an older version), `lapsed`
    /// (given by a guardian who no longer acts for the child) or `none`.
    pub state: String,
    /// The latest decision, if any.
    pub decision: Option<RecordView>,
}

/// One consent record, with the names of the people in it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RecordView {
    /// The app.
    pub client_id: String,
    /// The category.
    pub category_id: String,
    /// `grant` or `withdraw`.
    pub action: String,
    /// Policy version it was given under.
    pub policy_version: i64,
    /// Who recorded it (a guardian, the pupil, or an administrator for a paper consent).
    pub by: String,
    /// Their role then: `guardian`, `student` or `administrator`.
    pub by_role: String,
    /// A paper consent's guardian, who signed it.
    pub paper_from: Option<String>,
    /// When (Unix seconds).
    pub at: i64,
    /// Until when a grant holds (Unix seconds).
    pub until: Option<i64>,
}

/// A pupil on a class's consent list.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PupilStanding {
    /// sourcedId.
    pub sourced_id: String,
    /// 出席番号.
    pub number: Option<i64>,
    /// Name.
    pub name: String,
    /// Kana.
    pub kana: String,
    /// Every app and category asking consent for the pupil.
    pub standings: Vec<Standing>,
}

/// A class's consents.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ClassConsents {
    /// The class's sourcedId.
    pub class_id: String,
    /// Its title.
    pub title: String,
    /// Its school's sourcedId.
    pub school_id: String,
    /// The roll, by 出席番号.
    pub pupils: Vec<PupilStanding>,
}

/// A guardian who may sign a paper consent for the pupil.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct GuardianView {
    /// Their account's id (a paper consent's `paper_from`).
    pub account_id: String,
    /// Their name.
    pub name: String,
}

/// One pupil's consents: where they stand now, their guardians, and every record.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PupilConsents {
    /// sourcedId.
    pub sourced_id: String,
    /// Name.
    pub name: String,
    /// The pupil's schools.
    pub schools: Vec<String>,
    /// Every app and category asking consent for the pupil now.
    pub standings: Vec<Standing>,
    /// The pupil's guardians in the roster.
    pub guardians: Vec<GuardianView>,
    /// Every consent record of the pupil, oldest first.
    pub history: Vec<RecordView>,
}

/// A consent given or withdrawn on paper, recorded by an administrator.
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct PaperConsent {
    /// The app.
    pub client_id: String,
    /// The category.
    pub category_id: String,
    /// `grant` or `withdraw`.
    pub action: String,
    /// The guardian who signed the paper (their account id, one of `guardians`), for a policy
    /// on the guardian's consent; absent for a pupil's own.
    pub guardian: Option<String>,
    /// The last day a grant holds (YYYY-MM-DD, Japan time); default: the policy's validity.
    pub until: Option<String>,
}

/// The classes of a school the actor reaches, for choosing one.
pub async fn classes(console: &Console, actor: &Actor, school_id: &str) -> Result<Vec<ClassRef>> {
    if !actor.reaches_school(school_id) {
        return Err(Error::NotFound(format!(
            "there is no school {school_id:?} you administer"
        )));
    }
    Ok(console.idp.directory.classes_of_school(school_id).await?)
}

/// Where every pupil of a class stands, audited as a read of their consents.
pub async fn of_class(console: &Console, actor: &Actor, class_id: &str) -> Result<ClassConsents> {
    let directory = console.idp.directory.as_ref();
    let unknown = || Error::NotFound(format!("there is no class {class_id:?} you administer"));
    let school_id = directory
        .class_school(class_id)
        .await?
        .filter(|school| actor.reaches_school(school))
        .ok_or_else(unknown)?;
    let class = directory
        .classes_of_school(&school_id)
        .await?
        .into_iter()
        .find(|c| c.id == class_id)
        .ok_or_else(unknown)?;
    let roll = directory.class_roll(class_id).await?;
    let ids: Vec<String> = roll.iter().map(|(id, _)| id.clone()).collect();
    let people = directory.people(&ids).await?;
    let overview = states(console, ids.clone()).await?;
    let mut names = Names::default();
    let mut pupils = Vec::new();
    for (id, number) in roll {
        let Some(person) = people.iter().find(|p| p.sourced_id.as_deref() == Some(&id)) else {
            continue;
        };
        let standings = match overview.iter().find(|child| child.id == id) {
            Some(child) => standings(console, &mut names, child).await?,
            None => Vec::new(),
        };
        pupils.push(PupilStanding {
            sourced_id: id,
            number,
            name: person.name.clone(),
            kana: person.kana.clone(),
            standings,
        });
    }
    crate::read::audit(
        console,
        actor,
        ids,
        "class consents: names and each app's consent decisions",
    );
    Ok(ClassConsents {
        class_id: class.id,
        title: class.title,
        school_id,
        pupils,
    })
}

/// One pupil's consents and history, audited as a read of them.
pub async fn of_pupil(console: &Console, actor: &Actor, student_id: &str) -> Result<PupilConsents> {
    let directory = console.idp.directory.as_ref();
    let placement = reached_pupil(console, actor, student_id).await?;
    // The name as the class's list writes it (family and given name apart by a full-width
    // space).
    let name = directory
        .people(&[student_id.to_owned()])
        .await?
        .into_iter()
        .next()
        .map_or_else(|| student_id.to_owned(), |person| person.name);
    let mut names = Names::default();
    let overview = states(console, vec![student_id.to_owned()]).await?;
    let standings = match overview.first() {
        Some(child) => standings(console, &mut names, child).await?,
        None => Vec::new(),
    };
    let mut guardians = Vec::new();
    for (_, account_id) in directory
        .guardian_accounts_of(&[student_id.to_owned()])
        .await?
    {
        let name = names.of(console, &account_id).await?;
        guardians.push(GuardianView { account_id, name });
    }
    let mut history = Vec::new();
    for record in console
        .consent
        .store
        .consents(Some(student_id), None)
        .await?
    {
        history.push(view(console, &mut names, &record).await?);
    }
    crate::read::audit(
        console,
        actor,
        vec![student_id.to_owned()],
        "pupil consents: name, guardians and consent history",
    );
    Ok(PupilConsents {
        sourced_id: student_id.to_owned(),
        name,
        schools: placement.schools,
        standings,
        guardians,
        history,
    })
}

/// Records a consent given or withdrawn on paper; the consent service checks the policy, the
/// administrator's reach and the guardian, and audits the record.
pub async fn record_paper(
    console: &Console,
    actor: &Actor,
    student_id: &str,
    paper: PaperConsent,
) -> Result<RecordView> {
    let user = actor.in_person("records a consent given on paper")?;
    reached_pupil(console, actor, student_id).await?;
    let action = match paper.action.as_str() {
        "grant" => Action::Grant,
        "withdraw" => Action::Withdraw,
        other => {
            return Err(Error::Invalid(format!(
                "action {other:?} is neither grant nor withdraw"
            )));
        }
    };
    let until = match paper.until.as_deref().filter(|u| !u.is_empty()) {
        Some(day) => Some(crate::api::end_of_day("until", day)?),
        None => None,
    };
    let recorded = record::record(
        console.consent.store.as_ref(),
        console.idp.directory.as_ref(),
        &console.audit,
        &actor.via(),
        user,
        ConsentInput {
            student_id: student_id.to_owned(),
            client_id: paper.client_id,
            category_id: paper.category_id,
            action,
            until,
            paper_from: paper.guardian.filter(|g| !g.is_empty()),
        },
        renkei_platform::clock::now(),
    )
    .await?;
    view(console, &mut Names::default(), &recorded).await
}

/// The pupil's placement, if the actor reaches one of their schools; unknown otherwise.
async fn reached_pupil(
    console: &Console,
    actor: &Actor,
    student_id: &str,
) -> Result<renkei_directory::Placement> {
    console
        .idp
        .directory
        .placement(student_id)
        .await?
        .filter(|placement| actor.reach.reaches_any(&placement.schools))
        .ok_or_else(|| {
            Error::NotFound(format!(
                "there is no pupil {student_id:?} at a school you administer"
            ))
        })
}

/// Where `children` stand with every policy asking a guardian's or a pupil's consent.
async fn states(console: &Console, children: Vec<String>) -> Result<Vec<ChildOverview>> {
    Ok(decision::states(
        console.consent.store.as_ref(),
        console.idp.directory.as_ref(),
        console.idp.store.as_ref(),
        children,
        &[Basis::Guardian, Basis::Student],
        None,
        renkei_platform::clock::now(),
    )
    .await?)
}

async fn standings(
    console: &Console,
    names: &mut Names,
    child: &ChildOverview,
) -> Result<Vec<Standing>> {
    let mut standings = Vec::new();
    for request in &child.requests {
        let decision = match &request.decision {
            Some(record) => Some(view(console, names, record).await?),
            None => None,
        };
        standings.push(Standing {
            client_id: request.client_id.clone(),
            app: request.app_name.clone(),
            category_id: request.category.id.clone(),
            category_ja: request.category.name_ja.clone(),
            category_en: request.category.name_en.clone(),
            basis: request.basis.as_str().to_owned(),
            policy_version: request.policy_version,
            state: request.state.to_owned(),
            decision,
        });
    }
    Ok(standings)
}

async fn view(console: &Console, names: &mut Names, record: &ConsentRecord) -> Result<RecordView> {
    let paper_from = match &record.paper_from {
        Some(account) => Some(names.of(console, account).await?),
        None => None,
    };
    Ok(RecordView {
        client_id: record.client_id.clone(),
        category_id: record.category_id.clone(),
        action: record.action.clone(),
        policy_version: record.policy_version,
        by: names.of(console, &record.by_user_id).await?,
        by_role: record.by_role.clone(),
        paper_from,
        at: record.at,
        until: record.until,
    })
}

/// Account names read once per answer.
#[derive(Default)]
struct Names(std::collections::HashMap<String, String>);

impl Names {
    async fn of(&mut self, console: &Console, account_id: &str) -> Result<String> {
        if let Some(name) = self.0.get(account_id) {
            return Ok(name.clone());
        }
        let name = match console.idp.store.user(account_id).await? {
            Some(user) => renkei_idp::user::display_name(&user),
            None => account_id.to_owned(),
        };
        self.0.insert(account_id.to_owned(), name.clone());
        Ok(name)
    }
}

/// `GET /admin/api/consents`.
#[utoipa::path(get, path = "/admin/api/consents", tag = "consents", params(ClassQuery),
    responses((status = 200, body = ClassConsents), (status = 404, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_class(
    State(console): State<Console>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<ClassConsents>> {
    let actor = actor::for_api(&console.idp, &headers, false).await?;
    let query: ClassQuery = crate::api::query(query.as_deref())?;
    if query.class.is_empty() {
        return Err(Error::Invalid(
            "name the class: ?class=<its sourcedId> (GET /admin/api/reference lists them)".into(),
        ));
    }
    Ok(Json(of_class(&console, &actor, &query.class).await?))
}

/// `GET /admin/api/consents/pupils/{student_id}`.
#[utoipa::path(get, path = "/admin/api/consents/pupils/{student_id}", tag = "consents",
    params(("student_id" = String, Path, description = "The pupil's sourcedId")),
    responses((status = 200, body = PupilConsents), (status = 404, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_pupil(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(student_id): Path<String>,
) -> Result<Json<PupilConsents>> {
    let actor = actor::for_api(&console.idp, &headers, false).await?;
    Ok(Json(of_pupil(&console, &actor, &student_id).await?))
}

/// `POST /admin/api/consents/pupils/{student_id}`: a paper consent or withdrawal.
#[utoipa::path(post, path = "/admin/api/consents/pupils/{student_id}", tag = "consents",
    params(("student_id" = String, Path, description = "The pupil's sourcedId")),
    request_body = PaperConsent,
    responses((status = 201, body = RecordView), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_record(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(student_id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<RecordView>)> {
    let actor = actor::for_api(&console.idp, &headers, true).await?;
    let paper: PaperConsent = crate::api::json_body(&body)?;
    let recorded = record_paper(&console, &actor, &student_id, paper).await?;
    Ok((StatusCode::CREATED, Json(recorded)))
}
