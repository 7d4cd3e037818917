//! The generated phone table against the `phonenumber` crate's database it was made from.
//!
//! `table_matches_the_phonenumber_metadata` regenerates `phone_table_data.rs` in memory and fails
//! on any difference; `IMCREDITS_WRITE_PHONE_TABLE=1 cargo test -p imcredits --lib phone_table`
//! writes it (after a `phonenumber` upgrade). `placement_matches_the_phonenumber_database` places
//! thousands of numbers both ways: with the table and regex-lite, and as the code did before the
//! table, on the crate's database and its `regex` patterns.

use std::fmt::Write as _;

use phonenumber::metadata::{DATABASE, Database, Descriptor, Metadata};

use super::market::{Market, RecipientMarket, market_of};
use super::phone_table::tables::{CALLING_CODES, REGION_IDS, SHARED_REGIONS};

const DATA_FILE: &str = "src/pricing/phone_table_data.rs";
const NON_GEOGRAPHIC_REGION: &str = "001";

/// The types `fits_region` tries after the general pattern, in the table's order.
fn types(metadata: &Metadata) -> [Option<&Descriptor>; 10] {
    let descriptors = metadata.descriptors();
    [
        descriptors.premium_rate(),
        descriptors.toll_free(),
        descriptors.shared_cost(),
        descriptors.voip(),
        descriptors.personal_number(),
        descriptors.pager(),
        descriptors.uan(),
        descriptors.voicemail(),
        descriptors.fixed_line(),
        descriptors.mobile(),
    ]
}

fn pattern(lengths: &[u16], source: &str) -> String {
    format!("Pattern::new(&{lengths:?}, {source:?})")
}

fn descriptor(found: Option<&Descriptor>) -> String {
    match found {
        Some(d) => format!(
            "Some({})",
            pattern(d.possible_length(), d.national_number().as_str())
        ),
        None => "None".into(),
    }
}

fn codes(database: &Database) -> Vec<(u16, Vec<&str>)> {
    (1..=999u16)
        .filter_map(|code| database.region(&code).map(|regions| (code, regions)))
        .collect()
}

/// The text of `phone_table_data.rs` for a database.
fn render(database: &Database) -> String {
    let mut out = String::from(
        "// @generated from libphonenumber's metadata in the `phonenumber` crate by\n\
         // `IMCREDITS_WRITE_PHONE_TABLE=1 cargo test -p imcredits --lib phone_table`; do not edit.\n\
         use super::{CallingCode, Pattern, SharedRegion};\n\n",
    );
    let letters = || b'A'..=b'Z';
    let ids: Vec<String> = letters()
        .flat_map(|a| letters().map(move |b| String::from_utf8(vec![a, b]).unwrap()))
        .filter(|id| database.by_id(id.as_str()).is_some())
        .collect();
    writeln!(
        out,
        "pub(in crate::pricing) static REGION_IDS: [&str; {}] = {ids:?};\n",
        ids.len()
    )
    .unwrap();
    let codes = codes(database);
    writeln!(
        out,
        "pub(in crate::pricing) static CALLING_CODES: [CallingCode; {}] = [",
        codes.len()
    )
    .unwrap();
    for (code, regions) in &codes {
        writeln!(
            out,
            "    CallingCode {{ code: {code}, regions: &{regions:?} }},"
        )
        .unwrap();
    }
    out.push_str("];\n\n");
    let mut shared: Vec<&Metadata> = codes
        .iter()
        .filter(|(_, regions)| regions.len() > 1)
        .flat_map(|(_, regions)| regions.iter())
        .filter(|id| **id != NON_GEOGRAPHIC_REGION)
        .map(|id| database.by_id(*id).unwrap())
        .collect();
    shared.sort_by_key(|metadata| metadata.id());
    writeln!(
        out,
        "pub(in crate::pricing) static SHARED_REGIONS: [SharedRegion; {}] = [",
        shared.len()
    )
    .unwrap();
    for metadata in shared {
        let leading = metadata.leading_digits().map(|l| pattern(&[], l.as_str()));
        let general = metadata.descriptors().general();
        let types: Vec<String> = types(metadata).into_iter().map(descriptor).collect();
        writeln!(
            out,
            "    SharedRegion {{ id: {:?}, leading_digits: {}, general: {}, types: [{}] }},",
            metadata.id(),
            leading.map_or("None".into(), |l| format!("Some({l})")),
            pattern(
                general.possible_length(),
                general.national_number().as_str()
            ),
            types.join(", "),
        )
        .unwrap();
    }
    out.push_str("];\n");
    out
}

