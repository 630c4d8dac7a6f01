//! The provider's HTML pages (sign-in, consent, messages, errors) and their two languages.
//!
//! Japanese is the default; English is chosen by a toggle link, the `ui_locales` of the
//! authorization request, a remembered choice (cookie) or `Accept-Language`, in that order.

use askama::Template;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};

/// A page language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Locale {
    /// 日本語 (default).
    Ja,
    /// English.
    En,
}

/// Name of the cookie that remembers the language toggle.
pub const LANG_COOKIE: &str = "renkei_lang";

impl Locale {
    /// Parses a language tag (`ja`, `ja-JP`, `en-US`, …).
    pub fn from_tag(tag: &str) -> Option<Self> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "ja" => Some(Locale::Ja),
            "en" => Some(Locale::En),
            _ => None,
        }
    }

    /// The first supported language of a space-separated `ui_locales` list.
    pub fn from_ui_locales(list: &str) -> Option<Self> {
        list.split_whitespace().find_map(Self::from_tag)
    }

    /// The supported language with the highest `q` in an `Accept-Language` header.
    pub fn from_accept_language(header: &str) -> Option<Self> {
        header
            .split(',')
            .filter_map(|item| {
                let mut parts = item.split(';');
                let locale = Self::from_tag(parts.next()?)?;
                let q = parts
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                (q > 0.0).then_some((locale, q))
            })
            .fold(
                None,
                |best: Option<(Locale, f32)>, (locale, q)| match best {
                    Some((_, best_q)) if best_q >= q => best,
                    _ => Some((locale, q)),
                },
            )
            .map(|(locale, _)| locale)
    }

    /// Chooses the page language: explicit toggle, then `ui_locales`, then the remembered
    /// choice, then the browser's preference, then Japanese.
    pub fn negotiate(
        toggle: Option<&str>,
        ui_locales: Option<&str>,
        remembered: Option<&str>,
        headers: &HeaderMap,
    ) -> Self {
        toggle
            .and_then(Self::from_tag)
            .or_else(|| ui_locales.and_then(Self::from_ui_locales))
            .or_else(|| remembered.and_then(Self::from_tag))
            .or_else(|| {
                headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(Self::from_accept_language)
            })
            .unwrap_or(Locale::Ja)
    }

    /// The language tag.
    pub fn tag(self) -> &'static str {
        match self {
            Locale::Ja => "ja",
            Locale::En => "en",
        }
    }

    /// A day as the board reads it (Japan time), in this language: `2026年12月6日`, or
    /// `6 December 2026`.
    pub fn date(self, unix: i64) -> String {
        let Some(moment) = renkei_platform::clock::in_japan(unix) else {
            return String::new();
        };
        let day = moment.date();
        match self {
            Locale::Ja => format!("{}年{}月{}日", day.year(), u8::from(day.month()), day.day()),
            Locale::En => format!("{} {} {}", day.day(), day.month(), day.year()),
        }
    }

    /// A moment as the board reads it (Japan time), in this language: `2026年12月6日 8:42`,
    /// or `6 December 2026, 8:42`.
    pub fn date_time(self, unix: i64) -> String {
        let Some(moment) = renkei_platform::clock::in_japan(unix) else {
            return String::new();
        };
        let clock = moment.time();
        let (hour, minute) = (clock.hour(), clock.minute());
        match self {
            Locale::Ja => format!("{} {hour}:{minute:02}", self.date(unix)),
            Locale::En => format!("{}, {hour}:{minute:02}", self.date(unix)),
        }
    }

    /// The words of the pages in this language for `reader`: pupils in grades 1–3 (the
    /// roster's grade) read plain Japanese with furigana.
    pub fn texts_for(self, reader: &crate::store::UserRow) -> &'static Texts {
        if self == Locale::Ja && is_young_reader(reader) {
            &JA_YOUNG
        } else {
            self.texts()
        }
    }

    /// The words of the pages in this language.
    pub fn texts(self) -> &'static Texts {
        match self {
            Locale::Ja => &JA,
            Locale::En => &EN,
        }
    }
}

/// Whether `reader` is a pupil in grade 1, 2 or 3 (MEXT's `P1`–`P3`, or CEDS `01`–`03`), who
/// reads the pages in plain Japanese with furigana.
pub fn is_young_reader(reader: &crate::store::UserRow) -> bool {
    reader.role == "student"
        && matches!(
            reader.grade.as_deref(),
            Some("P1" | "P2" | "P3" | "01" | "02" | "03")
        )
}

/// The pages' stylesheet (`/static/renkei.css`), also inlined in documents printed from the
/// command line.
pub const STYLESHEET: &str = include_str!("../static/renkei.css");

/// Template filters of the pages.
pub mod filters {
    /// Writes `text` as HTML, with `｜漢字《かんじ》` as ruby (furigana): the only markup
    /// our fixed texts carry. Everything else is escaped.
    pub fn ruby<T: std::fmt::Display>(
        text: T,
        _: &dyn askama::Values,
    ) -> askama::Result<askama::filters::Safe<String>> {
        Ok(askama::filters::Safe(super::ruby_html(&text.to_string())))
    }

    /// `text` without its readings (`｜漢字《かんじ》` → `漢字`), for titles and attributes,
    /// which cannot hold ruby; escaped by the template as usual.
    pub fn plain<T: std::fmt::Display>(text: T, _: &dyn askama::Values) -> askama::Result<String> {
        Ok(super::without_readings(&text.to_string()))
    }
}

