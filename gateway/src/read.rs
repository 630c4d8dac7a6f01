//! One read, from request to audited response: the [`Read`] extractor gathers the capability
//! (or why there is none), the path's ids and the collection parameters; [`endpoint!`] runs an
//! endpoint's body with it and [`Read::respond`] answers, adds `href`s and audits the read —
//! refusals included.

use axum::Json;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Query, RawPathParams};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use renkei_capability::Capability;
use serde_json::Value;

use crate::Gateway;
use crate::error::{Error, Result};
use crate::paging::{Params, Served, by_sourced_id};
use crate::view::View;
use renkei_platform::AuditEvent;
use renkei_platform::web::client_ip;

/// What an endpoint answers: a collection, or one record (absent: 404).
pub enum Answer {
    /// A collection under its key (`users`, `classes`, …), paged by the request's parameters.
    List(&'static str, Vec<Served>),
    /// One record under its key (`user`, `class`, …).
    One(&'static str, Option<Served>),
}

/// Why a request identifies no one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Anonymous {
    /// No bearer token.
    NoToken,
    /// A token that does not verify.
    Unverified,
    /// The address was over its limit and the token was not one already known: not read.
    OverLimit,
}

impl Anonymous {
    /// The reason its refusals are counted under.
    fn reason(self) -> &'static str {
        match self {
            Anonymous::NoToken => "no capability token",
            Anonymous::Unverified => "a capability token that does not verify",
            Anonymous::OverLimit => "the address was over its limit",
        }
    }
}

/// A gateway request as endpoints see it.
pub struct Read {
    /// The gateway.
    pub gateway: Gateway,
    capability: Result<Capability, renkei_capability::Error>,
    /// Why no one is identified, if no one is: such refusals are counted, not chained one by
    /// one.
    anonymous: Option<Anonymous>,
    /// The route's template (`/ims/…/students/{id}`): what anonymous refusals are counted by.
    route: String,
    /// The path's parameters, in order.
    pub ids: Vec<String>,
    params: Result<Params, String>,
    /// The request path (for `Link` and the audit).
    pub path: String,
}

impl FromRequestParts<Gateway> for Read {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        gateway: &Gateway,
    ) -> Result<Self, Self::Rejection> {
        let address = client_ip(
            parts.extensions.get::<ConnectInfo<SocketAddr>>(),
            &parts.headers,
            &gateway.trusted_proxies,
        );
        // The request takes its place under its address's limit before its token is read,
        // and gives it back once the token proves whose it is: requests sent at once cannot
        // slip past the limit. Past it, only tokens the verifier already knows are served.
        let now = renkei_platform::clock::now();
        let within = gateway.refusals.admit(address, now);
        let capability = if within {
            Capability::from_request_parts(parts, gateway).await
        } else {
            match renkei_capability::verify::bearer(&parts.headers) {
                Ok(token) => gateway
                    .verifier
                    .verify_kept(token)
                    .await
                    .unwrap_or(Err(renkei_capability::Error::BearerMissing)),
                Err(error) => Err(error),
            }
        };
        let anonymous = match &capability {
            Ok(_) => {
                gateway.refusals.release(address, now);
                None
            }
            Err(_) if !within => Some(Anonymous::OverLimit),
            Err(renkei_capability::Error::BearerMissing) => Some(Anonymous::NoToken),
            Err(_) => Some(Anonymous::Unverified),
        };
        let route = parts
            .extensions
            .get::<MatchedPath>()
            .map_or("(unrouted)", MatchedPath::as_str)
            .to_owned();
        let ids = match RawPathParams::from_request_parts(parts, gateway).await {
            Ok(params) => params.iter().map(|(_, v)| v.to_owned()).collect(),
            Err(_) => Vec::new(),
        };
        let params = Query::<Params>::try_from_uri(&parts.uri)
            .map(|Query(p)| p)
            .map_err(|e| format!("the query string is malformed: {e}"));
        Ok(Read {
            gateway: gateway.clone(),
            capability,
            anonymous,
            route,
            ids,
            params,
            path: parts.uri.path().to_owned(),
        })
    }
}

impl Read {
    /// The verified capability (endpoints run only after [`Read::admit`]).
    pub fn capability(&self) -> &Capability {
        self.capability
            .as_ref()
            .expect("endpoint bodies run only with a verified capability")
    }

