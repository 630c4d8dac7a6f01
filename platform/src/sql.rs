//! Helpers for writing one body of SQL for SQLite and PostgreSQL: batched `VALUES` lists in a
//! few statement shapes, parameter lists spelled as each database reads them fastest.

/// `items` in consecutive chunks, each of the largest of `sizes` (descending) that fits what is
/// left, else all that is left: batch inserts of any length then use only a few statement
/// shapes, which the database prepares once per connection.
pub fn in_chunks<'a, T>(items: &'a [T], sizes: &'a [usize]) -> impl Iterator<Item = &'a [T]> + 'a {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = sizes
            .iter()
            .copied()
            .find(|&size| size > 0 && size <= rest.len())
            .unwrap_or(rest.len());
        let (chunk, after) = rest.split_at(size);
        rest = after;
        Some(chunk)
    })
}

/// `($1, …, $width), ($width+1, …), …` for `rows` rows.
///
/// `numbered` spells them `$1, $2, …` (PostgreSQL); otherwise `?`, bound in order of appearance
/// (SQLite, which looks each numbered parameter up by name in time proportional to their
/// number: a batch of 2,048 `$n` cost it quadratic time, a sixth of a gateway read's CPU).
pub fn value_rows(rows: usize, width: usize, numbered: bool) -> String {
    (0..rows)
        .map(|row| {
            let columns: Vec<String> = (1..=width)
                .map(|c| {
                    if numbered {
                        format!("${}", row * width + c)
                    } else {
                        "?".to_owned()
                    }
                })
                .collect();
            format!("({})", columns.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `$1, …, $n`.
pub fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The database's clock in Unix milliseconds, as a SQLite expression: what orders events that
/// several processes time (SQLite runs in the process, so this is the host's clock).
pub const SQLITE_NOW_MS: &str =
    "CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)";

/// The database's clock in Unix milliseconds, as a PostgreSQL expression (the server's clock
/// at the moment of evaluation, not the transaction's start): what orders events that several
/// Renkei processes time, whatever their own clocks say.
pub const POSTGRES_NOW_MS: &str =
    "CAST(ROUND(EXTRACT(EPOCH FROM clock_timestamp()) * 1000) AS BIGINT)";

#[cfg(test)]
mod tests {
    use super::{in_chunks, placeholders, value_rows};

    #[test]
    fn batches_split_into_few_shapes_and_keep_every_item_in_order() {
        let items: Vec<usize> = (0..83).collect();
        let chunks: Vec<&[usize]> = in_chunks(&items, &[64, 8, 1]).collect();
        let sizes: Vec<usize> = chunks.iter().map(|c| c.len()).collect();
        assert_eq!(sizes, [64, 8, 8, 1, 1, 1]);
        assert_eq!(chunks.concat(), items);
        assert_eq!(
            in_chunks(&items[..5], &[8])
                .map(<[usize]>::len)
                .collect::<Vec<_>>(),
            [5]
        );
        assert_eq!(in_chunks::<usize>(&[], &[8, 1]).count(), 0);
    }

    #[test]
    fn value_rows_number_parameters_row_by_row() {
        assert_eq!(value_rows(2, 3, true), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(value_rows(1, 2, true), "($1, $2)");
        assert_eq!(value_rows(2, 2, false), "(?, ?), (?, ?)");
        assert_eq!(placeholders(3), "$1, $2, $3");
    }
}
