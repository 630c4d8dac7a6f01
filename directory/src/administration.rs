//! Which part of the board an administrator administers. Only the board's own organisation
//! (the `district` org) or an explicit board-administrator role (`districtAdministrator`) makes
//! an administrator board-wide; an administrator whose primary organisation is a school
//! administers that school, and one whose primary organisation is a department (or any other
//! org) administers the school that department belongs to, found through its parents. Anything
//! else administers nothing: rights never widen because an org is not a school.

use renkei_platform::StoreResult;

use crate::Directory;

/// What an administrator's account reaches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Administers {
    /// The whole board.
    Board,
    /// One school (its sourcedId).
    School(String),
    /// Nothing: the primary organisation is outside every school and is not the board itself
    /// (a board department, a `local` org), or is unknown to the roster.
    Nothing,
}

/// OneRoster roles that make an account board-wide wherever its primary org lies.
pub const BOARD_ROLES: [&str; 1] = ["districtAdministrator"];

/// How many parents are followed from a department to its school, at most (org trees of a
/// board are two or three levels deep; a cycle in the files must not loop).
const MAX_DEPTH: usize = 8;

/// What the administrator with roster id `sourced_id` and primary organisation
/// `primary_org` administers. Accounts made outside the roster (`renkei user add`, no
/// sourcedId) are the board operator's own and reach the whole board.
pub async fn administered(
    directory: &dyn Directory,
    sourced_id: Option<&str>,
    primary_org: Option<&str>,
) -> StoreResult<Administers> {
    let Some(me) = sourced_id else {
        return Ok(Administers::Board);
    };
    if directory
        .roles_of(me)
        .await?
        .iter()
        .any(|role| BOARD_ROLES.contains(&role.role.as_str()))
    {
        return Ok(Administers::Board);
    }
    let mut next = primary_org.map(str::to_owned);
    for depth in 0..MAX_DEPTH {
        let Some(id) = next else {
            break;
        };
        let Some(org) = directory.org(&id).await? else {
            break;
        };
        match org.org_type.as_str() {
            "school" => return Ok(Administers::School(org.id)),
            "district" if depth == 0 => return Ok(Administers::Board),
            "district" => break,
            _ => next = org.parent_id,
        }
    }
    Ok(Administers::Nothing)
}

impl Administers {
    /// Whether this reaches any of these schools.
    pub fn reaches_any(&self, schools: &[String]) -> bool {
        match self {
            Administers::Board => true,
            Administers::School(own) => schools.contains(own),
            Administers::Nothing => false,
        }
    }
}
