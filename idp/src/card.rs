//! Sign-in cards for pupils who cannot type yet (Clever Badges, ClassLink QuickCards, Entra's
//! QR + PIN): a printed card whose QR code carries a high-entropy secret, and from the grade a
//! school chooses, a four-digit PIN. The tablet's camera reads the code on the sign-in page (or
//! a teacher types it); the secret travels in the URL's fragment and the form's body, never in
//! a logged query string; only its SHA-256 digest is kept, and the PIN only as an Argon2id hash.
//!
//! Cards sign in pupils only, end with the school year (31 March in Japan) or when voided, and
//! a new card voids the earlier one. Tries are limited per card and per address like
//! passwords, and every sign-in with a card is audited. A card sign-in says so: `acr`
//! [`ACR_CARD`], `amr` `["card"]` or `["card", "pin"]`, so that an app can refuse it; an app
//! asking for a passkey (`acr_values`) never gets one. On a shared tablet the next pupil's card
//! ends the previous pupil's session.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use renkei_directory::Role;
use renkei_platform::clock::now;
use renkei_platform::crypto::{decoy_password_hash, hash_password, verify_password};
use renkei_platform::{AuditEvent, AuditLog};
use serde::Deserialize;

use crate::crypto::{random_secret, sha256_base64url};
use crate::error::{Error, Result};
use crate::login;
use crate::pages::{Locale, Texts, filters, render_with_script, toggle_href};
use crate::server::AppState;
use crate::store::{CardRow, Store};

/// Authentication context class of a card sign-in: something the pupil holds, printed; an app
/// that needs more refuses it.
pub const ACR_CARD: &str = "urn:renkei:acr:card";
/// Renkei's `amr` value for a printed sign-in card (RFC 8176 has none for it).
pub const AMR_CARD: &str = "card";

/// The sign-in page for cards.
pub const PATH: &str = "/login/card";

/// Digits of a card's PIN.
pub const PIN_DIGITS: usize = 4;

/// Longest code a request may carry (ours are 43 characters).
const MAX_CODE: usize = 128;
/// Wrong tries of one card (a wrong PIN) within [`CARD_WINDOW`] before it pauses.
const CARD_TRIES: i64 = 5;
/// The window of [`CARD_TRIES`], in seconds.
const CARD_WINDOW: i64 = 900;
/// Wrong PINs of one card in a day before it waits for the next: trying all 10,000 PINs would
/// take more than a school year.
const CARD_TRIES_A_DAY: i64 = 20;

/// A card just issued, with what is printed on it (shown once: the secret is not kept).
#[derive(Clone, Debug, serde::Serialize)]
pub struct IssuedCard {
    /// The pupil's roster sourcedId.
    pub student: Option<String>,
    /// Sign-in name.
    pub username: String,
    /// Name, family name first.
    pub name: String,
    /// Its kana reading.
    pub kana: String,
    /// The card's code (its secret).
    pub code: String,
    /// The PIN, when the card has one.
    pub pin: Option<String>,
    /// What the QR code holds: `<issuer>/login/card#<code>`.
    pub url: String,
    /// Until when it works (Unix seconds): the end of the school year.
    pub expires_at: i64,
}

/// Whether a pupil of `grade` (P1–P6, J1–J3, H1–H3) gets a PIN when PINs start at school
/// year `from` (1–12, counted from 小1); no grade, or no `from`: no PIN.
pub fn needs_pin(grade: Option<&str>, from: Option<u8>) -> bool {
    let (Some(grade), Some(from)) = (grade, from) else {
        return false;
    };
    let mut chars = grade.chars();
    let stage = match chars.next() {
        Some('P') => 0,
        Some('J') => 6,
        Some('H') => 9,
        _ => return false,
    };
    chars
        .as_str()
        .parse::<u8>()
        .is_ok_and(|year| stage + year >= from)
}

/// The last second of the school year `at` falls in: 31 March (Japan) of the next calendar
/// year from April on, of this one before.
pub fn end_of_school_year(at: i64) -> i64 {
    let year = renkei_platform::clock::in_japan(at).map_or(2000, |moment| {
        if u8::from(moment.month()) >= 4 {
            moment.year() + 1
        } else {
            moment.year()
        }
    });
    renkei_platform::clock::end_of_day_in_japan(&format!("{year:04}-03-31")).unwrap_or(at)
}

