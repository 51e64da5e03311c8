//! A transaction's value as read, before interning: micro-ops whose keys and values are
//! [`Atom`]s (an integer, or the compact JSON text of anything else).
//!
//! These types deserialize from any serde source: straight from JSONL text, which is
//! how a history of a million transactions is read without making a
//! `serde_json::Value` of each (docs/ARCHITECTURE.md §7, "Elle at scale"), and from a
//! `&Value` of a history already in memory. They never reject a shape: a micro-op that
//! is not `[f, key, value]` becomes [`RawMop::Malformed`] with its text, so the error can
//! say which operation holds it and what it looked like, and the values of nemesis
//! events (which may be anything) parse too.

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde_json::Value;
use std::fmt;

/// A key or value: integers as themselves, anything else as its compact JSON text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Atom {
    Int(i64),
    Text(Box<str>),
}

impl Atom {
    /// The value it stands for.
    pub(crate) fn to_value(&self) -> Value {
        match self {
            Atom::Int(i) => Value::from(*i),
            Atom::Text(text) => serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string())),
        }
    }

    fn text(value: impl Into<Value>) -> Atom {
        Atom::Text(value.into().to_string().into_boxed_str())
    }
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Atom::Int(i) => write!(f, "{i}"),
            Atom::Text(text) => f.write_str(text),
        }
    }
}

/// Visits any value as an [`Atom`]. Integers and strings, the common case, cost no
/// intermediate `Value`; lists and maps (rare as keys or elements) go through one.
struct AtomVisitor;

