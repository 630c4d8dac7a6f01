//! Sign-in cards for a class: a teacher prints a sheet for their class (one card per pupil, by
//! 出席番号, with its QR code, the pupil's name with its reading, the class and, from the grade
//! the school chooses, a PIN), reissues one pupil's card or voids a lost one; an administrator
//! does the same for any class they reach. Printing a sheet issues new cards: the earlier ones
//! stop working. The provider's card operations audit each card.

use renkei_directory::{ClassRef, Role};
use renkei_idp::card::{self, IssuedCard};
use renkei_idp::store::UserRow;

use crate::Console;
use crate::actor::Actor;
use crate::error::{Error, Result};

/// One printed card: what the provider issued, where the pupil sits, and its QR code.
#[derive(Clone, Debug)]
pub struct PrintedCard {
    /// The card.
    pub card: IssuedCard,
    /// The class's title.
    pub class: String,
    /// 出席番号.
    pub number: Option<i64>,
    /// The card's QR code (SVG), holding [`IssuedCard::url`].
    pub qr_svg: String,
}

/// Who prints cards: a teacher (their classes) or an administrator (the classes they reach).
pub enum Printer<'a> {
    /// A teacher, by their account.
    Teacher(&'a UserRow),
    /// An administrator in the console.
    Administrator(&'a Actor),
}

impl Printer<'_> {
    /// The class, if the printer may print its cards; unknown otherwise.
    async fn class(&self, console: &Console, class_id: &str) -> Result<ClassRef> {
        let directory = console.idp.directory.as_ref();
        let unknown = || {
            Error::NotFound(format!(
                "there is no class {class_id:?} you teach or administer"
            ))
        };
        match self {
            Printer::Teacher(teacher) => {
                if !teacher.enabled || Role::parse(&teacher.role) != Some(Role::Teacher) {
                    return Err(Error::Forbidden(
                        "cards are printed by teachers and administrators".into(),
                    ));
                }
                let me = teacher.sourced_id.as_deref().ok_or_else(unknown)?;
                directory
                    .classes_taught_by(me)
                    .await?
                    .into_iter()
                    .find(|c| c.id == class_id)
                    .ok_or_else(unknown)
            }
            Printer::Administrator(actor) => {
                actor.in_person("prints sign-in cards")?;
                let school = directory
                    .class_school(class_id)
                    .await?
                    .filter(|school| actor.reaches_school(school))
                    .ok_or_else(unknown)?;
                directory
                    .classes_of_school(&school)
                    .await?
                    .into_iter()
                    .find(|c| c.id == class_id)
                    .ok_or_else(unknown)
            }
        }
    }

    /// How the audit record names the printer.
    fn via(&self) -> String {
        match self {
            Printer::Teacher(teacher) => format!("class view ({})", teacher.username),
            Printer::Administrator(actor) => actor.via(),
        }
    }
}

/// Issues a new card for every pupil of the class (by 出席番号), with a PIN for those from
/// school year `pin_from` (1 = 小1) on; the earlier cards stop working.
pub async fn print_class(
    console: &Console,
    printer: &Printer<'_>,
    class_id: &str,
    pin_from: Option<u8>,
) -> Result<Vec<PrintedCard>> {
    let class = printer.class(console, class_id).await?;
    let issued = card::issue_for_class(
        console.idp.store.as_ref(),
        console.idp.directory.as_ref(),
        &console.audit,
        &printer.via(),
        &console.idp.config.issuer,
        &class.id,
        pin_from,
    )
    .await?;
    issued
        .into_iter()
        .map(|issued| printed(&class, issued))
        .collect()
}

/// Issues a new card for one pupil of the class (a lost or worn card); the earlier one stops
/// working.
pub async fn print_pupil(
    console: &Console,
    printer: &Printer<'_>,
    class_id: &str,
    pupil: &str,
    pin_from: Option<u8>,
) -> Result<PrintedCard> {
    let class = printer.class(console, class_id).await?;
    let number = on_roll(console, &class, pupil).await?;
    let person = pupil_account(console, pupil).await?;
    let mut card = card::issue(
        console.idp.store.as_ref(),
        &console.audit,
        &printer.via(),
        &console.idp.config.issuer,
        &person.username,
        card::needs_pin(person.grade.as_deref(), pin_from),
    )
    .await?;
    card.name = person.name;
    card.kana = person.kana;
    printed(&class, card::ClassCard { card, number })
}

/// Voids one pupil's card (lost); audited by the provider's operation.
pub async fn void_pupil(
    console: &Console,
    printer: &Printer<'_>,
    class_id: &str,
    pupil: &str,
) -> Result<bool> {
    let class = printer.class(console, class_id).await?;
    on_roll(console, &class, pupil).await?;
    let person = pupil_account(console, pupil).await?;
    Ok(card::void(
        console.idp.store.as_ref(),
        &console.audit,
        &printer.via(),
        &person.username,
    )
    .await?)
}

/// The pupil's 出席番号 in the class, if the pupil is on its roll; unknown otherwise.
async fn on_roll(console: &Console, class: &ClassRef, pupil: &str) -> Result<Option<i64>> {
    console
        .idp
        .directory
        .class_roll(&class.id)
        .await?
        .into_iter()
        .find(|(id, _)| id == pupil)
        .map(|(_, number)| number)
        .ok_or_else(|| Error::NotFound(format!("there is no pupil {pupil:?} in {}", class.title)))
}

/// The pupil's account (from the roster).
async fn pupil_account(console: &Console, pupil: &str) -> Result<renkei_directory::Person> {
    console
        .idp
        .directory
        .people(&[pupil.to_owned()])
        .await?
        .into_iter()
        .find(|p| Role::parse(&p.role) == Some(Role::Student))
        .ok_or_else(|| Error::NotFound(format!("{pupil:?} is not a pupil with an account")))
}

/// A class card as printed, with its QR code (also for the command line's sheets).
pub fn printed(class: &ClassRef, issued: card::ClassCard) -> Result<PrintedCard> {
    Ok(PrintedCard {
        qr_svg: qr_svg(&issued.card.url, 160)?,
        card: issued.card,
        class: class.title.clone(),
        number: issued.number,
    })
}

/// `text` as a QR code in SVG, at least `size` pixels square with its quiet zone.
pub fn qr_svg(text: &str, size: u32) -> Result<String> {
    let code = qrcode::QrCode::new(text.as_bytes())
        .map_err(|e| Error::Invalid(format!("the text does not fit in a QR code: {e}")))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(size, size)
        .quiet_zone(true)
        .build())
}