/// `text` with each `｜base《reading》` reduced to its base.
pub fn without_readings(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('｜') {
        let after = &rest[start + '｜'.len_utf8()..];
        match after.split_once('《').and_then(|(base, tail)| {
            let (_, tail) = tail.split_once('》')?;
            (!base.is_empty() && !base.contains('｜')).then_some((base, tail))
        }) {
            Some((base, tail)) => {
                out.push_str(&rest[..start]);
                out.push_str(base);
                rest = tail;
            }
            None => {
                out.push_str(&rest[..start + '｜'.len_utf8()]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `text` as escaped HTML with each `｜base《reading》` written as
/// `<ruby>base<rp>（</rp><rt>reading</rt><rp>）</rp></ruby>`; a mark without its end stays
/// as it is.
pub fn ruby_html(text: &str) -> String {
    fn escape(out: &mut String, text: &str) {
        for c in text.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&#39;"),
                c => out.push(c),
            }
        }
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(start) = rest.find('｜') {
        let after = &rest[start + '｜'.len_utf8()..];
        let Some((base, tail)) = after.split_once('《') else {
            break;
        };
        let Some((reading, tail)) = tail.split_once('》') else {
            break;
        };
        if base.is_empty() || base.contains('｜') || reading.is_empty() {
            escape(&mut out, &rest[..start + '｜'.len_utf8()]);
            rest = after;
            continue;
        }
        escape(&mut out, &rest[..start]);
        out.push_str("<ruby>");
        escape(&mut out, base);
        out.push_str("<rp>（</rp><rt>");
        escape(&mut out, reading);
        out.push_str("</rt><rp>）</rp></ruby>");
        rest = tail;
    }
    escape(&mut out, rest);
    out
}

/// Every fixed string the pages show, in one language.
pub struct Texts {
    /// `lang` attribute.
    pub lang: &'static str,
    /// Language the toggle switches to.
    pub other_lang: &'static str,
    /// Name of that language, written in it.
    pub other_lang_name: &'static str,
    /// Product name.
    pub brand: &'static str,
    /// Sign-in page title.
    pub sign_in: &'static str,
    /// Before the app's name on the sign-in page, with its separator (Japanese: a full-width
    /// colon and no space; English: a space).
    pub sign_in_to: &'static str,
    /// Username label.
    pub username: &'static str,
    /// Password label.
    pub password: &'static str,
    /// Sign-in button.
    pub sign_in_button: &'static str,
    /// Help under the form.
    pub sign_in_hint: &'static str,
    /// The app asks for a passkey sign-in.
    pub passkey_required: &'static str,
    /// What to do without a passkey.
    pub passkey_required_hint: &'static str,
    /// Home-page link to the guardians' and pupils' consent page.
    pub account_link: &'static str,
    /// A password was sent where the app needs a passkey.
    pub password_not_enough: &'static str,
    /// The one message for every failed sign-in (no account enumeration).
    pub sign_in_failed: &'static str,
    /// Shown when too many sign-ins failed from one address (a whole school's network).
    pub sign_in_throttled: &'static str,
    /// Shown when an account's password was mistyped several times in a minute.
    pub sign_in_paused: &'static str,
    /// Shown when an account's password was mistyped too often in a day.
    pub sign_in_held: &'static str,
    /// Shown when the form expired or the CSRF check failed.
    pub form_expired: &'static str,
    /// Consent page title.
    pub consent_title: &'static str,
    /// After the app's name on the consent page, with its separator (no space before
    /// Japanese particles; a space in English).
    pub consent_asks: &'static str,
    /// [`Texts::consent_asks`] in polite Japanese, for guardians and staff
    /// (「〜が次の情報の利用を求めています」).
    pub consent_asks_polite: &'static str,
    /// Before a guardian's children's names: whose data it is.
    pub whose_children: &'static str,
    /// After them.
    pub whose_children_end: &'static str,
    /// Whose data it is, to a pupil.
    pub whose_self: &'static str,
    /// Whose data it is, to staff.
    pub whose_staff: &'static str,
    /// Heading of the data provided on the board's decision, on the approval page.
    pub consent_board_title: &'static str,
    /// What that means.
    pub consent_board_hint: &'static str,
    /// Heading of the data that needs consent, on the approval page.
    pub consent_needed_title: &'static str,
    /// Data provided only with a guardian's consent.
    pub basis_guardian: &'static str,
    /// Data provided only with the pupil's own consent.
    pub basis_student: &'static str,
    /// Where a guardian or pupil decides.
    pub consent_where: &'static str,
    /// Between a child's name and the state of the decision for them.
    pub name_separator: &'static str,
    /// Between items of a list of names.
    pub list_separator: &'static str,
    /// Marks class I (special-care) data.
    pub special_care: &'static str,
    /// The decision's state (`none`): nothing decided yet.
    pub state_none: &'static str,
    /// In force.
    pub state_granted: &'static str,
    /// Withdrawn.
    pub state_withdrawn: &'static str,
    /// Past its end.
    pub state_expired: &'static str,
    /// Given to an older version of the policy.
    pub state_outdated: &'static str,
    /// Given by a former guardian.
    pub state_lapsed: &'static str,
    /// Before a purpose of use.
    pub purpose: &'static str,
    /// Before the user's name, with its separator (no space after a full-width colon).
    pub signed_in_as: &'static str,
    /// Approve button.
    pub approve: &'static str,
    /// Deny button.
    pub deny: &'static str,
    /// Home page title.
    pub home_title: &'static str,
    /// Sign-out button and page title.
    pub sign_out: &'static str,
    /// Question on the sign-out page.
    pub sign_out_question: &'static str,
    /// Shown after signing out.
    pub signed_out: &'static str,
    /// Link to sign in from the home page.
    pub not_signed_in: &'static str,
    /// "or", between the password form and the passkey button.
    pub or: &'static str,
    /// Passkey sign-in button.
    pub passkey_sign_in: &'static str,
    /// The sign-in page's way to sign in with a printed card.
    pub card_sign_in: &'static str,
    /// On a signed-in page: the link for someone else at the same tablet to sign in.
    pub not_you: &'static str,
    /// The browser cannot use passkeys, on a page where only a passkey will do.
    pub passkey_unsupported: &'static str,
    /// A password sign-in refused because the person's role must use a passkey.
    pub passkey_policy_refused: &'static str,
    /// Title of the page that asks to enrol a passkey (during the grace period).
    pub passkey_enrol_title: &'static str,
    /// Before the last day a password still counts.
    pub passkey_enrol_until: &'static str,
    /// After it.
    pub passkey_enrol_until_end: &'static str,
    /// Enrol now.
    pub passkey_enrol_now: &'static str,
    /// Enrol later and continue.
    pub passkey_enrol_later: &'static str,
    /// Go on to the app, from the passkeys page.
    pub continue_to_app: &'static str,
    /// Shown when a passkey did not sign anyone in.
    pub passkey_failed: &'static str,
    /// Shown by the script when the device refused or the person cancelled.
    pub passkey_cancelled: &'static str,
    /// Passkeys page title and home-page link.
    pub passkeys_title: &'static str,
    /// What a passkey is, on the passkeys page.
    pub passkeys_intro: &'static str,
    /// When the person has none.
    pub passkeys_none: &'static str,
    /// Before a passkey's creation date.
    pub passkey_created_at: &'static str,
    /// Before a passkey's last use.
    pub passkey_last_used: &'static str,
    /// Between two facts on one line (、 in Japanese, no Latin separator).
    pub and_then: &'static str,
    /// Label of the new passkey's name.
    pub passkey_name: &'static str,
    /// After the device kind, the name offered for a new passkey ("iPad" + this).
    pub passkey_of_device: &'static str,
    /// The name offered for a new passkey on an unknown device.
    pub passkey_unnamed: &'static str,
    /// Shown when the name is empty or too long.
    pub passkey_name_invalid: &'static str,
    /// Button that creates a passkey on this device.
    pub passkey_add: &'static str,
    /// Button that removes a passkey.
    pub passkey_remove: &'static str,
    /// After a passkey was added.
    pub passkey_added: &'static str,
    /// After a passkey was removed.
    pub passkey_removed: &'static str,
    /// Above the upstream providers' buttons.
    pub upstream_or: &'static str,
    /// The sign-in page of a school that signs in only through its upstream provider.
    pub upstream_only: &'static str,
    /// After the first passkey: the codes follow.
    pub passkey_added_codes: &'static str,
    /// Renewing needs a passkey sign-in.
    pub recovery_needs_passkey: &'static str,
    /// What renewing does.
    pub recovery_renew_hint: &'static str,
    /// The button that makes a new set.
    pub recovery_renew: &'static str,
    /// No codes yet.
    pub recovery_none: &'static str,
    /// Before the day the codes were made.
    pub recovery_made: &'static str,
    /// Before how many unused codes are left.
    pub recovery_left: &'static str,
    /// The passkeys page's heading for recovery codes.
    pub recovery_title: &'static str,
    /// The passkeys page after a recovery sign-in.
    pub passkey_recovered: &'static str,
    /// A link from the sign-in page to the recovery sign-in.
    pub recovery_link: &'static str,
    /// When the new passkey did not check out.
    pub passkey_register_failed: &'static str,
    /// When the session is too old to add a passkey.
    pub passkey_sign_in_again: &'static str,
    /// Link back to the home page.
    pub back_home: &'static str,
    /// Title of an error page.
    pub error_title: &'static str,
    /// A form or upload larger than the server accepts.
    pub too_large: &'static str,
    /// A form the server could not read.
    pub bad_form: &'static str,
    /// A page opened with the wrong method (a form's address typed into the address bar).
    pub wrong_method: &'static str,
    /// The server failed (logged).
    pub server_failed: &'static str,
    /// Name and description of each scope.
    pub scopes: &'static [(&'static str, &'static str, &'static str)],
}

static JA: Texts = Texts {
    lang: "ja",
    other_lang: "en",
    other_lang_name: "English",
    brand: "連携 Renkei",
    sign_in: "ログイン",
    sign_in_to: "ログインして次のアプリを使います：",
    username: "ユーザー名",
    password: "パスワード",
    sign_in_button: "ログイン",
    sign_in_hint: "ユーザー名やパスワードがわからないときは、先生に聞いてください。",
    passkey_required: "このアプリを使うには、パスキーでのログインが必要です。",
    password_not_enough: "このアプリには、パスワードではログインできません。",
    account_link: "アプリに提供する情報",
    passkey_required_hint: "パスキーをまだ登録していない場合は、ホームからパスワードでログインし、「パスキー」のページで登録してから、アプリに戻ってください。",
    sign_in_failed: "ユーザー名またはパスワードがちがいます。",
    sign_in_throttled: "このネットワークからのログインの失敗が多すぎます。15分ほど待ってから、もう一度ためしてください。こまったときは、先生に相談してください。",
    sign_in_paused: "このユーザー名で、パスワードのまちがいが続きました。1分ほど待ってから、もう一度ためしてください。パスキーなら、すぐにログインできます。",
    sign_in_held: "このユーザー名は、パスワードのまちがいがとても多いため、15分に1回しかためせません。15分ほど待ってから、もう一度ためしてください。パスキーなら、すぐにログインできます。先生か学校の管理者がパスワードを再設定すると、すぐにためせるようになります。",
    form_expired: "ページの有効期限が切れました。もう一度ためしてください。",
    consent_title: "アプリへの情報の提供",
    consent_asks: "が、次の情報を使いたいと言っています。",
    consent_asks_polite: "が次の情報の利用を求めています。",
    whose_children: "お子さま（",
    whose_children_end: "）の情報です。",
    whose_self: "あなたの情報です。",
    whose_staff: "担当する児童生徒の情報です。同意が必要な情報は、同意がある児童生徒の分だけ提供されます。",
    consent_board_title: "教育委員会の決定で提供される情報",
    consent_board_hint: "同意は必要ありません。利用目的の範囲に限って提供されます。",
    consent_needed_title: "同意が必要な情報",
    basis_guardian: "保護者の同意がある場合だけ提供されます。",
    basis_student: "本人の同意がある場合だけ提供されます。",
    consent_where: "同意や取り消しは、ホームの「アプリに提供する情報」からいつでもできます。",
    name_separator: "：",
    list_separator: "、",
    special_care: "要配慮個人情報",
    state_none: "まだ決めていません（同意が必要です）",
    state_granted: "同意済み",
    state_withdrawn: "同意は取り消されています",
    state_expired: "同意の期限が切れました",
    state_outdated: "内容が変わりました。もう一度ご確認ください",
    state_lapsed: "以前の保護者の同意です。改めてご判断ください",
    purpose: "利用目的：",
    signed_in_as: "ログイン中：",
    approve: "許可する",
    deny: "許可しない",
    home_title: "連携 Renkei",
    sign_out: "ログアウト",
    sign_out_question: "ログアウトしますか？",
    signed_out: "ログアウトしました。",
    not_signed_in: "ログインしていません。",
    or: "または",
    passkey_sign_in: "パスキーでログイン",
    card_sign_in: "カードでログイン",
    not_you: "ご本人ではありませんか？別の人としてログインする",
    passkey_unsupported: "このブラウザーではパスキーを使えません。パスキーに対応したブラウザー（最新のChrome、Edge、Safariなど）で開くか、先生や学校の管理者に相談してください。",
    passkey_policy_refused: "このアカウントは、教育委員会のきまりにより、パスキーでのログインが必要です。パスワードだけではログインできません。パスキーをまだ登録していない場合は、学校の管理者にご相談ください。",
    passkey_enrol_title: "パスキーを登録してください",
    passkey_enrol_until: "教育委員会のきまりにより、",
    passkey_enrol_until_end: "を過ぎると、パスワードだけではログインできなくなります。この端末にパスキーを登録してください。",
    passkey_enrol_now: "いまパスキーを登録する",
    passkey_enrol_later: "あとで登録する",
    continue_to_app: "アプリに進む",
    passkey_failed: "パスキーでログインできませんでした。もう一度ためすか、パスワードでログインしてください。",
    passkey_cancelled: "パスキーを使えませんでした。中止したか、この端末では使えません。",
    passkeys_title: "パスキー",
    passkeys_intro: "パスキーを登録すると、パスワードを入力しなくても、この端末の画面ロック（指紋・顔・PIN）でログインできます。",
    passkeys_none: "登録されているパスキーはありません。",
    passkey_created_at: "登録：",
    passkey_last_used: "最後に使った日：",
    and_then: "、",
    passkey_name: "パスキーの名前",
    passkey_of_device: "のパスキー",
    passkey_unnamed: "パスキー",
    passkey_name_invalid: "パスキーの名前を60文字以内で入力してください。",
    passkey_add: "この端末にパスキーを登録",
    passkey_remove: "削除",
    passkey_added: "パスキーを登録しました。",
    passkey_removed: "パスキーを削除しました。",
    upstream_or: "または、学校のアカウントで",
    upstream_only: "この学校では、下のボタンからログインします。パスワードではログインできません。",
    passkey_added_codes: "パスキーを登録しました。次の回復コードを保管してください。",
    recovery_needs_passkey: "回復コードを作るには、パスキーでログインし直してください。",
    recovery_renew_hint: "新しいコードを作ると、これまでのコードは使えなくなります。",
    recovery_renew: "新しい回復コードを作る",
    recovery_none: "回復コードはまだありません。パスキーの端末をなくしたときのために作っておきましょう。",
    recovery_made: "作成日：",
    recovery_left: "未使用の回復コード：",
    recovery_title: "回復コード",
    passkey_recovered: "回復コードでログインしました。新しいパスキーを登録し、なくした端末のパスキーを削除してください。",
    recovery_link: "回復コードでログイン（パスキーの端末をなくしたとき）",
    passkey_register_failed: "パスキーを登録できませんでした。もう一度ためしてください。",
    passkey_sign_in_again: "パスキーを登録するには、ログアウトして、もう一度ログインしてください。",
    back_home: "ホームにもどる",
    error_title: "エラーが発生しました",
    too_large: "送信された内容が大きすぎます。内容を短くして、もう一度お試しください。",
    bad_form: "送信された内容を読み取れませんでした。ページを読み込み直して、もう一度お試しください。",
    wrong_method: "このページは、この方法では開けません。ホームからお進みください。",
    server_failed: "サーバーで問題が発生しました。しばらくしてから、もう一度お試しください。続くときは、学校にお知らせください。",
    scopes: &[
        (
            "urn:renkei:scope:admin",
            "管理者としての操作",
            "教育委員会・学校の管理者として、アプリ、利用方針、利用者、監査ログを見たり変えたりします。",
        ),
        (
            "openid",
            "あなたがだれか",
            "ログインした人がだれかをアプリが確認します。",
        ),
        ("profile", "名前", "名前とそのよみがな。"),
        ("email", "メールアドレス", "登録されているメールアドレス。"),
        (
            "school",
            "学校・学年・役割",
            "所属する学校、学年、児童生徒・教職員などの役割。",
        ),
        ("classes", "学級", "在籍している学級（学級名を含みます）。"),
        (
            "offline_access",
            "ログアウト後の利用",
            "ログアウトしたあとも、アプリが続けて情報を使えるようにします。",
        ),
    ],
};

/// Japanese for pupils in grades 1–3: plain words a six-year-old can follow, with furigana on
/// every kanji (`｜漢字《かんじ》`, written as ruby by [`filters::ruby`]); the rest as [`JA`].
static JA_YOUNG: Texts = Texts {
    not_you: "ちがう人かな？じぶんのカードでログインしてね",
    brand: "｜連携《れんけい》 Renkei",
    home_title: "｜連携《れんけい》 Renkei",
    consent_title: "アプリに｜見《み》せる｜情報《じょうほう》",
    consent_asks: "が、つぎの｜情報《じょうほう》をつかいたいと｜言《い》っています。",
    whose_self: "あなたの｜情報《じょうほう》です。",
    consent_board_title: "｜学校《がっこう》がきめて｜見《み》せる｜情報《じょうほう》",
    consent_board_hint: "｜学校《がっこう》がきめたので、あなたがきめることはありません。",
    consent_needed_title: "いいかどうかを、きめる｜情報《じょうほう》",
    basis_guardian: "おうちの｜人《ひと》が「いいよ」と｜言《い》ったときだけ｜見《み》せます。",
    basis_student: "あなたが「いいよ」と｜言《い》ったときだけ｜見《み》せます。",
    consent_where: "あとからでも、ホームの「アプリに｜見《み》せる｜情報《じょうほう》」でかえられます。",
    special_care: "とくにたいせつな｜情報《じょうほう》",
    state_none: "まだきめていません",
    state_granted: "「いいよ」と｜言《い》いました",
    state_withdrawn: "やめました",
    state_expired: "おわりました",
    state_outdated: "かわりました。もういちど｜見《み》てください",
    state_lapsed: "もういちどきめてください",
    purpose: "なんのため：",
    signed_in_as: "ログインしている｜人《ひと》：",
    approve: "いいよ",
    deny: "だめ",
    account_link: "アプリに｜見《み》せる｜情報《じょうほう》",
    not_signed_in: "ログインしていません。",
    scopes: &[
        (
            "urn:renkei:scope:admin",
            "管理者としての操作",
            "教育委員会・学校の管理者として、アプリ、利用方針、利用者、監査ログを見たり変えたりします。",
        ),
        (
            "openid",
            "あなたがだれか",
            "ログインした｜人《ひと》がだれかを、アプリがたしかめます。",
        ),
        (
            "profile",
            "｜名前《なまえ》",
            "｜名前《なまえ》と、そのよみかた。",
        ),
        ("email", "メールアドレス", "メールアドレス。"),
        (
            "school",
            "｜学校《がっこう》と｜学年《がくねん》",
            "どの｜学校《がっこう》の、｜何年生《なんねんせい》か。",
        ),
        ("classes", "クラス", "どのクラスか。"),
        (
            "offline_access",
            "ログアウトしたあと",
            "ログアウトしたあとも、アプリが｜情報《じょうほう》をつかえます。",
        ),
    ],
    ..JA
};

static EN: Texts = Texts {
    lang: "en",
    other_lang: "ja",
    other_lang_name: "日本語",
    brand: "Renkei 連携",
    sign_in: "Sign in",
    sign_in_to: "Sign in to continue to ",
    username: "Username",
    password: "Password",
    sign_in_button: "Sign in",
    sign_in_hint: "If you do not know your username or password, ask your teacher.",
    passkey_required: "This app needs you to sign in with a passkey.",
    password_not_enough: "This app does not accept a sign-in with a password.",
    account_link: "What apps may read",
    passkey_required_hint: "If you have no passkey yet, sign in with your password from the home page, add one on the Passkeys page, then go back to the app.",
    sign_in_failed: "The username or password is incorrect.",
    sign_in_throttled: "Too many failed sign-ins from this network. Please wait about 15 minutes and try again. If you need help, ask a teacher.",
    sign_in_paused: "The password for this username was mistyped several times. Please wait about a minute and try again. A passkey signs you in at once.",
    sign_in_held: "The password for this username was mistyped very many times, so it can be tried only once every 15 minutes. Please wait about 15 minutes and try again. A passkey signs you in at once, and a teacher or the school's administrator can reset the password to lift the wait.",
    form_expired: "This page has expired. Please try again.",
    consent_title: "Share information with an app",
    consent_asks: " would like to use the following information.",
    consent_asks_polite: " asks to use the following information.",
    whose_children: "About your child: ",
    whose_children_end: ".",
    whose_self: "About you.",
    whose_staff: "About the pupils you teach. Where consent is needed, only those who consented are included.",
    consent_board_title: "Provided on the board's decision",
    consent_board_hint: "No consent is asked; it is provided only for the stated purpose.",
    consent_needed_title: "Needs consent",
    basis_guardian: "Provided only with a guardian's consent.",
    basis_student: "Provided only with the pupil's own consent.",
    consent_where: "You can agree or withdraw at any time under “What apps may read” on the home page.",
    name_separator: ": ",
    list_separator: ", ",
    special_care: "Special-care information",
    state_none: "Not decided yet (consent is needed)",
    state_granted: "Agreed",
    state_withdrawn: "Consent withdrawn",
    state_expired: "The consent has expired",
    state_outdated: "The policy changed since the consent: please check it again",
    state_lapsed: "Given by a former guardian: please decide",
    purpose: "Purpose: ",
    signed_in_as: "Signed in as ",
    approve: "Allow",
    deny: "Don't allow",
    home_title: "Renkei",
    sign_out: "Sign out",
    sign_out_question: "Do you want to sign out?",
    signed_out: "You have signed out.",
    not_signed_in: "You are not signed in.",
    or: "or",
    passkey_sign_in: "Sign in with a passkey",
    card_sign_in: "Sign in with a card",
    not_you: "Not you? Sign in as someone else",
    passkey_unsupported: "This browser cannot use passkeys. Please open this page in a browser that supports them (a recent Chrome, Edge or Safari), or ask a teacher or the school's administrator.",
    passkey_policy_refused: "By the board's policy, this account must sign in with a passkey; a password alone is not enough. If you have not registered a passkey yet, please ask your school's administrator.",
    passkey_enrol_title: "Please register a passkey",
    passkey_enrol_until: "By the board's policy, a password alone will no longer sign you in after ",
    passkey_enrol_until_end: ". Please register a passkey on this device.",
    passkey_enrol_now: "Register a passkey now",
    passkey_enrol_later: "Later",
    continue_to_app: "Continue to the app",
    passkey_failed: "Signing in with the passkey did not work. Try again, or sign in with your password.",
    passkey_cancelled: "The passkey could not be used: it was cancelled, or this device does not support it.",
    passkeys_title: "Passkeys",
    passkeys_intro: "With a passkey you sign in with this device's screen lock (fingerprint, face or PIN) instead of typing a password.",
    passkeys_none: "You have no passkeys yet.",
    passkey_created_at: "Created ",
    passkey_last_used: "last used ",
    and_then: " · ",
    passkey_name: "Name of the passkey",
    passkey_of_device: " passkey",
    passkey_unnamed: "Passkey",
    passkey_name_invalid: "Give the passkey a name of at most 60 characters.",
    passkey_add: "Create a passkey on this device",
    passkey_remove: "Remove",
    passkey_added: "The passkey was created.",
    passkey_removed: "The passkey was removed.",
    upstream_or: "Or with your school account",
    upstream_only: "At this school you sign in with the button below; a password does not sign you in.",
    passkey_added_codes: "Your passkey is registered. Please keep the recovery codes below.",
    recovery_needs_passkey: "To make recovery codes, sign in again with a passkey.",
    recovery_renew_hint: "Making new codes voids the earlier ones.",
    recovery_renew: "Make new recovery codes",
    recovery_none: "You have no recovery codes yet. Make some in case you lose your passkey device.",
    recovery_made: "Made on ",
    recovery_left: "Unused recovery codes: ",
    recovery_title: "Recovery codes",
    passkey_recovered: "You signed in with a recovery code. Register a new passkey, and remove the passkey of the lost device.",
    recovery_link: "Sign in with a recovery code (lost passkey device)",
    passkey_register_failed: "The passkey could not be created. Please try again.",
    passkey_sign_in_again: "To create a passkey, sign out and sign in again.",
    back_home: "Back to the home page",
    error_title: "Something went wrong",
    too_large: "What was sent is too large. Please shorten it and try again.",
    bad_form: "What was sent could not be read. Please reload the page and try again.",
    wrong_method: "This page cannot be opened this way. Please start from the home page.",
    server_failed: "The server ran into a problem. Please try again in a moment; if it goes on, please tell the school.",
    scopes: &[
        (
            "urn:renkei:scope:admin",
            "Acting as an administrator",
            "The app sees and changes apps, data policies, people and the audit log as the board's or a school's administrator.",
        ),
        (
            "openid",
            "Who you are",
            "The app confirms who has signed in.",
        ),
        ("profile", "Your name", "Your name and its kana reading."),
        ("email", "E-mail address", "Your registered e-mail address."),
        (
            "school",
            "School, grade and role",
            "Your school, grade and role (student, teacher, …).",
        ),
        (
            "classes",
            "Classes",
            "The classes you are enrolled in (with their names).",
        ),
        (
            "offline_access",
            "Use after sign-out",
            "The app may keep using this information after you sign out.",
        ),
    ],
};

impl Texts {
    /// The words for a consent decision's state, as the consent overview names it.
    pub fn state(&self, state: &str) -> &'static str {
        match state {
            "granted" => self.state_granted,
            "withdrawn" => self.state_withdrawn,
            "expired" => self.state_expired,
            "outdated" => self.state_outdated,
            "lapsed" => self.state_lapsed,
            _ => self.state_none,
        }
    }

    /// Name and description of a scope, or the scope itself for scopes without a text.
    pub fn scope(&self, scope: &str) -> (String, String) {
        self.scopes
            .iter()
            .find(|(name, _, _)| *name == scope)
            .map(|(_, title, description)| ((*title).to_owned(), (*description).to_owned()))
            .unwrap_or_else(|| (scope.to_owned(), String::new()))
    }
}

/// The sign-in page.
#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    /// Words.
    pub t: &'static Texts,
    /// Link that switches the language.
    pub toggle_href: String,
    /// App the user signs in to, when in an authorization flow.
    pub app_name: Option<&'a str>,
    /// Message after a failed attempt.
    pub error: Option<&'static str>,
    /// CSRF token for the form.
    pub csrf_token: &'a str,
    /// Pending authorization request id, or empty.
    pub request: &'a str,
    /// Username to pre-fill (`login_hint` or the last attempt).
    pub username: &'a str,
    /// Whether to offer signing in with a passkey (the issuer has a domain name).
    pub passkeys: bool,
    /// The app asks for a passkey sign-in: the password form is not offered.
    pub passkey_only: bool,
    /// A printed card may sign in (the app did not ask for a stronger class).
    pub cards: bool,
    /// The upstream providers offered: where each button leads, its words.
    pub upstreams: Vec<(String, String)>,
    /// The school signs in only through its upstream providers: no password form.
    pub upstream_only: bool,
}