impl<'de> Visitor<'de> for AtomVisitor {
    type Value = Atom;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Atom, E> {
        Ok(Atom::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Atom, E> {
        Ok(i64::try_from(v).map_or_else(|_| Atom::text(v), Atom::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Atom, E> {
        Ok(Atom::text(v))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Atom, E> {
        Ok(Atom::text(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Atom, E> {
        Ok(Atom::text(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Atom, E> {
        Ok(Atom::text(Value::Null))
    }
    fn visit_none<E: de::Error>(self) -> Result<Atom, E> {
        self.visit_unit()
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Atom, A::Error> {
        Ok(Atom::text(Value::deserialize(SeqAccessDeserializer::new(seq))?))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Atom, A::Error> {
        Ok(Atom::text(Value::deserialize(MapAccessDeserializer::new(map))?))
    }
}

impl<'de> Deserialize<'de> for Atom {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Atom, D::Error> {
        d.deserialize_any(AtomVisitor)
    }
}

/// A micro-op's function name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MopName {
    Append,
    Read,
    Write,
    Other(Box<str>),
}

impl fmt::Display for MopName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MopName::Append => "append",
            MopName::Read => "r",
            MopName::Write => "w",
            MopName::Other(name) => name,
        })
    }
}

/// A micro-op's first element: a name when it is a string.
enum Head {
    Name(MopName),
    NotName(Atom),
}

struct HeadVisitor;

macro_rules! not_name {
    ($($method:ident($t:ty)),*) => {$(
        fn $method<E: de::Error>(self, v: $t) -> Result<Head, E> {
            AtomVisitor.$method(v).map(Head::NotName)
        }
    )*};
}

impl<'de> Visitor<'de> for HeadVisitor {
    type Value = Head;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    not_name!(visit_i64(i64), visit_u64(u64), visit_f64(f64), visit_bool(bool));
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Head, E> {
        Ok(Head::Name(match v {
            "append" => MopName::Append,
            "r" => MopName::Read,
            "w" => MopName::Write,
            other => MopName::Other(other.into()),
        }))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Head, E> {
        AtomVisitor.visit_unit().map(Head::NotName)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Head, A::Error> {
        AtomVisitor.visit_seq(seq).map(Head::NotName)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Head, A::Error> {
        AtomVisitor.visit_map(map).map(Head::NotName)
    }
}

impl<'de> Deserialize<'de> for Head {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Head, D::Error> {
        d.deserialize_any(HeadVisitor)
    }
}

/// One micro-op as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawMop {
    /// `[f, key, value]` with a string `f`.
    Mop { name: MopName, key: Atom, arg: MopArg },
    /// Anything else, as its JSON text.
    Malformed(String),
}

struct MopVisitor;

impl<'de> Visitor<'de> for MopVisitor {
    type Value = RawMop;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawMop, A::Error> {
        let head: Option<Head> = seq.next_element()?;
        let key: Option<Atom> = if head.is_some() { seq.next_element()? } else { None };
        let arg: Option<MopArg> = if key.is_some() { seq.next_element()? } else { None };
        let mut extra = 0usize;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            extra += 1;
        }
        match (head, key, arg, extra) {
            (Some(Head::Name(name)), Some(key), Some(arg), 0) => Ok(RawMop::Mop { name, key, arg }),
            (head, key, arg, extra) => {
                let mut parts: Vec<String> = Vec::new();
                match head {
                    Some(Head::Name(name)) => parts.push(Value::from(name.to_string()).to_string()),
                    Some(Head::NotName(atom)) => parts.push(atom.to_string()),
                    None => {}
                }
                parts.extend(key.map(|k| k.to_string()));
                parts.extend(arg.map(|a| a.to_string()));
                parts.extend((0..extra).map(|_| "…".to_owned()));
                Ok(RawMop::Malformed(format!("[{}]", parts.join(","))))
            }
        }
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawMop, E> {
        Ok(RawMop::Malformed(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawMop, E> {
        Ok(RawMop::Malformed(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawMop, E> {
        AtomVisitor.visit_f64(v).map(|a| RawMop::Malformed(a.to_string()))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawMop, E> {
        Ok(RawMop::Malformed(v.to_string()))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawMop, E> {
        AtomVisitor.visit_str(v).map(|a| RawMop::Malformed(a.to_string()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<RawMop, E> {
        Ok(RawMop::Malformed("null".to_owned()))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawMop, A::Error> {
        AtomVisitor.visit_map(map).map(|a| RawMop::Malformed(a.to_string()))
    }
}

impl<'de> Deserialize<'de> for RawMop {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RawMop, D::Error> {
        d.deserialize_any(MopVisitor)
    }
}

/// A value that is nothing, a list of `T`, or one other value: a micro-op's third
/// element (`T` = [`Atom`]: a list-append read's list) and a whole transaction
/// (`T` = [`RawMop`]: its micro-ops). One visitor reads both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum ListOr<T> {
    #[default]
    Null,
    List(Vec<T>),
    One(Atom),
}

/// A micro-op's third element.
pub(crate) type MopArg = ListOr<Atom>;

/// A whole transaction's value: its micro-ops, nothing, or something else entirely.
pub(crate) type TxnValue = ListOr<RawMop>;

impl MopArg {
    /// The argument as one atom: a list becomes its JSON text, as an rw-register
    /// value that happens to be a list is compared whole.
    pub(crate) fn into_atom(self) -> Option<Atom> {
        match self {
            ListOr::Null => None,
            ListOr::One(a) => Some(a),
            ListOr::List(items) => Some(Atom::Text(list_text(&items).into_boxed_str())),
        }
    }
}

fn list_text(items: &[Atom]) -> String {
    let inner: Vec<String> = items.iter().map(Atom::to_string).collect();
    format!("[{}]", inner.join(","))
}

impl fmt::Display for MopArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListOr::Null => f.write_str("null"),
            ListOr::List(items) => f.write_str(&list_text(items)),
            ListOr::One(a) => a.fmt(f),
        }
    }
}

struct ListOrVisitor<T>(std::marker::PhantomData<T>);

/// Scalars and maps are one atom; the visitor only decides null and lists itself.
macro_rules! one_atom {
    ($($method:ident($t:ty)),*) => {$(
        fn $method<E: de::Error>(self, v: $t) -> Result<ListOr<T>, E> {
            AtomVisitor.$method(v).map(ListOr::One)
        }
    )*};
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for ListOrVisitor<T> {
    type Value = ListOr<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    one_atom!(visit_i64(i64), visit_u64(u64), visit_f64(f64), visit_bool(bool), visit_str(&str));
    fn visit_unit<E: de::Error>(self) -> Result<ListOr<T>, E> {
        Ok(ListOr::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<ListOr<T>, E> {
        Ok(ListOr::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ListOr<T>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(8));
        while let Some(item) = seq.next_element::<T>()? {
            items.push(item);
        }
        Ok(ListOr::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ListOr<T>, A::Error> {
        AtomVisitor.visit_map(map).map(ListOr::One)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ListOr<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ListOr<T>, D::Error> {
        d.deserialize_any(ListOrVisitor(std::marker::PhantomData))
    }
}

impl TxnValue {
    /// Reads a value already in memory (never fails: every shape has a variant).
    pub(crate) fn of(value: &Value) -> TxnValue {
        TxnValue::deserialize(value).unwrap_or_else(|_| ListOr::One(Atom::text(value.clone())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn both(text: &str) -> TxnValue {
        let direct: TxnValue = serde_json::from_str(text).unwrap();
        let via_value = TxnValue::of(&serde_json::from_str(text).unwrap());
        assert_eq!(direct, via_value, "the two ways of reading {text} agree");
        direct
    }

    #[test]
    fn micro_ops_keep_their_parts() {
        let v = both(r#"[["append","x",1],["r",3,[1,2,"a"]],["w",{"k":1},null],["cas","k",[1,2]]]"#);
        let ListOr::List(mops) = v else { panic!("{v:?}") };
        assert_eq!(mops[0], RawMop::Mop { name: MopName::Append, key: Atom::Text("\"x\"".into()), arg: ListOr::One(Atom::Int(1)) });
        assert_eq!(
            mops[1],
            RawMop::Mop { name: MopName::Read, key: Atom::Int(3), arg: ListOr::List(vec![Atom::Int(1), Atom::Int(2), Atom::Text("\"a\"".into())]) }
        );
        assert_eq!(mops[2], RawMop::Mop { name: MopName::Write, key: Atom::Text("{\"k\":1}".into()), arg: ListOr::Null });
        assert_eq!(mops[3], RawMop::Mop { name: MopName::Other("cas".into()), key: Atom::Text("\"k\"".into()), arg: ListOr::List(vec![Atom::Int(1), Atom::Int(2)]) });
        assert_eq!(Atom::Text("\"x\"".into()).to_value(), json!("x"));
        assert_eq!(ListOr::List(vec![Atom::Int(1), Atom::Text("[2]".into())]).into_atom(), Some(Atom::Text("[1,[2]]".into())));
    }

    #[test]
    fn odd_shapes_are_kept_as_text_not_refused() {
        let ListOr::List(mops) = both(r#"[["r","x"],[1,"x",2],"oops",["w","x",1,2]]"#) else { panic!() };
        let texts: Vec<String> = mops
            .iter()
            .map(|m| match m {
                RawMop::Malformed(t) => t.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(texts, ["[\"r\",\"x\"]", "[1,\"x\",2]", "\"oops\"", "[\"w\",\"x\",1,…]"]);
        assert_eq!(both(r#"{"n1":["n2"]}"#), ListOr::One(Atom::Text("{\"n1\":[\"n2\"]}".into())));
        assert_eq!(both("null"), ListOr::Null);
        assert_eq!(both("18446744073709551615"), ListOr::One(Atom::Text("18446744073709551615".into())));
    }
}
