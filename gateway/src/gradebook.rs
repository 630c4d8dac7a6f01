//! The OneRoster 1.2 gradebook endpoints (`/ims/oneroster/gradebook/v1p2/…`), readable with the
//! gradebook category: categories (board-wide), line items (structure of a class) and results
//! (a child's data, returned only for the children the token covers).

use crate::error::{Error, Result};
use crate::read::{Answer, Read, single};
use crate::rostering::{class_in_scope, select, visible_school};
use crate::store::{By, Table};
use crate::view::GRADEBOOK;

/// `GET /categories`, and `GET /classes/{id}/categories` (the categories of its line items).
pub async fn categories(read: &Read, of_class: bool) -> Result<Answer> {
    let categories = if of_class {
        class_in_scope(read, read.id(0)).await?;
        let used: Vec<String> = select(read, Table::LINE_ITEMS, By::Class, &[read.id(0)])
            .await?
            .into_iter()
            .filter_map(|l| l.parent_id)
            .collect();
        read.gateway
            .store
            .select(Table::CATEGORIES, By::Id, &used)
            .await?
    } else {
        read.gateway
            .store
            .select(Table::CATEGORIES, By::All, &[])
            .await?
    };
    Ok(Answer::List(
        "categories",
        read.view().catalog_records(GRADEBOOK, categories).await?,
    ))
}

/// `GET /categories/{id}`.
pub async fn category(read: &Read) -> Result<Answer> {
    let categories = select(read, Table::CATEGORIES, By::Id, &[read.id(0)]).await?;
    Ok(single(
        "category",
        read.view().catalog_records(GRADEBOOK, categories).await?,
    ))
}

/// Where line items or results are taken from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum From {
    /// Everything in the token's reach.
    All,
    /// `…/classes/{id}/…`.
    OfClass,
    /// `…/schools/{id}/…`.
    OfSchool,
    /// `…/lineItems/{id}/results` and `…/classes/{id}/lineItems/{lineItemId}/results`.
    OfLineItem,
    /// `…/classes/{id}/students/{studentId}/results`.
    OfStudent,
}

/// Line items the app may see.
pub async fn line_items(read: &Read, from: From) -> Result<Answer> {
    let view = read.view();
    let items = match from {
        From::OfClass => {
            class_in_scope(read, read.id(0)).await?;
            select(read, Table::LINE_ITEMS, By::Class, &[read.id(0)]).await?
        }
        From::OfSchool => {
            visible_school(read).await?;
            select(read, Table::LINE_ITEMS, By::School, &[read.id(0)]).await?
        }
        _ => view.in_reach(Table::LINE_ITEMS).await?,
    };
    Ok(Answer::List(
        "lineItems",
        view.class_records(GRADEBOOK, items),
    ))
}

/// `GET /lineItems/{id}`.
pub async fn line_item(read: &Read) -> Result<Answer> {
    let items = select(read, Table::LINE_ITEMS, By::Id, &[read.id(0)]).await?;
    Ok(single(
        "lineItem",
        read.view().class_records(GRADEBOOK, items),
    ))
}

/// Results the app may see: only those of children the token covers for the gradebook.
pub async fn results(read: &Read, from: From) -> Result<Answer> {
    let view = read.view();
    let results = match from {
        From::All => view.in_reach(Table::RESULTS).await?,
        From::OfSchool => {
            visible_school(read).await?;
            select(read, Table::RESULTS, By::School, &[read.id(0)]).await?
        }
        From::OfClass => {
            class_in_scope(read, read.id(0)).await?;
            select(read, Table::RESULTS, By::Class, &[read.id(0)]).await?
        }
        From::OfLineItem => {
            let (class, item) = match read.ids.as_slice() {
                [class, item] => (Some(class.as_str()), item.as_str()),
                _ => (None, read.id(0)),
            };
            let items = select(read, Table::LINE_ITEMS, By::Id, &[item]).await?;
            let visible = view.class_records(GRADEBOOK, items);
            let in_class = visible
                .iter()
                .any(|i| class.is_none_or(|class| i.value["class"]["sourcedId"] == class));
            if !in_class {
                return Err(Error::NotFound(format!("no lineItem {item}")));
            }
            select(read, Table::RESULTS, By::Parent, &[item]).await?
        }
        From::OfStudent => {
            class_in_scope(read, read.id(0)).await?;
            let mut results = select(read, Table::RESULTS, By::User, &[read.id(1)]).await?;
            results.retain(|r| r.class_id.as_deref() == Some(read.id(0)));
            results
        }
    };
    Ok(Answer::List(
        "results",
        view.child_records(GRADEBOOK, results).await?,
    ))
}

/// `GET /results/{id}`.
pub async fn result(read: &Read) -> Result<Answer> {
    let results = select(read, Table::RESULTS, By::Id, &[read.id(0)]).await?;
    Ok(single(
        "result",
        read.view().child_records(GRADEBOOK, results).await?,
    ))
}