/// One passkey on the passkeys page.
pub struct PasskeyItem {
    /// Credential id (base64url), posted to remove it.
    pub id: String,
    /// The person's name for it.
    pub name: String,
    /// Creation date (Japan time).
    pub created: String,
    /// Date of its last sign-in.
    pub last_used: Option<String>,
}

/// The passkeys page: a person's passkeys, add one on this device, remove one.
#[derive(Template)]
#[template(path = "passkeys.html")]
pub struct PasskeysPage<'a> {
    /// Words.
    pub t: &'static Texts,
    /// Link that switches the language.
    pub toggle_href: String,
    /// What the last action did.
    pub notice: Option<&'static str>,
    /// Why the last action failed.
    pub error: Option<&'static str>,
    /// Whether the sign-in is recent enough to add a passkey.
    pub recent: bool,
    /// The person's passkeys, oldest first.
    pub passkeys: Vec<PasskeyItem>,
    /// CSRF token for the forms and the script's requests.
    pub csrf_token: &'a str,
    /// Name offered for a new passkey.
    pub suggested_name: String,
    /// The app sign-in to go on with (a pending request's id), if the page was reached from
    /// the grace-period prompt.
    pub continue_to: Option<String>,
    /// The person's recovery codes: how many are unused, and the day they were made.
    pub recovery: Option<(u64, String)>,
    /// Whether the session may make new recovery codes (a recent passkey sign-in).
    pub may_renew_recovery: bool,
}

