//! Tolerant serde building blocks for Meta's webhook body.
//!
//! Meta adds fields and values often, and one odd item must not cost the other 999 in its body. So
//! every field of the raw body is a [`Loose`]: it deserialises from *any* JSON value, keeping what
//! was expected, noting that it was absent, or noting that it had another type. Deciding what an
//! absent or mistyped field means is the normaliser's job, item by item. Only broken JSON (or a
//! repeated key, which makes an object ambiguous) fails the body.
//!
//! Arrays the parser keeps ([`Items`]) draw on a per-body budget, checked while parsing, so a
//! hostile or broken body (a million `{}` in `statuses`, say) is refused before it costs memory.
//! serde's derive has no way to pass state down to nested fields, hence a thread-local budget, set
//! only for the duration of [`with_budget`].

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A field as found in the body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum Loose<T> {
    /// Not there, or `null`.
    #[default]
    Absent,
    Got(T),
    /// There, with a JSON type other than the one expected.
    Wrong,
}

impl<T> Loose<T> {
    pub(crate) fn is_present(&self) -> bool {
        !matches!(self, Loose::Absent)
    }
}

/// What a [`Loose`] field expects. Every method answers `None` (mistyped) unless overridden.
pub(crate) trait Expect<'de>: Sized {
    fn from_str(_text: &str) -> Option<Self> {
        None
    }
    fn from_bool(_value: bool) -> Option<Self> {
        None
    }
    fn from_i64(_value: i64) -> Option<Self> {
        None
    }
    fn from_u64(_value: u64) -> Option<Self> {
        None
    }
    fn from_map<A: MapAccess<'de>>(mut map: A) -> Result<Option<Self>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn from_seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Option<Self>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

impl<'de, T: Expect<'de>> Deserialize<'de> for Loose<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LooseVisitor(PhantomData))
    }
}

struct LooseVisitor<T>(PhantomData<T>);

fn found<T>(value: Option<T>) -> Loose<T> {
    value.map_or(Loose::Wrong, Loose::Got)
}

impl<'de, T: Expect<'de>> Visitor<'de> for LooseVisitor<T> {
    type Value = Loose<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Loose::Absent)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Loose::Absent)
    }
    fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<Self::Value, D::Error> {
        Loose::deserialize(inner)
    }
    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
        Ok(found(T::from_bool(value)))
    }
    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        Ok(found(T::from_i64(value)))
    }
    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        Ok(found(T::from_u64(value)))
    }
    fn visit_f64<E: de::Error>(self, _value: f64) -> Result<Self::Value, E> {
        Ok(Loose::Wrong)
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(found(T::from_str(text)))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::from_map(map).map(found)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        T::from_seq(seq).map(found)
    }
}

impl Expect<'_> for String {
    fn from_str(text: &str) -> Option<Self> {
        Some(text.to_owned())
    }
}

impl Expect<'_> for bool {
    fn from_bool(value: bool) -> Option<Self> {
        Some(value)
    }
}

impl Expect<'_> for i64 {
    fn from_i64(value: i64) -> Option<Self> {
        Some(value)
    }
    fn from_u64(value: u64) -> Option<Self> {
        i64::try_from(value).ok()
    }
}

/// Unix seconds, as Meta writes them: a string of digits (`"1750030073"`), or sometimes a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UnixSeconds(pub(crate) i64);

impl Expect<'_> for UnixSeconds {
    fn from_str(text: &str) -> Option<Self> {
        // Twelve digits reach year 33658; more cannot be a timestamp and could overflow.
        if text.is_empty() || text.len() > 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse().ok().map(UnixSeconds)
    }
    fn from_i64(value: i64) -> Option<Self> {
        (value >= 0).then_some(UnixSeconds(value))
    }
    fn from_u64(value: u64) -> Option<Self> {
        i64::try_from(value).ok().map(UnixSeconds)
    }
}

/// Implements [`Expect`] for a struct derived with `Deserialize` whose fields are all `Loose`, so it
/// never fails on content, only on a repeated key.
macro_rules! loose_object {
    ($($name:ident),+ $(,)?) => {$(
        impl<'de> $crate::meta::loose::Expect<'de> for $name {
            fn from_map<A: serde::de::MapAccess<'de>>(map: A) -> Result<Option<Self>, A::Error> {
                <$name as serde::Deserialize>::deserialize(
                    serde::de::value::MapAccessDeserializer::new(map),
                )
                .map(Some)
            }
        }
    )+};
}
pub(crate) use loose_object;

/// An array whose length is only counted (its items are not needed): costs no memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Count(pub(crate) u32);

impl<'de> Expect<'de> for Count {
    fn from_seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Option<Self>, A::Error> {
        let mut count = 0u32;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            count = count.saturating_add(1);
        }
        Ok(Some(Count(count)))
    }
}

/// Whether the items of an [`Items`] array are events (statuses, messages), which have a budget of
/// their own on top of the budget of all kept items.
pub(crate) trait Element {
    const IS_EVENT: bool = false;
}

/// An array whose items are kept; each item is `Loose`, so one that is not the expected kind of
/// value (say, a string in `statuses`) is kept as [`Loose::Wrong`] and the rest still parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Items<T>(pub(crate) Vec<Loose<T>>);

impl<T> Default for Items<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<'de, T: Expect<'de> + Element> Expect<'de> for Items<T> {
    fn from_seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Option<Self>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Loose<T>>()? {
            spend_budget::<A::Error>(T::IS_EVENT)?;
            items.push(item);
        }
        Ok(Some(Items(items)))
    }
}

/// Which per-body limit a body went over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Overspent {
    Events,
    Items,
}