    /// The per-record decisions for this request.
    pub fn view(&self) -> View<'_> {
        View {
            gateway: &self.gateway,
            capability: self.capability(),
        }
    }

    /// The `i`-th path parameter.
    pub fn id(&self, i: usize) -> &str {
        self.ids.get(i).map(String::as_str).unwrap_or_default()
    }

    /// Admits the request: a verified token that carries `category`, and well-formed parameters.
    pub fn admit(&mut self, category: &str) -> Result<()> {
        if self.anonymous == Some(Anonymous::OverLimit) {
            return Err(Error::TooManyRefusals);
        }
        if self.capability.is_err() {
            let taken = std::mem::replace(
                &mut self.capability,
                Err(renkei_capability::Error::BearerMissing),
            );
            if let Err(error) = taken {
                return Err(Error::Capability(error));
            }
        }
        let capability = self.capability();
        if let Err(problem) = &self.params {
            return Err(Error::InvalidParameter(problem.clone()));
        }
        if !capability.has_category(category) {
            return Err(Error::Capability(
                renkei_capability::Error::InsufficientScope(category.into()),
            ));
        }
        Ok(())
    }

    /// Answers and audits the read. A read refused before anyone was identified (no token,
    /// or one that does not verify) is counted, per route, instead of chained one by one,
    /// and counts against its address's limit.
    pub fn respond(self, category: &str, outcome: Result<Answer>) -> Response {
        if let Some(anonymous) = self.anonymous {
            self.gateway
                .audit
                .count_refused(&format!("GET {}", self.route), anonymous.reason());
            let error = match outcome {
                Err(error) => error,
                Ok(_) => Error::Capability(renkei_capability::Error::BearerMissing),
            };
            return error.into_response();
        }
        let answered = outcome.and_then(|answer| self.answer(answer));
        let (word, detail, children, records, response) = match answered {
            Ok((response, children, records)) => ("allowed", None, children, records, response),
            Err(error) => (
                "refused",
                Some(error.to_string()),
                Vec::new(),
                0,
                error.into_response(),
            ),
        };
        let capability = self.capability.as_ref().ok();
        self.gateway.audit.record(AuditEvent {
            at: renkei_platform::clock::now(),
            kind: "read".into(),
            client_id: capability.map(|c| c.client_id.clone()),
            token_id: capability.map(|c| c.token_id.clone()),
            categories: vec![category.into()],
            records,
            children,
            endpoint: format!("GET {}", self.path),
            outcome: word.into(),
            detail,
            erased: Vec::new(),
        });
        response
    }

    fn answer(&self, answer: Answer) -> Result<(Response, Vec<String>, i64)> {
        match answer {
            Answer::List(key, mut records) => {
                records.sort_by(by_sourced_id);
                let params = self
                    .params
                    .as_ref()
                    .map_err(|e| Error::InvalidParameter(e.clone()))?;
                let mut page = params.apply(records, &self.path)?;
                for record in &mut page.records {
                    self.gateway.add_hrefs(record);
                }
                let count = page.records.len() as i64;
                let mut response = Json(keyed(key, Value::Array(page.records))).into_response();
                response.headers_mut().extend(page.headers);
                Ok((response, page.children, count))
            }
            Answer::One(
                key,
                Some(Served {
                    mut value,
                    children,
                }),
            ) => {
                self.gateway.add_hrefs(&mut value);
                Ok((Json(keyed(key, value)).into_response(), children, 1))
            }
            Answer::One(key, None) => Err(Error::NotFound(format!(
                "no {key} {} that this token may read",
                self.ids.last().map(String::as_str).unwrap_or_default()
            ))),
        }
    }
}

/// `{key: value}`, moving `value` in (`json!` would deep-copy it through `to_value`).
fn keyed(key: &str, value: Value) -> Value {
    Value::Object(serde_json::Map::from_iter([(key.to_owned(), value)]))
}

/// One record of a list, if any (for `GET /…/{id}`).
pub fn single(key: &'static str, mut records: Vec<Served>) -> Answer {
    Answer::One(key, records.pop())
}

/// The route of an endpoint: admits the request for `category`, runs `body` (a future of
/// `Result<Answer>` using `read: &Read`) and responds.
#[macro_export]
macro_rules! endpoint {
    ($category:expr, $read:ident => $body:expr) => {
        axum::routing::get(move |mut read: $crate::read::Read| async move {
            let outcome = match read.admit($category) {
                Ok(()) => {
                    let $read = &read;
                    $body.await
                }
                Err(error) => Err(error),
            };
            read.respond($category, outcome)
        })
    };
}

/// Turns every GUIDRef (`{"sourcedId", "type"}`) in `value` into one with an absolute `href`.
pub fn add_hrefs(origin: &str, value: &mut Value) {
    match value {
        Value::Object(object) => {
            let href = match (object.get("sourcedId"), object.get("type")) {
                (Some(Value::String(id)), Some(Value::String(kind))) if object.len() <= 3 => {
                    crate::collection_of(kind).map(|path| format!("{origin}{path}/{id}"))
                }
                _ => None,
            };
            if let Some(href) = href {
                object.insert("href".into(), Value::String(href));
            } else {
                for (_, nested) in object.iter_mut() {
                    add_hrefs(origin, nested);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| add_hrefs(origin, item)),
        _ => {}
    }
}