/// The app-approval page.
#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
    /// Words.
    pub t: &'static Texts,
    /// Link that switches the language.
    pub toggle_href: String,
    /// The asking app.
    pub app_name: &'a str,
    /// What it asks, after its name: polite for guardians and staff, plain for pupils.
    pub asks: &'static str,
    /// Whose data it is.
    pub whose: String,
    /// Name and description of each requested scope.
    pub scopes: Vec<(String, String)>,
    /// School-affairs data provided on the board's decision.
    pub board: Vec<crate::approval::DataUseItem>,
    /// School-affairs data that needs consent, with the person's decisions.
    pub needs_consent: Vec<ConsentItem>,
    /// Where the person decides (guardians and pupils who decide something here).
    pub decides: bool,
    /// The signed-in user's display name.
    pub user_name: String,
    /// CSRF token for the form.
    pub csrf_token: &'a str,
    /// Pending authorization request id.
    pub request: &'a str,
}

/// A category that needs consent, on the approval page.
pub struct ConsentItem {
    /// The category and its purpose.
    pub item: crate::approval::DataUseItem,
    /// Whose consent it needs, in words.
    pub basis: &'static str,
    /// For each child the person decides for: name and decision, in words.
    pub states: Vec<String>,
}

impl<'a> ConsentPage<'a> {
    /// The page for `user` approving the request `valid`, with what the app may read.
    pub fn new(
        t: &'static Texts,
        toggle_href: String,
        valid: &'a crate::authorize::ValidRequest,
        user: &crate::store::UserRow,
        data_use: crate::approval::DataUse,
        csrf_token: &'a str,
        request: &'a str,
    ) -> Self {
        use renkei_directory::Role;
        let role = Role::parse(&user.role);
        let whose = match role {
            Some(Role::Guardian) if !data_use.children.is_empty() => format!(
                "{}{}{}",
                t.whose_children,
                data_use.children.join(t.list_separator),
                t.whose_children_end
            ),
            Some(Role::Student) => t.whose_self.to_owned(),
            Some(Role::Teacher | Role::Administrator) => t.whose_staff.to_owned(),
            _ => String::new(),
        };
        let (board, consent): (Vec<_>, Vec<_>) =
            data_use.items.into_iter().partition(|i| i.board_decided);
        let needs_consent: Vec<ConsentItem> = consent
            .into_iter()
            .map(|item| ConsentItem {
                basis: if item.basis == "student" {
                    t.basis_student
                } else {
                    t.basis_guardian
                },
                states: item
                    .states
                    .iter()
                    .map(|(name, state)| format!("{name}{}{}", t.name_separator, t.state(state)))
                    .collect(),
                item,
            })
            .collect();
        ConsentPage {
            t,
            toggle_href,
            app_name: &valid.client.name,
            asks: if role == Some(Role::Student) {
                t.consent_asks
            } else {
                t.consent_asks_polite
            },
            whose,
            scopes: valid.scopes.iter().map(|s| t.scope(s)).collect(),
            board,
            decides: needs_consent.iter().any(|i| !i.states.is_empty()),
            needs_consent,
            user_name: crate::user::display_name(user),
            csrf_token,
            request,
        }
    }
}