#[derive(Debug, Clone, Copy)]
struct Budget {
    events_left: u32,
    items_left: u32,
    overspent: Option<Overspent>,
}

thread_local! {
    /// `None` outside [`with_budget`]: then every kept item is refused, so the raw types cannot be
    /// deserialised without limits by mistake.
    static BUDGET: Cell<Option<Budget>> = const { Cell::new(None) };
}

fn spend_budget<E: de::Error>(is_event: bool) -> Result<(), E> {
    BUDGET.with(|cell| {
        let Some(mut budget) = cell.get() else {
            return Err(E::custom("kept items parsed outside a budget"));
        };
        let refused = if budget.items_left == 0 {
            Some(Overspent::Items)
        } else if is_event && budget.events_left == 0 {
            Some(Overspent::Events)
        } else {
            None
        };
        if let Some(which) = refused {
            budget.overspent = Some(which);
            cell.set(Some(budget));
            return Err(E::custom("per-body limit exceeded"));
        }
        budget.items_left -= 1;
        if is_event {
            budget.events_left -= 1;
        }
        cell.set(Some(budget));
        Ok(())
    })
}

/// Runs `parse` with a budget of `events_max` events and `items_max` kept array items in all, and
/// reports which budget ran out, if one did.
pub(crate) fn with_budget<R>(
    events_max: u32,
    items_max: u32,
    parse: impl FnOnce() -> R,
) -> (R, Option<Overspent>) {
    /// Clears the budget even if `parse` unwinds.
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            BUDGET.with(|cell| cell.set(None));
        }
    }
    BUDGET.with(|cell| {
        cell.set(Some(Budget {
            events_left: events_max,
            items_left: items_max,
            overspent: None,
        }))
    });
    let reset = Reset;
    let result = parse();
    let overspent = BUDGET.with(|cell| cell.get().and_then(|budget| budget.overspent));
    drop(reset);
    (result, overspent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, PartialEq, serde::Deserialize)]
    #[serde(default)]
    struct Thing {
        name: Loose<String>,
        flag: Loose<bool>,
        at: Loose<UnixSeconds>,
    }
    loose_object!(Thing);
    impl Element for Thing {
        const IS_EVENT: bool = true;
    }

    fn parse<T: for<'de> Deserialize<'de>>(json: &str) -> T {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn fields_never_fail_on_their_type() {
        let thing: Loose<Thing> = parse(r#"{"name":7,"flag":"yes","at":"17","x":[1,{"y":2}]}"#);
        let Loose::Got(thing) = thing else {
            panic!("object not read")
        };
        assert_eq!(thing.name, Loose::Wrong);
        assert_eq!(thing.flag, Loose::Wrong);
        assert_eq!(thing.at, Loose::Got(UnixSeconds(17)));

        let thing: Loose<Thing> = parse(r#"{"name":"n","flag":true,"at":17,"y":null}"#);
        let Loose::Got(thing) = thing else {
            panic!("object not read")
        };
        assert_eq!(thing.name, Loose::Got("n".to_owned()));
        assert_eq!(thing.flag, Loose::Got(true));
        assert_eq!(thing.at, Loose::Got(UnixSeconds(17)));

        let thing: Loose<Thing> = parse(r#"{"name":null}"#);
        assert!(matches!(
            thing,
            Loose::Got(Thing {
                name: Loose::Absent,
                ..
            })
        ));
        assert!(matches!(parse::<Loose<Thing>>("[1,2]"), Loose::Wrong));
        assert!(matches!(parse::<Loose<Thing>>("null"), Loose::Absent));
        for bad in [
            r#""""#,
            r#""-1""#,
            r#""1.5""#,
            r#""1e3""#,
            "-1",
            "1.5",
            r#""9999999999999""#,
        ] {
            assert_eq!(parse::<Loose<UnixSeconds>>(bad), Loose::Wrong, "{bad}");
        }
    }

    #[test]
    fn a_repeated_key_fails_the_object() {
        assert!(serde_json::from_str::<Loose<Thing>>(r#"{"name":"a","name":"b"}"#).is_err());
    }

    #[test]
    fn kept_items_draw_on_the_budget_and_stop_when_it_runs_out() {
        let three = r#"[{"name":"a"},"not an object",{}]"#;
        let (parsed, overspent) =
            with_budget(3, 3, || serde_json::from_str::<Loose<Items<Thing>>>(three));
        assert_eq!(overspent, None);
        let Ok(Loose::Got(Items(items))) = parsed else {
            panic!("{parsed:?}")
        };
        assert_eq!(items.len(), 3);
        assert_eq!(items[1], Loose::Wrong);

        let (parsed, overspent) =
            with_budget(2, 10, || serde_json::from_str::<Loose<Items<Thing>>>(three));
        assert!(parsed.is_err());
        assert_eq!(overspent, Some(Overspent::Events));
        let (parsed, overspent) =
            with_budget(10, 2, || serde_json::from_str::<Loose<Items<Thing>>>(three));
        assert!(parsed.is_err());
        assert_eq!(overspent, Some(Overspent::Items));

        // Outside a budget nothing is kept.
        assert!(serde_json::from_str::<Loose<Items<Thing>>>(three).is_err());
        assert!(serde_json::from_str::<Loose<Items<Thing>>>("[]").is_ok());
    }

    #[test]
    fn counted_arrays_keep_nothing() {
        assert_eq!(
            parse::<Loose<Count>>("[1,{},[],null]"),
            Loose::Got(Count(4))
        );
        assert_eq!(parse::<Loose<Count>>("{}"), Loose::Wrong);
    }
}
