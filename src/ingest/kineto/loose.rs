//! Event fields read whatever JSON type they hold: a Kineto trace is never refused
//! because one field of one event has an unexpected type.
//!
//! PyTorch on ROCm writes numbers of runtime events as strings
//! (`"args": {"bytes": "256", "kind": "2"}` on `hipMemcpyWithStream`); other writers
//! put arrays, objects or `true` where a number is expected. A [`Loose`] field
//! accepts any JSON value and says what it found:
//! - the expected type → [`Loose::Value`];
//! - a string holding a value of the expected type (`"256"`, `"1.5"`) → the value,
//!   marked [`Loose::FromText`] so the importer can count it;
//! - anything else (`true`, `[1]`, `{}`, `"abc"`, a float where an integer is
//!   expected, an integer beyond i64) → [`Loose::Wrong`]: the field is skipped and
//!   counted, the event kept;
//! - absent or `null` → [`Loose::Absent`].
//!
//! Invariant: deserializing a `Loose` never fails on a well-formed JSON value, so
//! one odd field can never abort the streaming parse of the whole file.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// One event field, whatever JSON type it held.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Loose<T> {
    #[default]
    Absent,
    Value(T),
    /// The value, written as a string.
    FromText(T),
    /// A value of a type that cannot be read as `T` (skipped).
    Wrong,
}

impl<T> Loose<T> {
    /// The value, however it was written.
    pub fn get(self) -> Option<T> {
        match self {
            Loose::Value(v) | Loose::FromText(v) => Some(v),
            Loose::Absent | Loose::Wrong => None,
        }
    }

    /// The value by reference, however it was written.
    pub fn as_ref(&self) -> Option<&T> {
        match self {
            Loose::Value(v) | Loose::FromText(v) => Some(v),
            Loose::Absent | Loose::Wrong => None,
        }
    }

    /// What the field was, when not plainly the expected type: `Some(true)` for a
    /// wrong type, `Some(false)` for a value read from text.
    pub fn oddity(&self) -> Option<bool> {
        match self {
            Loose::Wrong => Some(true),
            Loose::FromText(_) => Some(false),
            Loose::Value(_) | Loose::Absent => None,
        }
    }
}

/// How a JSON scalar or array becomes a `T`; `None` means the wrong type.
pub trait LooseValue: Sized {
    /// What the type is, for the visitor's `expecting`.
    const EXPECTED: &'static str;
    /// True when a JSON string is this type itself (not a number written as text).
    const TEXT: bool = false;
    fn from_int(_: i128) -> Option<Self> {
        None
    }
    fn from_float(_: f64) -> Option<Self> {
        None
    }
    fn from_text(_: &str) -> Option<Self> {
        None
    }
    /// Reads an array's elements; the default drains it and says "wrong type".
    fn from_items<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<Option<Self>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

impl LooseValue for i64 {
    const EXPECTED: &'static str = "an integer";
    fn from_int(v: i128) -> Option<Self> {
        i64::try_from(v).ok()
    }
    fn from_float(v: f64) -> Option<Self> {
        // An integral float within ±2^53 is the integer it names (exactly).
        (v.fract() == 0.0 && v.abs() <= 9_007_199_254_740_992.0).then_some(v as i64)
    }
    /// Decimal, or hexadecimal with `0x` (ROCm writes `"stream": "0x0"`).
    fn from_text(v: &str) -> Option<Self> {
        let v = v.trim();
        match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
            Some(hex) => i64::from_str_radix(hex, 16).ok(),
            None => v.parse().ok(),
        }
    }
}

impl LooseValue for f64 {
    const EXPECTED: &'static str = "a number";
    fn from_int(v: i128) -> Option<Self> {
        Some(v as f64)
    }
    fn from_float(v: f64) -> Option<Self> {
        Some(v)
    }
    fn from_text(v: &str) -> Option<Self> {
        v.trim().parse().ok()
    }
}