/// A form button on a message page.
pub struct PageAction {
    /// Where the form posts.
    pub path: &'static str,
    /// Button label.
    pub label: &'static str,
    /// Hidden fields.
    pub fields: Vec<(&'static str, String)>,
}

/// A page with a title, a few lines of text and optionally one button.
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    /// Words.
    pub t: &'static Texts,
    /// Link that switches the language.
    pub toggle_href: String,
    /// Heading.
    pub title: String,
    /// Paragraphs.
    pub lines: Vec<String>,
    /// Links styled as buttons (href, label), first the main one.
    pub links: Vec<(String, &'static str)>,
    /// Optional button.
    pub action: Option<PageAction>,
    /// Plain links under everything (href, label): the way home from a page whose button is
    /// the main thing to do.
    pub footer: Vec<(String, &'static str)>,
    /// CSRF token for the button's form.
    pub csrf_token: String,
}

/// The error page in both languages, for a response that no request's language reaches;
/// [`crate::error_page::localize`] replaces it with [`LocalizedErrorPage`].
#[derive(Template)]
#[template(path = "error_bilingual.html")]
struct ErrorPage<'a> {
    ja: &'a str,
    en: &'a str,
}

/// What an error page says, kept on its response so that the page can be written again in the
/// reader's language with the links of every page.
#[derive(Clone, Debug)]
pub struct PageError {
    /// In Japanese.
    pub ja: String,
    /// In English.
    pub en: String,
}

/// An error page in the reader's language, with a way home, to sign in or out, and the
/// language toggle.
#[derive(Template)]
#[template(path = "error.html")]
pub struct LocalizedErrorPage<'a> {
    /// Words.
    pub t: &'static Texts,
    /// Link that switches the language.
    pub toggle_href: String,
    /// What went wrong and what to do.
    pub message: &'a str,
    /// Whether the browser holds a session (offer sign-out rather than sign-in).
    pub signed_in: bool,
}

