//! Meta's pricing categories, as `pricing.category` names them in status webhooks and as rate cards
//! key their rates.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest category name accepted, in bytes. Meta's longest today is
/// `authentication_international` (28); a name far beyond that is not a category.
pub const CATEGORY_NAME_LEN_MAX: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CategoryError {
    #[error("category name is empty")]
    Empty,
    #[error("category name is longer than {CATEGORY_NAME_LEN_MAX} bytes")]
    TooLong,
    #[error("category name may hold only a-z, 0-9, '_' and '-'")]
    BadCharacter,
}

/// A pricing category.
///
/// Names compare with `-` and `_` as the same character, because Meta spells one category both ways
/// (`authentication-international` in webhooks, `authentication_international` elsewhere); the
/// canonical form, which [`Category::as_str`] and serialisation write, uses `_`.
///
/// A name imcredits does not know yet is kept as [`Category::Unknown`] rather than refused: Meta
/// adds categories without notice and a delivered message must still be priced (by the card's
/// default) and flagged ([`Category::is_unknown`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    Marketing,
    /// Marketing messages sent through the Marketing Messages Lite API (`marketing_lite`).
    MarketingLite,
    Utility,
    Authentication,
    /// Authentication to a market with an authentication-international rate, by an eligible business
    /// based elsewhere.
    AuthenticationInternational,
    Service,
    /// A message inside a free entry point window (click-to-WhatsApp ads, Page buttons).
    ReferralConversion,
    Unknown(UnknownCategory),
}

/// The name of a category imcredits does not know: 1..=[`CATEGORY_NAME_LEN_MAX`] bytes of `a-z`,
/// `0-9` and `_`, never one of the known names. Bounded and charset-checked because it ends up in
/// metrics labels and stored usage.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnknownCategory(String);

impl UnknownCategory {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn allowed(byte: u8) -> bool {
    byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_' || byte == b'-'
}

impl Category {
    /// Every category imcredits knows, in canonical order.
    pub const KNOWN: [Category; 7] = [
        Category::Marketing,
        Category::MarketingLite,
        Category::Utility,
        Category::Authentication,
        Category::AuthenticationInternational,
        Category::Service,
        Category::ReferralConversion,
    ];

    /// Strict parse, for rate cards and stored data: a name of at most [`CATEGORY_NAME_LEN_MAX`]
    /// bytes of `a-z`, `0-9`, `_` and `-`. Unknown names are accepted as [`Category::Unknown`].
    pub fn parse(name: &str) -> Result<Category, CategoryError> {
        if name.is_empty() {
            return Err(CategoryError::Empty);
        }
        if name.len() > CATEGORY_NAME_LEN_MAX {
            return Err(CategoryError::TooLong);
        }
        if !name.bytes().all(allowed) {
            return Err(CategoryError::BadCharacter);
        }
        let canonical = name.replace('-', "_");
        Ok(Category::KNOWN
            .into_iter()
            .find(|known| known.as_str() == canonical)
            .unwrap_or(Category::Unknown(UnknownCategory(canonical))))
    }

    /// Lenient parse, for what Meta sends: never fails, so that a delivered message is always
    /// priced. ASCII is lower-cased; characters outside the alphabet are dropped and the name is cut
    /// to [`CATEGORY_NAME_LEN_MAX`] bytes (lossy, but such a name is only a metrics label); nothing
    /// left gives `unnamed`.
    pub fn from_meta(name: &str) -> Category {
        let cleaned: String = name
            .bytes()
            .map(|byte| byte.to_ascii_lowercase())
            .filter(|byte| allowed(*byte))
            .take(CATEGORY_NAME_LEN_MAX)
            .map(char::from)
            .collect();
        if cleaned.is_empty() {
            return Category::Unknown(UnknownCategory("unnamed".to_owned()));
        }
        match Category::parse(&cleaned) {
            Ok(category) => category,
            // Unreachable: `cleaned` is non-empty, short and in the alphabet; stay total anyway.
            Err(_) => Category::Unknown(UnknownCategory("unnamed".to_owned())),
        }
    }

