//! What the guardians' and pupils' portal shows of the audit log: the reads of a child's data
//! (which app, when, what, how many records). Signed-in guardian of the child, or the child.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use renkei_idp::AppState;
use serde::Deserialize;
use serde_json::json;

use crate::Gateway;
use renkei_directory::Role;
use renkei_platform::audit::AuditRow;

/// Path of the reads list.
pub const PATH: &str = "/api/consent/reads";

/// State of the portal route.
#[derive(Clone)]
pub struct Portal {
    /// The gateway (its audit chain).
    pub gateway: Gateway,
    /// The provider (sessions, accounts, and the roster directory's guardianship rule).
    pub idp: AppState,
}

/// `?student=ID`.
#[derive(Deserialize)]
pub struct ReadsQuery {
    student: String,
}

fn refuse(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// One read of a child's data by an app, as the portal shows it.
#[derive(Clone, Debug)]
pub struct ChildRead {
    /// When (Unix seconds).
    pub at: i64,
    /// The app.
    pub client_id: Option<String>,
    /// The kinds of data read.
    pub categories: Vec<String>,
    /// The gateway endpoint.
    pub endpoint: String,
    /// Records returned (about every child the read covered).
    pub records: i64,
    /// How many children the read covered.
    pub children: usize,
    /// Position in the audit chain.
    pub seq: i64,
}

/// The newest reads of `student`'s data among the newest `newest` audit events about the child,
/// newest first, for `user` (the child, or one of the child's guardians); `None` when `user`
/// may not see them.
pub async fn reads_of(
    portal: &Portal,
    user: &renkei_idp::store::UserRow,
    student: &str,
    newest: i64,
) -> Result<Option<Vec<ChildRead>>, renkei_idp::Error> {
    let me = user.sourced_id.clone().unwrap_or_default();
    let allowed = user.enabled
        && match Role::parse(&user.role) {
            Some(Role::Student) => me == student,
            Some(Role::Guardian) => portal.idp.directory.is_guardian_of(&me, student).await?,
            _ => false,
        };
    if !allowed {
        return Ok(None);
    }
    let mut reads: Vec<ChildRead> = portal
        .gateway
        .audit
        .store()
        .audit_of_child(student, newest)
        .await?
        .into_iter()
        .filter_map(AuditRow::chained)
        .filter(|e| e.event.kind == "read")
        .map(|e| ChildRead {
            at: e.event.at,
            client_id: e.event.client_id,
            categories: e.event.categories,
            endpoint: e.event.endpoint,
            records: e.event.records,
            children: e.event.children.len(),
            seq: e.seq,
        })
        .collect();
    reads.sort_by_key(|read| std::cmp::Reverse(read.seq));
    Ok(Some(reads))
}

/// `GET /api/consent/reads?student=ID`: the newest reads of the child's data (of the newest
/// 200 audit events about the child; consent changes are shown by the consent API).
pub async fn reads(
    State(portal): State<Portal>,
    headers: HeaderMap,
    Query(query): Query<ReadsQuery>,
) -> Response {
    let result = async {
        let Some(session) = renkei_idp::session::current(&portal.idp, &headers).await? else {
            return Ok(refuse(
                StatusCode::UNAUTHORIZED,
                "login_required",
                "sign in first",
            ));
        };
        let user = portal.idp.store.user(&session.user_id).await?;
        let reads = match user {
            Some(user) => reads_of(&portal, &user, &query.student, 200).await?,
            None => None,
        };
        let Some(reads) = reads else {
            return Ok(refuse(
                StatusCode::FORBIDDEN,
                "access_denied",
                "only the child and the child's guardians see these reads",
            ));
        };
        let events: Vec<_> = reads
            .into_iter()
            .map(|e| {
                json!({
                    "at": e.at, "client_id": e.client_id, "endpoint": e.endpoint,
                    "categories": e.categories, "records": e.records, "seq": e.seq,
                })
            })
            .collect();
        let mut response =
            Json(json!({ "student": query.student, "reads": events })).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok::<_, renkei_idp::Error>(response)
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}
