//! Organisations' staff lists (`domain.md`: "Organisations registered lists of their staff"): a CSV file
//! whose header names the form's fields flattened, one person a row. Pure: the day passed in.
//!
//! Columns, in any order: `full_name, dob, sex, id_kind, id_number, occupation, province_code,
//! commune_code, admin_scheme, priority_group, preferred_site, phone, consent` (`yes`), one column per
//! item of [`MEDICAL_ITEMS`] (`yes` / `no` / `unknown`), and optionally `preferred_date,
//! health_insurance, ethnicity, nationality`. A file is taken whole or not at all: [`parse`] returns
//! every row valid, or a report naming every rejected row and its field — a document number twice in the
//! file is a rejected row too.

use std::collections::{BTreeMap, HashSet};

use time::Date;

use crate::policy::PolicyBook;
use crate::registration::{
    AddressForm, MEDICAL_ITEMS, RegistrationForm, ValidRegistration, normalise_phone, validate,
};

/// The largest file taken, bytes.
pub const MAX_BYTES: usize = 2 * 1024 * 1024;

/// The most data rows a file may have.
pub const MAX_ROWS: usize = 10_000;

/// Columns every file must have (besides one per medical-history item).
const REQUIRED: &[&str] = &[
    "full_name",
    "dob",
    "sex",
    "id_kind",
    "id_number",
    "occupation",
    "province_code",
    "commune_code",
    "admin_scheme",
    "priority_group",
    "preferred_site",
    "phone",
    "consent",
];

/// Columns a file may have.
const OPTIONAL: &[&str] = &[
    "preferred_date",
    "health_insurance",
    "ethnicity",
    "nationality",
];

/// One person of the list, valid.
#[derive(Clone, PartialEq, Eq)]
pub struct StaffRow {
    /// The 1-based data row (the header is row 0).
    pub row: usize,
    /// The person's phone, E.164.
    pub phone: String,
    /// The validated registration.
    pub registration: ValidRegistration,
}

impl std::fmt::Debug for StaffRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffRow")
            .field("row", &self.row)
            .finish_non_exhaustive()
    }
}

/// A refused row: where and why, never the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRow {
    /// The 1-based data row; 0 for the header.
    pub row: usize,
    /// The CSV column at fault (`province_code`, `severe_allergy`, …), or `row` for the row as a whole.
    pub field: String,
    /// What is wrong, in a fixed English text.
    pub message: &'static str,
}

/// Why a file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StaffCsvError {
    /// More than [`MAX_BYTES`].
    #[error("the file is larger than 2 MiB")]
    TooLarge,
    /// More than [`MAX_ROWS`] data rows.
    #[error("the file has more than 10000 rows")]
    TooManyRows,
    /// No data rows.
    #[error("the file has no rows")]
    Empty,
    /// Rows (or the header) were refused: nothing is taken.
    #[error("{} rows were refused", .0.len())]
    Rejected(Vec<RejectedRow>),
}

