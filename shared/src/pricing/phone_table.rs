//! The part of libphonenumber's metadata that placing a recipient needs, as static data.
//!
//! Loading the `phonenumber` crate's database decodes every region and syntax-checks each of its
//! thousands of patterns: 100 to 190 ms measured in a release build, which was most of billing's
//! cold start. Placing a number needs far less: which regions share a calling code, and for the
//! regions of shared codes their leading-digit and number patterns. `phone_table_data.rs` holds
//! exactly that, generated from the crate's database by a test that also fails whenever the two
//! differ (`phone_table_tests.rs`), so a `phonenumber` upgrade cannot leave it stale. Nothing is
//! decoded at start-up; each pattern is compiled on its first use (regex-lite: small, quick to
//! compile, and a lookup in these short patterns costs microseconds).

use std::sync::OnceLock;

#[path = "phone_table_data.rs"]
#[rustfmt::skip]
mod data;

/// A calling code and its regions, the code's main region first (as libphonenumber lists them).
pub(super) struct CallingCode {
    pub code: u16,
    pub regions: &'static [&'static str],
}

/// A region of a calling code shared with other regions: the patterns that decide whether a
/// national number belongs to it.
pub(super) struct SharedRegion {
    pub id: &'static str,
    pub leading_digits: Option<Pattern>,
    pub general: Pattern,
    /// Premium rate, toll free, shared cost, VoIP, personal, pager, UAN, voicemail, fixed line,
    /// mobile: the number types libphonenumber counts as "not UNKNOWN".
    pub types: [Option<Pattern>; 10],
}

/// One metadata pattern, compiled on first use and kept for the life of the process.
pub(super) struct Pattern {
    /// Lengths a matching number may have; empty when the metadata gives none.
    possible_lengths: &'static [u16],
    source: &'static str,
    compiled: OnceLock<regex_lite::Regex>,
}

impl Pattern {
    pub(super) const fn new(possible_lengths: &'static [u16], source: &'static str) -> Pattern {
        Pattern {
            possible_lengths,
            source,
            compiled: OnceLock::new(),
        }
    }

    #[cfg(test)]
    pub(super) fn parts(&self) -> (&'static [u16], &'static str) {
        (self.possible_lengths, self.source)
    }

    fn regex(&self) -> &regex_lite::Regex {
        self.compiled.get_or_init(|| {
            // libphonenumber's patterns are written with insignificant whitespace, as the
            // `phonenumber` crate compiles them. Every pattern is compiled by a test.
            regex_lite::RegexBuilder::new(self.source)
                .ignore_whitespace(true)
                .build()
                .expect("every metadata pattern compiles (phone_table_tests)")
        })
    }

    /// Whether a match of the pattern starts the text (libphonenumber's leading-digits check).
    pub(super) fn starts(&self, text: &str) -> bool {
        self.regex()
            .find(text)
            .is_some_and(|found| found.start() == 0)
    }

    /// The `phonenumber` crate's `Descriptor::is_match`: a possible length (when the metadata
    /// lists any) and a match that starts the number.
    pub(super) fn describes(&self, national: &str) -> bool {
        let length_fits = self.possible_lengths.is_empty()
            || u16::try_from(national.len()).is_ok_and(|len| self.possible_lengths.contains(&len));
        length_fits && self.starts(national)
    }
}

/// The regions of a calling code, main region first; `None` for a code no region has.
pub(super) fn regions_of(code: u16) -> Option<&'static [&'static str]> {
    data::CALLING_CODES
        .binary_search_by_key(&code, |entry| entry.code)
        .ok()
        .map(|index| data::CALLING_CODES[index].regions)
}

/// The patterns of a region whose calling code is shared; `None` for any other id.
pub(super) fn shared_region(id: &str) -> Option<&'static SharedRegion> {
    data::SHARED_REGIONS
        .binary_search_by_key(&id, |region| region.id)
        .ok()
        .map(|index| &data::SHARED_REGIONS[index])
}

/// Whether a two-letter region id is one phone numbers belong to.
pub(super) fn is_region(id: &str) -> bool {
    data::REGION_IDS.binary_search(&id).is_ok()
}

/// Compiles every pattern of a calling code's regions now, so that no later lookup pays for it.
pub(super) fn compile_code(code: u16) {
    for id in regions_of(code).unwrap_or_default() {
        let Some(region) = shared_region(id) else {
            continue;
        };
        let patterns = region.leading_digits.iter().chain([&region.general]);
        for pattern in patterns.chain(region.types.iter().flatten()) {
            pattern.regex();
        }
    }
}

#[cfg(test)]
pub(super) mod tables {
    //! The generated tables, for the tests that compare them with the `phonenumber` crate.
    pub(in crate::pricing) use super::data::{CALLING_CODES, REGION_IDS, SHARED_REGIONS};
}