/// Renders a template as an HTML response that is never cached.
pub fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => {
            let mut response = Html(html).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => {
            crate::error::Error::internal(format!("template failed: {error}")).into_response()
        }
    }
}

/// [`render`] for a page that runs our own script (`/static/passkey.js`): its policy lets
/// scripts and `fetch` reach this origin only; every other page runs no script at all.
pub fn render_with_script(page: &impl Template) -> Response {
    let mut response = render(page);
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(renkei_platform::web::SCRIPT_PAGE_POLICY),
    );
    response
}

/// The error page, in Japanese and English; the provider's routes write it again in the
/// reader's language ([`crate::error_page::localize`]).
pub fn error_page(ja: &str, en: &str) -> Response {
    let mut response = render(&ErrorPage { ja, en });
    response.extensions_mut().insert(PageError {
        ja: ja.to_owned(),
        en: en.to_owned(),
    });
    response
}

/// The link that switches `path?query` to the other language.
pub fn toggle_href(t: &Texts, path: &str, params: &[(&str, &str)]) -> String {
    let mut query: Vec<(&str, &str)> = params
        .iter()
        .copied()
        .filter(|(_, v)| !v.is_empty())
        .collect();
    query.push(("lang", t.other_lang));
    format!(
        "{path}?{}",
        serde_urlencoded::to_string(query).unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruby_marks_become_ruby_and_everything_else_is_escaped() {
        assert_eq!(
            ruby_html("｜学校《がっこう》の<b>"),
            "<ruby>学校<rp>（</rp><rt>がっこう</rt><rp>）</rp></ruby>の&lt;b&gt;"
        );
        assert_eq!(ruby_html("｜未完《みかん"), "｜未完《みかん");
        assert_eq!(
            ruby_html("a ｜｜b《c》"),
            "a ｜<ruby>b<rp>（</rp><rt>c</rt><rp>）</rp></ruby>"
        );
        assert_eq!(ruby_html("\"'&"), "&quot;&#39;&amp;");
        assert_eq!(
            without_readings("｜学校《がっこう》の｜先生《せんせい》"),
            "学校の先生"
        );
        assert_eq!(without_readings("｜未完《みかん"), "｜未完《みかん");
    }

    #[test]
    fn accept_language_prefers_highest_quality() {
        assert_eq!(
            Locale::from_accept_language("en-US,en;q=0.9,ja;q=0.8"),
            Some(Locale::En)
        );
        assert_eq!(
            Locale::from_accept_language("fr, ja;q=0.5, en;q=0.4"),
            Some(Locale::Ja)
        );
        assert_eq!(Locale::from_accept_language("fr, de"), None);
        assert_eq!(Locale::from_accept_language("en;q=0"), None);
    }

    #[test]
    fn negotiation_order_is_toggle_ui_locales_cookie_header() {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static("en"));
        assert_eq!(
            Locale::negotiate(None, None, None, &HeaderMap::new()),
            Locale::Ja
        );
        assert_eq!(Locale::negotiate(None, None, None, &headers), Locale::En);
        assert_eq!(
            Locale::negotiate(None, None, Some("ja"), &headers),
            Locale::Ja
        );
        assert_eq!(
            Locale::negotiate(None, Some("de en-GB"), Some("ja"), &headers),
            Locale::En
        );
        assert_eq!(
            Locale::negotiate(Some("ja"), Some("en"), None, &headers),
            Locale::Ja
        );
    }
}
