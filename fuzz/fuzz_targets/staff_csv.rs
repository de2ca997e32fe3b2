//! Organisations' staff lists (`intake::staff_csv::parse`), uploaded by anyone holding an organisation
//! token. Never panics; a file is taken whole or refused with every rejected row named: the rows taken
//! are numbered from 1 in order, one at most per line of the file and never over `MAX_ROWS`, and every
//! rejected row names a row of the file, a column and a reason.
#![no_main]

use std::sync::LazyLock;

use intake::policy::PolicyBook;
use intake::staff_csv::{MAX_BYTES, MAX_ROWS, StaffCsvError, parse};
use libfuzzer_sys::fuzz_target;
use time::{Date, Month};

/// A day the built-in priority policy is in force.
static TODAY: LazyLock<Date> = LazyLock::new(|| {
    Date::from_calendar_date(2021, Month::August, 1).expect("2021-08-01 is a date")
});

static POLICIES: LazyLock<PolicyBook> =
    LazyLock::new(|| PolicyBook::builtin().expect("the built-in policies load"));

fuzz_target!(|data: &[u8]| {
    // A record ends at `\n`, `\r` or `\r\n`: data row n needs n line ends (the header's and its own
    // but for the last).
    let line_ends = data.iter().filter(|b| matches!(b, b'\n' | b'\r')).count();
    let most_rows = line_ends.min(MAX_ROWS);
    match parse(data, *TODAY, &POLICIES) {
        Ok(rows) => {
            assert!(!rows.is_empty());
            assert!(rows.len() <= most_rows, "{} rows", rows.len());
            let mut previous = 0;
            for row in &rows {
                assert!(
                    row.row > previous && row.row <= most_rows,
                    "row {}",
                    row.row
                );
                assert!(row.phone.starts_with('+'));
                previous = row.row;
            }
        }
        Err(StaffCsvError::Rejected(rejected)) => {
            assert!(!rejected.is_empty());
            for row in &rejected {
                assert!(row.row <= most_rows, "rejected row {}", row.row);
                assert!(!row.field.is_empty() && !row.message.is_empty());
            }
        }
        Err(StaffCsvError::TooLarge) => assert!(data.len() > MAX_BYTES),
        Err(StaffCsvError::TooManyRows) => assert!(line_ends >= MAX_ROWS),
        Err(_) => {}
    }
});