    /// True for a category imcredits does not know: billing prices it by the card's default and
    /// counts it in metrics so that someone adds it.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Category::Unknown(_))
    }

    /// The canonical name (`_`, never `-`).
    pub fn as_str(&self) -> &str {
        match self {
            Category::Marketing => "marketing",
            Category::MarketingLite => "marketing_lite",
            Category::Utility => "utility",
            Category::Authentication => "authentication",
            Category::AuthenticationInternational => "authentication_international",
            Category::Service => "service",
            Category::ReferralConversion => "referral_conversion",
            Category::Unknown(name) => name.as_str(),
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Category {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Category {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Category::parse(&name).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_parse_to_their_category_and_back() {
        for category in Category::KNOWN {
            assert_eq!(Category::parse(category.as_str()), Ok(category.clone()));
            assert!(!category.is_unknown(), "{category}");
        }
    }

    #[test]
    fn both_spellings_of_authentication_international_are_one_category() {
        let table = [
            (
                "authentication-international",
                "authentication_international",
            ),
            (
                "authentication_international",
                "authentication_international",
            ),
            ("marketing-lite", "marketing_lite"),
            ("referral_conversion", "referral_conversion"),
        ];
        for (name, canonical) in table {
            let parsed = Category::parse(name).unwrap();
            assert_eq!(parsed.as_str(), canonical, "{name}");
            assert!(!parsed.is_unknown(), "{name}");
            assert_eq!(Category::from_meta(name), parsed, "{name}");
        }
        assert_eq!(
            Category::parse("authentication-international"),
            Ok(Category::AuthenticationInternational)
        );
    }

    #[test]
    fn unknown_names_are_kept_and_flagged() {
        let future = Category::parse("marketing_plus").unwrap();
        assert!(future.is_unknown());
        assert_eq!(future.as_str(), "marketing_plus");
        assert_eq!(Category::parse("new-thing").unwrap().as_str(), "new_thing");
    }

    #[test]
    fn strict_parse_refuses_what_cannot_be_a_name() {
        let table = [
            ("", CategoryError::Empty),
            ("Marketing", CategoryError::BadCharacter),
            ("mark eting", CategoryError::BadCharacter),
            ("marketing\n", CategoryError::BadCharacter),
            ("café", CategoryError::BadCharacter),
            (
                &"a".repeat(CATEGORY_NAME_LEN_MAX + 1),
                CategoryError::TooLong,
            ),
        ];
        for (name, error) in table {
            assert_eq!(Category::parse(name), Err(error), "{name:?}");
        }
        assert!(Category::parse(&"a".repeat(CATEGORY_NAME_LEN_MAX)).is_ok());
    }

    #[test]
    fn meta_names_never_fail_and_stay_bounded() {
        let table = [
            ("MARKETING", "marketing", false),
            (
                "Authentication-International",
                "authentication_international",
                false,
            ),
            ("", "unnamed", true),
            ("€€€", "unnamed", true),
            ("new category!", "newcategory", true),
        ];
        for (name, canonical, unknown) in table {
            let category = Category::from_meta(name);
            assert_eq!(category.as_str(), canonical, "{name:?}");
            assert_eq!(category.is_unknown(), unknown, "{name:?}");
        }
        let long = Category::from_meta(&"x".repeat(10_000));
        assert_eq!(long.as_str().len(), CATEGORY_NAME_LEN_MAX);
    }

    #[test]
    fn json_form_is_the_canonical_name() {
        let json = serde_json::to_string(&Category::AuthenticationInternational).unwrap();
        assert_eq!(json, r#""authentication_international""#);
        let back: Category = serde_json::from_str(r#""authentication-international""#).unwrap();
        assert_eq!(back, Category::AuthenticationInternational);
        assert!(serde_json::from_str::<Category>(r#""Bad Name""#).is_err());
    }
}
