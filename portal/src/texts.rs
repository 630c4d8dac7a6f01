//! The portal's words, in Japanese (polite, which pupils read too) and English.

use renkei_idp::pages::Locale;

/// Every fixed string of the portal's pages, in one language.
pub struct PortalTexts {
    /// Title of the consent page.
    pub title: &'static str,
    /// What the page is for, to a guardian.
    pub intro_guardian: &'static str,
    /// What the page is for, to a pupil.
    pub intro_pupil: &'static str,
    /// For people who decide for no child.
    pub nobody: &'static str,
    /// No app needs this person's decision for the child.
    pub no_requests: &'static str,
    /// Gives consent.
    pub grant: &'static str,
    /// Withdraws consent.
    pub withdraw: &'static str,
    /// After a grant.
    pub granted: &'static str,
    /// After a withdrawal.
    pub withdrawn: &'static str,
    /// A change that could not be made.
    pub change_failed: &'static str,
    /// Read history heading.
    pub reads_title: &'static str,
    /// No read yet.
    pub reads_none: &'static str,
    /// Column: when.
    pub when: &'static str,
    /// Column: which app.
    pub app: &'static str,
    /// Column: what.
    pub what: &'static str,
    /// Column: how many records.
    pub records: &'static str,
    /// A guardian the roster links to no child.
    pub no_children: &'static str,
    /// Heading of the list of what needs consent.
    pub requests_title: &'static str,
    /// An app or kind of data that no longer exists.
    pub removed_app: &'static str,
    /// Heading of what apps receive on the board's decision.
    pub school_title: &'static str,
    /// What that means.
    pub school_hint: &'static str,
    /// Home: before the role.
    pub role: &'static str,
    /// Role names.
    pub role_student: &'static str,
    /// A teacher.
    pub role_teacher: &'static str,
    /// A guardian.
    pub role_guardian: &'static str,
    /// An administrator.
    pub role_administrator: &'static str,
    /// The administrators' console link.
    pub console: &'static str,
    /// The teachers' class view link.
    pub class_view: &'static str,
    /// Home: before the school.
    pub school: &'static str,
    /// Home: before a pupil's or teacher's classes.
    pub classes: &'static str,
    /// Home: before a guardian's children.
    pub children: &'static str,
    /// Between names in a list.
    pub list_separator: &'static str,
    /// Heading of the apps the person approved.
    pub apps_title: &'static str,
    /// No app approved yet.
    pub apps_none: &'static str,
    /// Before the day an app was approved.
    pub approved_on: &'static str,
    /// Button that stops using an app.
    pub stop_using: &'static str,
    /// After stopping.
    pub stopped: &'static str,
    /// Heading of the sign-in methods.
    pub methods_title: &'static str,
    /// The account has a password.
    pub password_set: &'static str,
    /// The account has no password.
    pub password_none: &'static str,
    /// Before the number of passkeys.
    pub passkeys_count: &'static str,
    /// After it.
    pub passkeys_count_end: &'static str,
    /// Heading of the signed-in devices.
    pub devices_title: &'static str,
    /// Only this device is signed in.
    pub devices_only_this: &'static str,
    /// Before the number of other signed-in devices.
    pub devices_others: &'static str,
    /// After it.
    pub devices_others_end: &'static str,
    /// After this browser's line in the list.
    pub this_device: &'static str,
    /// Before when a device signed in.
    pub signed_in_at: &'static str,
    /// After it.
    pub signed_in_at_end: &'static str,
    /// Button that signs the other devices out.
    pub sign_out_others: &'static str,
    /// After signing them out.
    pub signed_out_others: &'static str,
    /// After unlinking.
    pub upstream_unlinked_notice: &'static str,
    /// After linking.
    pub upstream_linked_notice: &'static str,
    /// Button that unlinks it.
    pub upstream_unlink: &'static str,
    /// Button that links the person's upstream account.
    pub upstream_link: &'static str,
    /// An upstream account not linked.
    pub upstream_not_linked: &'static str,
    /// After it.
    pub upstream_linked_end: &'static str,
    /// Before the day an upstream account was linked.
    pub upstream_linked: &'static str,
}