/// Issues a card for the pupil `username` (an enabled pupil's account), with a PIN if
/// `with_pin`; the pupil's earlier card stops working. Audited (through `via`).
pub async fn issue(
    store: &dyn Store,
    audit: &AuditLog,
    via: &str,
    issuer: &str,
    username: &str,
    with_pin: bool,
) -> Result<IssuedCard> {
    let user = crate::user::by_username(store, username).await?;
    if Role::parse(&user.role) != Some(Role::Student) {
        return Err(Error::Invalid(format!(
            "sign-in cards are for pupils; {username} is a {}",
            user.role
        )));
    }
    if !user.enabled {
        return Err(Error::Invalid(format!(
            "the account {username} is disabled or locked; enable it first"
        )));
    }
    let code = random_secret();
    let pin = with_pin.then(|| renkei_platform::crypto::random_digits(PIN_DIGITS));
    let pin_hash = match &pin {
        Some(pin) => {
            let pin = pin.clone();
            Some(
                tokio::task::spawn_blocking(move || hash_password(&pin))
                    .await
                    .map_err(|e| Error::internal(e.to_string()))?,
            )
        }
        None => None,
    };
    let created_at = now();
    let card = CardRow {
        secret_hash: sha256_base64url(code.as_bytes()),
        user_id: user.id.clone(),
        pin_hash,
        created_by: via.to_owned(),
        created_at,
        expires_at: end_of_school_year(created_at),
        voided_at: None,
    };
    store.issue_card(&card, created_at).await?;
    // The earlier card's sign-ins end with it (a lost card is why a new one is printed).
    store
        .end_other_sessions(&user.id, "", Some(ACR_CARD), created_at)
        .await?;
    audit
        .append(AuditEvent::admin_about(
            via,
            user.sourced_id.as_deref(),
            format!(
                "sign-in card for account {username} issued{}, valid until {}",
                if pin.is_some() { " with a PIN" } else { "" },
                card.expires_at
            ),
        ))
        .await?;
    Ok(IssuedCard {
        student: user.sourced_id.clone(),
        name: crate::user::display_name(&user),
        kana: [
            user.family_name_kana.as_deref(),
            user.given_name_kana.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("\u{3000}"),
        username: user.username,
        url: format!("{}{PATH}#{code}", issuer.trim_end_matches('/')),
        code,
        pin,
        expires_at: card.expires_at,
    })
}

/// A card issued for a pupil of a class, with their 出席番号.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ClassCard {
    /// The card.
    #[serde(flatten)]
    pub card: IssuedCard,
    /// 出席番号.
    pub number: Option<i64>,
}

/// Issues a new card for every pupil on the class's roll who has an enabled account (by
/// 出席番号), with a PIN from school year `pin_from` on (1 = 小1); their earlier cards stop
/// working. Each card is audited (through `via`).
pub async fn issue_for_class(
    store: &dyn Store,
    directory: &dyn renkei_directory::Directory,
    audit: &AuditLog,
    via: &str,
    issuer: &str,
    class_id: &str,
    pin_from: Option<u8>,
) -> Result<Vec<ClassCard>> {
    let roll = directory.class_roll(class_id).await?;
    let ids: Vec<String> = roll.iter().map(|(id, _)| id.clone()).collect();
    let people = directory.people(&ids).await?;
    let mut cards = Vec::new();
    for (pupil, number) in roll {
        let Some(person) = people.iter().find(|p| {
            p.sourced_id.as_deref() == Some(pupil.as_str())
                && p.enabled
                && Role::parse(&p.role) == Some(Role::Student)
        }) else {
            continue;
        };
        let with_pin = needs_pin(person.grade.as_deref(), pin_from);
        let mut card = issue(store, audit, via, issuer, &person.username, with_pin).await?;
        // The name as the roster writes it (family and given name apart by a full-width
        // space).
        card.name = person.name.clone();
        card.kana = person.kana.clone();
        cards.push(ClassCard { card, number });
    }
    Ok(cards)
}

