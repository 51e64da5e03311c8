//! 128-bit integers in evidence. Sums of 64-bit deltas and balances leave the 64-bit
//! range (two adds of `i64::MAX`), and wrapping would make a wrong read look right,
//! so the checkers add in 128 bits. JSON readers rarely take numbers beyond 64 bits:
//! such a value is written as a string of digits, and read back from either form.

use serde::{Deserialize, Deserializer, Serializer};

/// `#[serde(with = "crate::wide")]` for an `i128` field.
pub fn serialize<S: Serializer>(v: &i128, s: S) -> Result<S::Ok, S::Error> {
    match i64::try_from(*v) {
        Ok(small) => s.serialize_i64(small),
        Err(_) => s.serialize_str(&v.to_string()),
    }
}

/// Reads an `i128` written by [`serialize`].
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i128, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Number(i64),
        Text(String),
    }
    match Either::deserialize(d)? {
        Either::Number(n) => Ok(i128::from(n)),
        Either::Text(t) => t.parse().map_err(serde::de::Error::custom),
    }
}

/// The same for an `Option<i128>`.
pub mod option {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `None` as null.
    pub fn serialize<S: Serializer>(v: &Option<i128>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => super::serialize(v, s),
            None => s.serialize_none(),
        }
    }

    /// Reads null, a number or a string of digits.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i128>, D::Error> {
        #[derive(Deserialize)]
        struct Wrap(#[serde(with = "super")] i128);
        Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
    }
}