impl LooseValue for String {
    const EXPECTED: &'static str = "a string";
    const TEXT: bool = true;
    fn from_text(v: &str) -> Option<Self> {
        Some(v.to_string())
    }
}

impl LooseValue for [i64; 3] {
    const EXPECTED: &'static str = "an array of three integers";
    fn from_items<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<Option<Self>, A::Error> {
        let mut out = [0i64; 3];
        let mut n = 0usize;
        let mut ok = true;
        while let Some(item) = seq.next_element::<Loose<i64>>()? {
            match (item, out.get_mut(n)) {
                (Loose::Value(v), Some(slot)) => *slot = v,
                _ => ok = false,
            }
            n += 1;
        }
        Ok((ok && n == 3).then_some(out))
    }
}

impl<'de, T: LooseValue> Deserialize<'de> for Loose<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LooseVisitor(PhantomData))
    }
}

struct LooseVisitor<T>(PhantomData<T>);

fn found<T>(value: Option<T>) -> Loose<T> {
    value.map_or(Loose::Wrong, Loose::Value)
}

impl<'de, T: LooseValue> Visitor<'de> for LooseVisitor<T> {
    type Value = Loose<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "any JSON value (ideally {})", T::EXPECTED)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Loose<T>, E> {
        Ok(Loose::Wrong)
    }
    fn visit_i64<E>(self, v: i64) -> Result<Loose<T>, E> {
        Ok(found(T::from_int(i128::from(v))))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Loose<T>, E> {
        Ok(found(T::from_int(i128::from(v))))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Loose<T>, E> {
        Ok(found(T::from_float(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Loose<T>, E> {
        Ok(match T::from_text(v) {
            // A string is the expected type only for string fields.
            Some(value) if T::TEXT => Loose::Value(value),
            Some(value) => Loose::FromText(value),
            None => Loose::Wrong,
        })
    }
    fn visit_unit<E>(self) -> Result<Loose<T>, E> {
        Ok(Loose::Absent)
    }
    fn visit_none<E>(self) -> Result<Loose<T>, E> {
        Ok(Loose::Absent)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Loose<T>, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Loose<T>, A::Error> {
        Ok(found(T::from_items(seq)?))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Loose<T>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Loose::Wrong)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read<T: LooseValue>(json: &str) -> Loose<T> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn numbers_strings_and_wrong_types() {
        assert_eq!(read::<i64>("256"), Loose::Value(256));
        assert_eq!(read::<i64>("\"256\""), Loose::FromText(256));
        assert_eq!(read::<i64>("\"0x1f\""), Loose::FromText(31));
        assert_eq!(read::<i64>("\"0xzz\""), Loose::Wrong);
        assert_eq!(read::<i64>("2.0"), Loose::Value(2));
        assert_eq!(read::<i64>("2.5"), Loose::Wrong);
        assert_eq!(read::<i64>("18446744073709551615"), Loose::Wrong);
        assert_eq!(read::<i64>("true"), Loose::Wrong);
        assert_eq!(read::<i64>("{\"a\": [1, {}]}"), Loose::Wrong);
        assert_eq!(read::<i64>("null"), Loose::Absent);
        assert_eq!(read::<f64>("\"1.5\""), Loose::FromText(1.5));
        assert_eq!(read::<String>("\"k\""), Loose::Value("k".to_string()));
        assert_eq!(read::<String>("7"), Loose::Wrong);
        assert_eq!(read::<[i64; 3]>("[1, 2, 3]"), Loose::Value([1, 2, 3]));
        assert_eq!(read::<[i64; 3]>("[1, 2]"), Loose::Wrong);
        assert_eq!(read::<[i64; 3]>("[1, \"2\", 3]"), Loose::Wrong);
        assert_eq!(read::<[i64; 3]>("[1, 2, 3, 4]"), Loose::Wrong);
        assert_eq!(read::<[i64; 3]>("\"1,2,3\""), Loose::Wrong);
    }
}
