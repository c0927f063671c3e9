//! A network fault's `target`: which client connections it acts on.

use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::scenario::error::Checker;

/// Resolves `target` to connection indexes (sorted) and a description for reports: "all"
/// (the default), an index, a list of indexes, or a fraction in (0, 1] drawn with `seed`, so
/// the same seed picks the same connections.
pub(super) fn resolve(
    c: &mut Checker,
    field: &str,
    value: Option<&toml::Value>,
    connections: usize,
    seed: u64,
) -> (Vec<usize>, String) {
    let all: Vec<usize> = (0..connections).collect();
    let index = |v: &toml::Value| match v {
        toml::Value::Integer(i) if *i >= 0 && (*i as usize) < connections => Some(*i as usize),
        _ => None,
    };
    let bad = |c: &mut Checker, what: String| {
        c.err(
            field,
            format!("{what}: use \"all\", a connection index (0..{connections}), a list of indexes, or a fraction in (0, 1]"),
        );
        (all.clone(), "all".to_string())
    };
    match value {
        None => (all.clone(), "all connections".into()),
        Some(toml::Value::String(s)) if s == "all" => (all.clone(), "all connections".into()),
        Some(v @ toml::Value::Integer(i)) if index(v).is_some() => {
            (vec![*i as usize], format!("connection {i}"))
        }
        Some(toml::Value::Array(items)) if !items.is_empty() => {
            let mut v = Vec::new();
            for it in items {
                match index(it) {
                    Some(i) if !v.contains(&i) => v.push(i),
                    Some(_) => {}
                    None => return bad(c, format!("{it} is not a connection index")),
                }
            }
            v.sort_unstable();
            let d = format!("connections {v:?}");
            (v, d)
        }
        Some(toml::Value::Float(f)) if *f > 0.0 && *f <= 1.0 => {
            let n = ((*f * connections as f64).ceil() as usize).clamp(1, connections);
            let mut v = all.clone();
            v.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
            v.truncate(n);
            v.sort_unstable();
            let d = format!("{}% of connections {v:?}", (f * 100.0).round());
            (v, d)
        }
        Some(other) => bad(c, format!("{other} is not allowed")),
    }
}
