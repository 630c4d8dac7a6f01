//! What a portal form just did, said once on the page it returns to (through the provider's
//! notice cookie, [`renkei_idp::notice`]).

use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;

use crate::Portal;
use crate::texts::PortalTexts;

/// Something a form did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// A consent was given.
    Granted,
    /// A consent was withdrawn.
    Withdrawn,
    /// The person stopped using an app.
    Stopped,
    /// The person's other devices were signed out.
    SignedOutOthers,
    /// The person linked their upstream account (the provider's callback says so).
    UpstreamLinked,
    /// The person unlinked it.
    UpstreamUnlinked,
}

impl Notice {
    const ALL: [Notice; 6] = [
        Notice::Granted,
        Notice::Withdrawn,
        Notice::Stopped,
        Notice::SignedOutOthers,
        Notice::UpstreamLinked,
        Notice::UpstreamUnlinked,
    ];

    fn word(self) -> &'static str {
        match self {
            Notice::Granted => "granted",
            Notice::Withdrawn => "withdrawn",
            Notice::Stopped => "stopped",
            Notice::SignedOutOthers => "signed-out-others",
            Notice::UpstreamLinked => renkei_idp::upstream::broker::LINKED,
            Notice::UpstreamUnlinked => renkei_idp::upstream::broker::UNLINKED,
        }
    }

    /// What the page says.
    pub fn words(self, p: &'static PortalTexts) -> &'static str {
        match self {
            Notice::Granted => p.granted,
            Notice::Withdrawn => p.withdrawn,
            Notice::Stopped => p.stopped,
            Notice::SignedOutOthers => p.signed_out_others,
            Notice::UpstreamLinked => p.upstream_linked_notice,
            Notice::UpstreamUnlinked => p.upstream_unlinked_notice,
        }
    }
}

/// The redirect after a form that did `notice`, back to `path`.
pub fn after(portal: &Portal, path: &str, notice: Notice) -> Response {
    renkei_idp::notice::after(&portal.idp, path, notice.word())
}

/// The notice waiting for this page, and the cookie that clears it.
pub fn take(portal: &Portal, headers: &HeaderMap) -> (Option<Notice>, Option<HeaderValue>) {
    let (word, clear) = renkei_idp::notice::take(&portal.idp, headers);
    let notice = word.and_then(|word| Notice::ALL.into_iter().find(|n| n.word() == word));
    (notice, clear)
}
