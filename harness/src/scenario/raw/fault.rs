//! `[[faults]]` as written.
//!
//! The fields every fault has (name, kind, where, when) are fixed here; the kind's own
//! parameters (latency, bytes_per_sec, ...) come from the fault table
//! ([`PARAMS`](crate::nemesis::PARAMS)), so a new fault kind needs no edit in this file.
//! That is why the `Deserialize` is written by hand: it stays as strict as the derived ones
//! (an unknown key is an error listing every allowed key, with its line; a value of the wrong
//! TOML type is an error with its path and line), while the allowed keys come from the table.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::nemesis::{FaultDirection, FaultKind, Param, Unit, PARAMS};

/// One `[[faults]]` entry as written. Which parameters apply depends on `kind`; validation
/// names any that do not.
#[derive(Debug, Clone, Default)]
pub struct FaultSection {
    pub name: Option<String>,
    pub kind: Option<FaultKind>,
    /// Network faults: "all", a connection index, a list of indexes, or a fraction in (0, 1].
    pub target: Option<toml::Value>,
    pub direction: Option<FaultDirection>,
    /// Faults on nodes: "leader", "follower", "minority", "majority", "all", an index or a list.
    pub node: Option<toml::Value>,
    /// The kind-specific parameters given, by name. Each value's TOML type has been checked
    /// against its [`Unit`]: a string for a duration, an integer for a count.
    pub params: BTreeMap<&'static str, toml::Value>,
    pub start: Option<String>,
    pub duration: Option<String>,
    pub repeat: Option<i64>,
    pub every: Option<String>,
}

/// The keys of a `[[faults]]` entry, in the order an "unknown field" error lists them.
fn keys() -> &'static [&'static str] {
    static KEYS: OnceLock<Vec<&'static str>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut keys = vec!["name", "kind", "target", "direction", "node"];
        keys.extend(PARAMS.iter().map(|p| p.name));
        keys.extend(["start", "duration", "repeat", "every"]);
        keys
    })
}

/// A key of a `[[faults]]` entry.
enum Key {
    Name,
    Kind,
    Target,
    Direction,
    Node,
    Param(&'static Param),
    Start,
    Duration,
    Repeat,
    Every,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("field identifier")
            }

            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(match key {
                    "name" => Key::Name,
                    "kind" => Key::Kind,
                    "target" => Key::Target,
                    "direction" => Key::Direction,
                    "node" => Key::Node,
                    "start" => Key::Start,
                    "duration" => Key::Duration,
                    "repeat" => Key::Repeat,
                    "every" => Key::Every,
                    _ => match PARAMS.iter().find(|p| p.name == key) {
                        Some(p) => Key::Param(p),
                        None => return Err(E::unknown_field(key, keys())),
                    },
                })
            }
        }
        d.deserialize_identifier(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for FaultSection {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<FaultSection, D::Error> {
        d.deserialize_struct("FaultSection", keys(), SectionVisitor)
    }
}

struct SectionVisitor;

impl<'de> Visitor<'de> for SectionVisitor {
    type Value = FaultSection;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("struct FaultSection")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FaultSection, A::Error> {
        let mut s = FaultSection::default();
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Name => s.name = map.next_value()?,
                Key::Kind => s.kind = map.next_value()?,
                Key::Target => s.target = map.next_value()?,
                Key::Direction => s.direction = map.next_value()?,
                Key::Node => s.node = map.next_value()?,
                Key::Start => s.start = map.next_value()?,
                Key::Duration => s.duration = map.next_value()?,
                Key::Repeat => s.repeat = map.next_value()?,
                Key::Every => s.every = map.next_value()?,
                Key::Param(p) => {
                    // Read as the unit's TOML type, so a wrong type fails here, as for any
                    // other field.
                    let value = match p.unit {
                        Unit::Duration => toml::Value::String(map.next_value()?),
                        Unit::Count { .. } => toml::Value::Integer(map.next_value()?),
                        Unit::BytesPerSec => map.next_value()?,
                        Unit::Choice(_) => toml::Value::String(map.next_value()?),
                        Unit::Fraction => toml::Value::Float(map.next_value()?),
                    };
                    s.params.insert(p.name, value);
                }
            }
        }
        Ok(s)
    }
}