/// Voids the pupil's card (lost, or handed to someone else); audited (through `via`).
/// Returns whether there was a live card.
pub async fn void(store: &dyn Store, audit: &AuditLog, via: &str, username: &str) -> Result<bool> {
    let user = crate::user::by_username(store, username).await?;
    let voided = store.void_cards(&user.id, now()).await? > 0;
    // Whoever signed in with it (a finder) is signed out, with their apps' grants.
    store
        .end_other_sessions(&user.id, "", Some(ACR_CARD), now())
        .await?;
    audit
        .append(AuditEvent::admin_about(
            via,
            user.sourced_id.as_deref(),
            format!(
                "sign-in card of account {username} {}",
                if voided {
                    "voided"
                } else {
                    "voided (there was none)"
                }
            ),
        ))
        .await?;
    Ok(voided)
}

/// The page's words: plain Japanese for young pupils, with readings.
struct CardTexts {
    title: &'static str,
    intro: &'static str,
    camera: &'static str,
    camera_unavailable: &'static str,
    code: &'static str,
    code_hint: &'static str,
    pin: &'static str,
    pin_hint: &'static str,
    button: &'static str,
    failed: &'static str,
    throttled: &'static str,
    not_enough: &'static str,
    other_way: &'static str,
}

static JA: CardTexts = CardTexts {
    title: "カードでログイン",
    intro: "カードのQRコードを、カメラにうつしてね。",
    camera: "カメラをつかう",
    camera_unavailable: "カメラがつかえないときは、｜先生《せんせい》にコードを｜入力《にゅうりょく》してもらってね。",
    code: "カードのコード",
    code_hint: "カードの下にかいてある、ながいコードです。",
    pin: "ひみつのばんごう（4けた）",
    pin_hint: "カードにかいてある4けたのすうじをいれてね。",
    button: "ログイン",
    failed: "このカードではログインできません。｜先生《せんせい》に｜見《み》てもらってね。",
    throttled: "なんかいもまちがえたので、すこしまってね。",
    not_enough: "このアプリには、カードではログインできません。｜先生《せんせい》にきいてね。",
    other_way: "ほかのほうほうでログイン",
};

static EN: CardTexts = CardTexts {
    title: "Sign in with a card",
    intro: "Hold your card's QR code up to the camera.",
    camera: "Use the camera",
    camera_unavailable: "If the camera does not work, ask your teacher to type the code.",
    code: "The card's code",
    code_hint: "The long code printed under the QR code.",
    pin: "Secret number (4 digits)",
    pin_hint: "Type the 4 digits printed on your card.",
    button: "Sign in",
    failed: "This card does not sign you in. Ask your teacher.",
    throttled: "Too many tries: please wait a little.",
    not_enough: "This app does not take card sign-ins. Ask your teacher.",
    other_way: "Sign in another way",
};

impl CardTexts {
    fn of(locale: Locale) -> &'static CardTexts {
        match locale {
            Locale::Ja => &JA,
            Locale::En => &EN,
        }
    }
}

#[derive(Template)]
#[template(path = "card.html")]
struct CardPage<'a> {
    t: &'static Texts,
    k: &'static CardTexts,
    toggle_href: String,
    csrf_token: &'a str,
    request: &'a str,
    /// The code read so far (kept when the PIN is asked).
    code: &'a str,
    /// The card needs its PIN.
    ask_pin: bool,
    error: Option<&'static str>,
    /// A code in the address's fragment may be submitted at once: the page was opened from
    /// outside any site (a camera app, the address bar) or from our own.
    autosubmit: bool,
}

/// Query of `GET /login/card`.
#[derive(Debug, Default, Deserialize)]
pub struct CardQuery {
    #[serde(default)]
    request: String,
    lang: Option<String>,
}

/// `GET /login/card`: the camera (or a typed code) reads a card.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<CardQuery>,
) -> Response {
    let locale = state.locale(query.lang.as_deref(), None, &headers);
    // Another site linking here with its own card's code must not sign a visitor in as that
    // pupil without a tap.
    let autosubmit = matches!(
        headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()),
        Some("none" | "same-origin")
    );
    let shown = Shown {
        request: &query.request,
        code: "",
        ask_pin: false,
        error: None,
        autosubmit,
    };
    let mut response = show(&state, &headers, locale, shown);
    let cookies: Vec<_> = state
        .remember_locale(query.lang.as_deref(), locale)
        .into_iter()
        .collect();
    for cookie in cookies {
        response
            .headers_mut()
            .append(axum::http::header::SET_COOKIE, cookie);
    }
    response
}