#[test]
fn table_matches_the_phonenumber_metadata() {
    let expected = render(&DATABASE);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(DATA_FILE);
    if std::env::var_os("IMCREDITS_WRITE_PHONE_TABLE").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let stored = std::fs::read_to_string(&path).unwrap();
    assert!(
        stored == expected,
        "{DATA_FILE} differs from the phonenumber crate's metadata; regenerate it with \
         IMCREDITS_WRITE_PHONE_TABLE=1 cargo test -p imcredits --lib phone_table"
    );
    // The loaded tables agree with the file's text: sorted for the binary searches, complete.
    assert!(REGION_IDS.is_sorted() && REGION_IDS.len() > 240);
    assert!(CALLING_CODES.is_sorted_by_key(|entry| entry.code));
    assert!(SHARED_REGIONS.is_sorted_by_key(|region| region.id));
    assert!(SHARED_REGIONS.iter().any(|region| region.id == "JM"));
}

#[test]
fn every_pattern_compiles() {
    for region in &SHARED_REGIONS {
        let patterns = region.leading_digits.iter().chain([&region.general]);
        for pattern in patterns.chain(region.types.iter().flatten()) {
            let (_, source) = pattern.parts();
            regex_lite::RegexBuilder::new(source)
                .ignore_whitespace(true)
                .build()
                .unwrap_or_else(|error| panic!("{} {source:?}: {error}", region.id));
        }
    }
}

/// Placement as it was before the table: on the crate's database and its compiled patterns.
fn place_on_database(digits: &str) -> RecipientMarket {
    let known =
        |id: &str| Market::parse(id).map_or(RecipientMarket::Unknown, RecipientMarket::from);
    if !(7..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return RecipientMarket::Unknown;
    }
    for code_len in 1..=3 {
        let code: u16 = digits[..code_len].parse().unwrap();
        let Some(regions) = DATABASE.region(&code) else {
            continue;
        };
        let national = &digits[code_len..];
        match regions.as_slice() {
            [] => return RecipientMarket::Unknown,
            [only] if *only == NON_GEOGRAPHIC_REGION => return RecipientMarket::Unknown,
            [only] => return known(only),
            _ => {}
        }
        for id in &regions {
            let metadata = DATABASE.by_id(*id).unwrap();
            let claimed = match metadata.leading_digits() {
                Some(leading) => leading.find(national).is_some_and(|m| m.start() == 0),
                None => {
                    metadata.descriptors().general().is_match(national)
                        && types(metadata)
                            .into_iter()
                            .flatten()
                            .any(|d| d.is_match(national))
                }
            };
            if claimed {
                return known(id);
            }
        }
        return if code == 1 {
            RecipientMarket::Unknown
        } else {
            known(regions[0])
        };
    }
    RecipientMarket::Unknown
}

/// Numbers to place: every region's example numbers, every +1 area code, and two-digit prefixes
/// of every other shared code at two lengths.
fn sample_numbers() -> Vec<String> {
    let mut numbers = Vec::new();
    for (code, regions) in codes(&DATABASE) {
        for id in regions.iter().filter(|id| **id != NON_GEOGRAPHIC_REGION) {
            let metadata = DATABASE.by_id(*id).unwrap();
            let general = metadata.descriptors().general();
            for found in types(metadata).into_iter().flatten().chain([general]) {
                numbers.extend(found.example().map(|example| format!("{code}{example}")));
            }
        }
        if code == 1 {
            for area in 200..1000 {
                for subscriber in ["2345678", "5550123", "0000000"] {
                    numbers.push(format!("1{area}{subscriber}"));
                }
            }
        } else if regions.len() > 1 {
            for prefix in 0..100 {
                for tail in ["345678", "34567890"] {
                    numbers.push(format!("{code}{prefix:02}{tail}"));
                }
            }
        }
    }
    numbers
}

#[test]
fn placement_matches_the_phonenumber_database() {
    let numbers = sample_numbers();
    assert!(numbers.len() > 5_000, "{}", numbers.len());
    let mut placed = 0;
    for digits in &numbers {
        let expected = place_on_database(digits);
        assert_eq!(market_of(digits), expected, "{digits}");
        placed += usize::from(expected != RecipientMarket::Unknown);
    }
    // The sample reaches real markets, not only refusals.
    assert!(placed > numbers.len() / 2, "{placed} of {}", numbers.len());
}