/// Reads and validates a staff list against the policy in force on `today`.
///
/// # Errors
/// [`StaffCsvError`]: the size limits, or every rejected row.
pub fn parse(
    bytes: &[u8],
    today: Date,
    policies: &PolicyBook,
) -> Result<Vec<StaffRow>, StaffCsvError> {
    if bytes.len() > MAX_BYTES {
        return Err(StaffCsvError::TooLarge);
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(bytes);
    let header_error = |message| {
        StaffCsvError::Rejected(vec![RejectedRow {
            row: 0,
            field: "header".to_owned(),
            message,
        }])
    };
    let headers = reader
        .headers()
        .map_err(|_| header_error("the header row is not CSV text"))?
        .clone();
    let mut columns: BTreeMap<&'static str, usize> = BTreeMap::new();
    for (index, name) in headers.iter().enumerate() {
        let name = name.trim();
        let known = REQUIRED
            .iter()
            .chain(OPTIONAL)
            .chain(MEDICAL_ITEMS)
            .find(|column| **column == name);
        let Some(known) = known else {
            return Err(header_error("the header names a column that is not known"));
        };
        if columns.insert(known, index).is_some() {
            return Err(header_error("the header names a column twice"));
        }
    }
    let mut rejected = Vec::new();
    for column in REQUIRED.iter().chain(MEDICAL_ITEMS) {
        if !columns.contains_key(column) {
            rejected.push(RejectedRow {
                row: 0,
                field: (*column).to_owned(),
                message: "the column is missing",
            });
        }
    }
    if !rejected.is_empty() {
        return Err(StaffCsvError::Rejected(rejected));
    }

    let mut rows = Vec::new();
    // Documents of earlier rows, valid or not, as typed (kind, number upper-cased).
    let mut seen: HashSet<(String, String)> = HashSet::new();
    for (i, record) in reader.records().enumerate() {
        let row = i.saturating_add(1);
        if row > MAX_ROWS {
            return Err(StaffCsvError::TooManyRows);
        }
        let Ok(record) = record else {
            rejected.push(RejectedRow {
                row,
                field: "row".to_owned(),
                message: "the row is not CSV text with one value per column",
            });
            continue;
        };
        let cell = |name: &str| -> String {
            columns
                .get(name)
                .and_then(|index| record.get(*index))
                .unwrap_or("")
                .to_owned()
        };
        let optional = |name: &str| Some(cell(name)).filter(|value| !value.trim().is_empty());
        let document = (
            cell("id_kind").trim().to_owned(),
            cell("id_number").trim().to_uppercase(),
        );
        let repeated = !seen.insert(document);
        let consent = cell("consent");
        let form = RegistrationForm {
            full_name: cell("full_name"),
            dob: cell("dob"),
            sex: cell("sex"),
            id_kind: cell("id_kind"),
            id_number: cell("id_number"),
            occupation: cell("occupation"),
            address: AddressForm {
                province_code: cell("province_code"),
                commune_code: cell("commune_code"),
                admin_scheme: cell("admin_scheme"),
            },
            priority_group: cell("priority_group"),
            preferred_site: cell("preferred_site"),
            preferred_date: optional("preferred_date"),
            health_insurance: optional("health_insurance"),
            ethnicity: optional("ethnicity"),
            nationality: optional("nationality"),
            medical_history: MEDICAL_ITEMS
                .iter()
                .map(|item| ((*item).to_owned(), cell(item)))
                .collect(),
            consent: matches!(consent.trim(), "yes" | "true"),
        };
        let registration = match validate(&form, today, policies) {
            Ok(registration) => registration,
            Err(error) => {
                rejected.push(RejectedRow {
                    row,
                    field: column_of(&error.field).to_owned(),
                    message: error.message,
                });
                continue;
            }
        };
        let phone = match normalise_phone(&cell("phone")) {
            Ok(phone) => phone,
            Err(error) => {
                rejected.push(RejectedRow {
                    row,
                    field: error.field,
                    message: error.message,
                });
                continue;
            }
        };
        if repeated {
            rejected.push(RejectedRow {
                row,
                field: "id_number".to_owned(),
                message: "the same identity document is on an earlier row",
            });
            continue;
        }
        rows.push(StaffRow {
            row,
            phone,
            registration,
        });
    }
    if !rejected.is_empty() {
        return Err(StaffCsvError::Rejected(rejected));
    }
    if rows.is_empty() {
        return Err(StaffCsvError::Empty);
    }
    Ok(rows)
}

/// The CSV column of a form field's JSON path: `address.province_code` → `province_code`,
/// `medical_history.pregnant` → `pregnant`.
fn column_of(field: &str) -> &str {
    field
        .strip_prefix("address.")
        .or_else(|| field.strip_prefix("medical_history."))
        .unwrap_or(field)
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

    use super::{MAX_BYTES, RejectedRow, StaffCsvError, parse};
    use crate::policy::PolicyBook;
    use crate::registration::MEDICAL_ITEMS;
    use time::macros::date;

    const TODAY: time::Date = date!(2021 - 08 - 01);

    /// A header and `rows` good rows (distinct citizen IDs).
    pub(crate) fn good_file(rows: usize) -> String {
        let mut text = String::from(
            "full_name,dob,sex,id_kind,id_number,occupation,province_code,commune_code,admin_scheme,\
             priority_group,preferred_site,phone,consent",
        );
        for item in MEDICAL_ITEMS {
            text.push(',');
            text.push_str(item);
        }
        text.push('\n');
        for i in 0..rows {
            text.push_str(&format!(
                "Trần Văn Bình,1985-03-0{},male,citizen_id,0010850{i:05},Công nhân,01,00004,2021,\
                 enterprise-workers,HN-0001,09123456{:02},yes",
                i % 9 + 1,
                i % 100
            ));
            for _ in MEDICAL_ITEMS {
                text.push_str(",no");
            }
            text.push('\n');
        }
        text
    }

    fn rejected(text: &str) -> Vec<RejectedRow> {
        match parse(text.as_bytes(), TODAY, &PolicyBook::builtin().unwrap()) {
            Err(StaffCsvError::Rejected(rows)) => rows,
            other => panic!("expected rejected rows, got {other:?}"),
        }
    }

    #[test]
    fn a_good_file_gives_every_row() {
        let rows = parse(
            good_file(3).as_bytes(),
            TODAY,
            &PolicyBook::builtin().unwrap(),
        )
        .unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[2].row, 3);
        assert_eq!(rows[2].phone, "+84912345602");
        assert_eq!(rows[2].registration.id_number, "001085000002");
        assert_eq!(rows[0].registration.full_name, "Trần Văn Bình");
    }

    #[test]
    fn every_broken_row_is_reported_with_its_column() {
        let text = good_file(5)
            .replace("001085000001,Công nhân,01", "001085000001,Công nhân,1")
            .replace("0912345603", "0212345603")
            .replace("001085000004", "001085000000")
            .replace(
                ",00004,2021,enterprise-workers,HN-0001,0912345602,yes,no",
                ",00004,2021,enterprise-workers,HN-0001,0912345602,yes,maybe",
            );
        let rows = rejected(&text);
        let got: Vec<(usize, &str)> = rows.iter().map(|r| (r.row, r.field.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (2, "province_code"),
                (3, "severe_allergy"),
                (4, "phone"),
                (5, "id_number")
            ]
        );
        assert!(rows.iter().all(|r| !r.message.contains("0010")));
    }

    #[test]
    fn headers_are_checked() {
        let missing = good_file(1).replacen("occupation,", "", 1);
        let rows = rejected(&missing);
        assert!(rows.iter().any(|r| r.row == 0 && r.field == "occupation"));
        let unknown = good_file(1).replacen("consent", "consent,salary", 1);
        assert_eq!(rejected(&unknown)[0].field, "header");
        let twice = good_file(1).replacen("sex,", "sex,sex,", 1);
        assert_eq!(rejected(&twice)[0].field, "header");
        let short_row = format!("{}Trần,1985\n", good_file(1));
        let rows = rejected(&short_row);
        assert_eq!((rows[0].row, rows[0].field.as_str()), (2, "row"));
    }

    proptest::proptest! {
        /// Any bytes: an error or rows, never a panic; rows are numbered from 1 in order.
        #[test]
        fn any_bytes_parse_or_are_refused(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let books = PolicyBook::builtin().unwrap();
            if let Ok(rows) = parse(&bytes, TODAY, &books) {
                for (i, row) in rows.iter().enumerate() {
                    proptest::prop_assert_eq!(row.row, i + 1);
                }
            }
        }

        /// A good file with one cell of it replaced by arbitrary text still parses or is refused.
        #[test]
        fn a_mangled_cell_is_refused_or_taken(cell in 0usize..21, text in "\\PC{0,12}") {
            let file = good_file(2);
            let mut lines: Vec<String> = file.lines().map(str::to_owned).collect();
            let mut cells: Vec<String> = lines[1].split(',').map(str::to_owned).collect();
            cells[cell] = text.replace([',', '"', '\n', '\r'], "");
            lines[1] = cells.join(",");
            let books = PolicyBook::builtin().unwrap();
            match parse(lines.join("\n").as_bytes(), TODAY, &books) {
                Ok(rows) => proptest::prop_assert_eq!(rows.len(), 2),
                Err(StaffCsvError::Rejected(rows)) => {
                    proptest::prop_assert_eq!(rows.len(), 1);
                    proptest::prop_assert_eq!(rows[0].row, 1);
                }
                Err(other) => proptest::prop_assert!(false, "{other:?}"),
            }
        }
    }

    #[test]
    fn consent_and_limits() {
        let text = good_file(2).replace(",0912345601,yes", ",0912345601,no");
        assert_eq!(rejected(&text)[0].field, "consent");
        let books = PolicyBook::builtin().unwrap();
        assert_eq!(
            parse(&vec![b'a'; MAX_BYTES + 1], TODAY, &books),
            Err(StaffCsvError::TooLarge)
        );
        assert_eq!(
            parse(good_file(0).as_bytes(), TODAY, &books),
            Err(StaffCsvError::Empty)
        );
    }
}