/// What the card page shows: for which pending request, the code read so far, whether it asks
/// the PIN, what went wrong, and whether a code in the fragment goes at once.
struct Shown<'a> {
    request: &'a str,
    code: &'a str,
    ask_pin: bool,
    error: Option<&'static str>,
    autosubmit: bool,
}

fn show(state: &AppState, headers: &HeaderMap, locale: Locale, shown: Shown<'_>) -> Response {
    let Shown {
        request,
        code,
        ask_pin,
        error,
        autosubmit,
    } = shown;
    let t = locale.texts();
    let (csrf_token, csrf_cookie) = state.csrf.token(headers);
    let toggle = if request.is_empty() {
        toggle_href(t, PATH, &[])
    } else {
        toggle_href(t, PATH, &[("request", request)])
    };
    let page = CardPage {
        t,
        k: CardTexts::of(locale),
        toggle_href: toggle,
        csrf_token: &csrf_token,
        request,
        code,
        ask_pin,
        error,
        autosubmit,
    };
    let mut response = render_with_script(&page);
    // The one page that may use the camera (every other page denies it).
    response.headers_mut().insert(
        axum::http::HeaderName::from_static("permissions-policy"),
        axum::http::HeaderValue::from_static("camera=(self), microphone=(), geolocation=()"),
    );
    renkei_platform::web::with_cookies(response, csrf_cookie)
}

/// Form of `POST /login/card`.
#[derive(Debug, Deserialize)]
pub struct CardForm {
    csrf_token: String,
    #[serde(default)]
    request: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    pin: String,
}