const JA: PortalTexts = PortalTexts {
    title: "アプリに提供する情報",
    intro_guardian: "学校が使うアプリのうち、保護者の同意が必要な情報について、同意したり取り消したりできます。変更はすぐに反映されます。アプリがお子さまの情報を読んだ記録も、ここで確認できます（学校の判断で提供している情報の記録も含みます）。",
    intro_pupil: "アプリがあなたのどの情報を読むかを、ここできめることができます。アプリが読んだ記録も見られます。",
    nobody: "このページは、保護者の方と児童生徒のためのページです。",
    no_requests: "同意が必要なアプリはありません。",
    grant: "同意する",
    withdraw: "同意を取り消す",
    granted: "同意しました。アプリはすぐにこの情報を読めるようになります。",
    withdrawn: "同意を取り消しました。アプリはこの情報をもう読めません。",
    change_failed: "変更できませんでした。ページを読み込み直して、もう一度お試しください。",
    reads_title: "読まれた記録",
    reads_none: "まだ読まれていません。",
    when: "日時",
    app: "アプリ",
    what: "内容",
    records: "件数",
    no_children: "お子さまとの関係が名簿に登録されていません。学校にお問い合わせください。",
    requests_title: "同意が必要な情報",
    removed_app: "削除されたアプリ",
    school_title: "学校の判断で提供している情報",
    school_hint: "次の情報は、学校（教育委員会）の判断で、利用目的の範囲に限ってアプリに提供しています。ご質問は学校にお問い合わせください。",
    role: "役割",
    role_student: "児童生徒",
    role_teacher: "教職員",
    role_guardian: "保護者",
    role_administrator: "管理者",
    console: "管理画面",
    class_view: "担当の学級",
    school: "学校",
    classes: "クラス",
    children: "お子さま",
    list_separator: "、",
    apps_title: "使っているアプリ",
    apps_none: "まだアプリを使っていません。",
    approved_on: "許可した日：",
    stop_using: "使うのをやめる",
    stopped: "アプリの利用をやめました。アプリはもうあなたの情報を受け取れません。また使うときは、もう一度許可を求められます。",
    methods_title: "ログインの方法",
    password_set: "パスワード：設定されています",
    password_none: "パスワード：設定されていません",
    passkeys_count: "パスキー：",
    passkeys_count_end: "個",
    devices_title: "ログイン中の端末",
    devices_only_this: "ログインしているのは、この端末だけです。",
    devices_others: "この端末のほかに、",
    devices_others_end: "台の端末でログインしています。",
    this_device: "（この端末）",
    signed_in_at: "",
    signed_in_at_end: "にログイン",
    sign_out_others: "ほかの端末からログアウトする",
    signed_out_others: "ほかの端末からログアウトしました。",
    upstream_unlinked_notice: "外部のアカウントとの連携を解除しました。",
    upstream_linked_notice: "外部のアカウントと連携しました。次からはそのアカウントでログインできます。",
    upstream_unlink: "連携を解除",
    upstream_link: "連携する",
    upstream_not_linked: "連携していません",
    upstream_linked_end: "）",
    upstream_linked: "連携しています（",
};

/// Japanese for pupils in grades 1–3: plain words with furigana (`｜漢字《かんじ》`); the
/// rest as [`JA`].
const JA_YOUNG: PortalTexts = PortalTexts {
    title: "アプリに｜見《み》せる｜情報《じょうほう》",
    intro_pupil: "アプリがあなたのどの｜情報《じょうほう》を｜見《み》るかを、ここできめられます。アプリが｜見《み》たことも、ここでわかります。",
    no_requests: "あなたがきめることは、いまはありません。",
    grant: "いいよ",
    withdraw: "やめる",
    granted: "「いいよ」にしました。アプリは、すぐに｜見《み》られるようになります。",
    withdrawn: "やめました。アプリは、もう｜見《み》られません。",
    change_failed: "できませんでした。もういちどやってみてください。",
    reads_title: "アプリが｜見《み》たこと",
    reads_none: "まだ｜見《み》ていません。",
    when: "いつ",
    app: "アプリ",
    what: "なにを",
    records: "いくつ",
    requests_title: "いいかどうかを、きめる｜情報《じょうほう》",
    removed_app: "なくなったアプリ",
    school_title: "｜学校《がっこう》がきめて｜見《み》せる｜情報《じょうほう》",
    school_hint: "｜学校《がっこう》がきめて、アプリに｜見《み》せています。わからないときは、｜先生《せんせい》にきいてください。",
    role: "あなたは",
    role_student: "｜児童《じどう》",
    school: "｜学校《がっこう》",
    classes: "クラス",
    apps_title: "つかっているアプリ",
    apps_none: "まだアプリをつかっていません。",
    approved_on: "「いいよ」と｜言《い》った｜日《ひ》：",
    stop_using: "つかうのをやめる",
    stopped: "アプリをつかうのをやめました。アプリは、もうあなたの｜情報《じょうほう》をもらえません。",
    methods_title: "ログインのしかた",
    password_set: "パスワード：あります",
    password_none: "パスワード：ありません",
    passkeys_count_end: "こ",
    devices_title: "ログインしているタブレット",
    devices_only_this: "ログインしているのは、このタブレットだけです。",
    devices_others: "このタブレットのほかに、",
    devices_others_end: "｜台《だい》でログインしています。",
    this_device: "（このタブレット）",
    sign_out_others: "ほかのタブレットからログアウトする",
    signed_out_others: "ほかのタブレットからログアウトしました。",
    ..JA
};

