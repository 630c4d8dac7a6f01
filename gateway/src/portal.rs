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
        let user = portal
            .idp
            .store
            .user(&session.user_id)
            .await?
            .filter(|u| u.enabled);
        let me = user
            .as_ref()
            .and_then(|u| u.sourced_id.clone())
            .unwrap_or_default();
        let allowed = match Role::of(user.as_ref().map(|u| u.role.as_str())) {
            Some(Role::Student) => me == query.student,
            Some(Role::Guardian) => {
                portal
                    .idp
                    .directory
                    .is_guardian_of(&me, &query.student)
                    .await?
            }
            _ => false,
        };
        if !allowed {
            return Ok(refuse(
                StatusCode::FORBIDDEN,
                "access_denied",
                "only the child and the child's guardians see these reads",
            ));
        }
        let events: Vec<_> = portal
            .gateway
            .audit
            .store()
            .audit_of_child(&query.student, 200)
            .await?
            .into_iter()
            .filter_map(AuditRow::chained)
            .filter(|e| e.event.kind == "read")
            .map(|e| {
                json!({
                    "at": e.event.at, "client_id": e.event.client_id, "endpoint": e.event.endpoint,
                    "categories": e.event.categories, "records": e.event.records, "seq": e.seq,
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