/// `POST /login/card`: signs the card's pupil in (ending the tablet's previous session).
pub async fn submit(
    State(state): State<AppState>,
    connect_info: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<CardForm>,
) -> Response {
    let result = async {
        let context = login::context(&state, &form.request).await?;
        let locale = state.locale(None, context.ui_locales(), &headers);
        let k = CardTexts::of(locale);
        let code = form.code.trim();
        let again = |error, status, ask_pin: bool| {
            let kept = if ask_pin { code } else { "" };
            let shown = Shown {
                request: &form.request,
                code: kept,
                ask_pin,
                error,
                autosubmit: false,
            };
            let mut response = show(&state, &headers, locale, shown);
            *response.status_mut() = status;
            response
        };
        if !state.csrf.verify(&headers, &form.csrf_token) {
            return Ok(again(
                Some(locale.texts().form_expired),
                StatusCode::FORBIDDEN,
                false,
            ));
        }
        if context.passkey_required() || !context.card_accepted() {
            return Ok(again(Some(k.not_enough), StatusCode::OK, false));
        }
        let address_key = login::address_key(&state, connect_info.as_ref(), &headers);
        if !login::reserve_address_attempt(&state, address_key.as_deref()).await? {
            tracing::warn!(address = ?address_key, "card sign-in refused: too many failures");
            return Ok(again(
                Some(k.throttled),
                StatusCode::TOO_MANY_REQUESTS,
                false,
            ));
        }
        if code.is_empty() || code.len() > MAX_CODE {
            return Ok(again(Some(k.failed), StatusCode::OK, false));
        }
        let digest = sha256_base64url(code.as_bytes());
        let now = now();
        let card = state.store.live_card(&digest, now).await?;
        let user = match &card {
            Some(card) => state
                .store
                .user(&card.user_id)
                .await?
                .filter(|u| u.enabled && Role::parse(&u.role) == Some(Role::Student)),
            None => None,
        };
        let (Some(card), Some(user)) = (card, user) else {
            tracing::warn!(address = ?address_key, "card sign-in refused: no such live card");
            return Ok(again(Some(k.failed), StatusCode::OK, false));
        };
        // The board's rule for pupils: a card counts no more than a password.
        if crate::assurance::password_sign_in(state.store.as_ref(), &user.role, now).await?
            == crate::assurance::PasswordSignIn::Refused
        {
            login::release_address_attempt(&state, address_key.as_deref()).await?;
            return Ok(again(Some(k.not_enough), StatusCode::FORBIDDEN, false));
        }
        let card_key = format!("card:{digest}");
        let card_day_key = format!("card-day:{digest}");
        let mut amr = vec![AMR_CARD];
        if let Some(pin_hash) = card.pin_hash.clone() {
            let pin = form.pin.trim().to_owned();
            if pin.is_empty() {
                // The card is genuine: its PIN is asked for, which is no failure.
                login::release_address_attempt(&state, address_key.as_deref()).await?;
                return Ok(again(None, StatusCode::OK, true));
            }
            let tries = state
                .store
                .record_login_failure(&card_key, now - CARD_WINDOW, now)
                .await?;
            let day = state
                .store
                .record_login_failure(&card_day_key, now - 86_400, now)
                .await?;
            if tries > CARD_TRIES || day > CARD_TRIES_A_DAY {
                tracing::warn!(address = ?address_key, "card sign-in paused: wrong PINs");
                if tries == CARD_TRIES + 1 || day == CARD_TRIES_A_DAY + 1 {
                    state
                        .audit
                        .append(AuditEvent::admin_about(
                            PATH,
                            user.sourced_id.as_deref(),
                            format!(
                                "sign-in card of account {} paused after wrong PINs",
                                user.username
                            ),
                        ))
                        .await?;
                }
                return Ok(again(
                    Some(k.throttled),
                    StatusCode::TOO_MANY_REQUESTS,
                    true,
                ));
            }
            let _permit = state
                .password_checks
                .acquire()
                .await
                .map_err(|e| Error::internal(format!("PIN check failed: {e}")))?;
            let well_formed = pin.len() == PIN_DIGITS && pin.bytes().all(|b| b.is_ascii_digit());
            let verified = tokio::task::spawn_blocking(move || {
                if well_formed {
                    verify_password(&pin, &pin_hash)
                } else {
                    verify_password(&pin, decoy_password_hash());
                    false
                }
            })
            .await
            .map_err(|e| Error::internal(format!("PIN check failed: {e}")))?;
            if !verified {
                return Ok(again(Some(k.failed), StatusCode::OK, true));
            }
            state
                .store
                .clear_login_failures(&[card_key, card_day_key])
                .await?;
            amr.push("pin");
        }
        // Voided or replaced while its PIN was checked: it signs no one in.
        if state.store.live_card(&digest, now).await?.is_none() {
            return Ok(again(Some(k.failed), StatusCode::OK, false));
        }
        login::release_address_attempt(&state, address_key.as_deref()).await?;
        state
            .audit
            .append(AuditEvent::admin_about(
                PATH,
                user.sourced_id.as_deref(),
                format!(
                    "account {} signed in with a sign-in card{}",
                    user.username,
                    if amr.contains(&"pin") {
                        " and its PIN"
                    } else {
                        ""
                    }
                ),
            ))
            .await?;
        login::complete(
            &state,
            &headers,
            &user.id,
            &amr,
            ACR_CARD,
            &form.request,
            context,
        )
        .await
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_start_at_the_chosen_school_year() {
        assert!(!needs_pin(Some("P1"), Some(3)));
        assert!(needs_pin(Some("P3"), Some(3)));
        assert!(needs_pin(Some("J1"), Some(3)));
        assert!(needs_pin(Some("J1"), Some(7)));
        assert!(!needs_pin(Some("P6"), Some(7)));
        assert!(!needs_pin(Some("P3"), None));
        assert!(!needs_pin(None, Some(1)));
        assert!(!needs_pin(Some("KG"), Some(1)));
    }

    #[test]
    fn cards_end_with_the_school_year() {
        let april = renkei_platform::clock::end_of_day_in_japan("2026-04-01").unwrap();
        let march = renkei_platform::clock::end_of_day_in_japan("2027-03-30").unwrap();
        let end = renkei_platform::clock::end_of_day_in_japan("2027-03-31").unwrap();
        assert_eq!(end_of_school_year(april), end);
        assert_eq!(end_of_school_year(march), end);
        let next = renkei_platform::clock::end_of_day_in_japan("2028-03-31").unwrap();
        assert_eq!(end_of_school_year(end + 1), next);
    }
}