const EN: PortalTexts = PortalTexts {
    title: "What apps may read",
    intro_guardian: "Where an app the school uses needs your consent to read your child's information, give or withdraw it here; changes take effect at once. You also see here what apps read about your child (including what the school provides on its own decision).",
    intro_pupil: "Decide here which of your information apps may read, and see what they read.",
    nobody: "This page is for guardians and pupils.",
    no_requests: "No app needs your consent.",
    grant: "Agree",
    withdraw: "Withdraw consent",
    granted: "You agreed. The app can read this information from now on.",
    withdrawn: "You withdrew your consent. The app can no longer read this information.",
    change_failed: "The change could not be made. Please reload the page and try again.",
    reads_title: "Read history",
    reads_none: "Nothing has been read yet.",
    when: "When",
    app: "App",
    what: "What",
    records: "Records",
    no_children: "The roster does not link you to a child. Please ask the school.",
    requests_title: "What needs your consent",
    removed_app: "A removed app",
    school_title: "Provided on the school's decision",
    school_hint: "The school (board of education) provides the following to the apps, only for the stated purpose. If you have questions, please ask the school.",
    role: "Role",
    role_student: "Pupil",
    role_teacher: "Staff",
    role_guardian: "Guardian",
    role_administrator: "Administrator",
    console: "Admin console",
    class_view: "My classes",
    school: "School",
    classes: "Classes",
    children: "Children",
    list_separator: ", ",
    apps_title: "Apps you use",
    apps_none: "You do not use any app yet.",
    approved_on: "Approved on ",
    stop_using: "Stop using",
    stopped: "You stopped using the app. It can no longer receive your information; if you use it again, it will ask for your approval again.",
    methods_title: "How you sign in",
    password_set: "Password: set",
    password_none: "Password: not set",
    passkeys_count: "Passkeys: ",
    passkeys_count_end: "",
    devices_title: "Signed-in devices",
    devices_only_this: "Only this device is signed in.",
    devices_others: "Besides this device, ",
    devices_others_end: " other device(s) are signed in.",
    this_device: " (this device)",
    signed_in_at: "Signed in on ",
    signed_in_at_end: "",
    sign_out_others: "Sign out the other devices",
    signed_out_others: "The other devices were signed out.",
    upstream_unlinked_notice: "Your outside account was unlinked.",
    upstream_linked_notice: "Your outside account is linked. You can sign in with it from now on.",
    upstream_unlink: "Unlink",
    upstream_link: "Link",
    upstream_not_linked: "Not linked",
    upstream_linked_end: ")",
    upstream_linked: "Linked (",
};

/// The portal's words in `locale` for `reader` (pupils in grades 1–3 read plain Japanese with
/// furigana).
pub fn for_reader(locale: Locale, reader: &renkei_idp::store::UserRow) -> &'static PortalTexts {
    if locale == Locale::Ja && renkei_idp::pages::is_young_reader(reader) {
        &JA_YOUNG
    } else {
        of(locale)
    }
}

/// The portal's words in `locale`.
pub fn of(locale: Locale) -> &'static PortalTexts {
    match locale {
        Locale::Ja => &JA,
        Locale::En => &EN,
    }
}
