//! Markup helpers: escaping text for HTML, the class a cell's tone gets, and relative links
//! from the page to the runs' files.

use std::fmt::Write as _;
use std::path::{Component, Path};

use crate::render::view::Tone;

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The CSS class of a cell's tone (see the page's stylesheet); empty for none.
pub(super) fn class(tone: Tone) -> &'static str {
    match tone {
        Tone::Run | Tone::Plain => "",
        Tone::Number => "num",
        Tone::Kept => "ok",
        Tone::Broken => "broken",
        Tone::Bad => "fail",
        Tone::Warning => "warn",
        Tone::Verdict(v) => v.as_str(),
    }
}

/// The opening `<td>` of a cell of this tone.
pub(super) fn td(tone: Tone) -> String {
    match class(tone) {
        "" => "<td>".to_string(),
        c => format!("<td class=\"{c}\">"),
    }
}

/// A relative URL from `from_dir` to `to` ("../run/result.json"), percent-encoded; absolute
/// (file path) only when they share no root.
pub(super) fn href(from_dir: &Path, to: &Path) -> String {
    let abs = |p: &Path| {
        std::fs::canonicalize(p)
            .or_else(|_| std::path::absolute(p))
            .unwrap_or_else(|_| p.to_path_buf())
    };
    let (a, b) = (abs(from_dir), abs(to));
    let ac: Vec<Component> = a.components().collect();
    let bc: Vec<Component> = b.components().collect();
    let common = ac.iter().zip(&bc).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return b.display().to_string();
    }
    let mut parts: Vec<String> = vec!["..".to_string(); ac.len() - common];
    parts.extend(
        bc[common..]
            .iter()
            .map(|c| url_segment(&c.as_os_str().to_string_lossy())),
    );
    parts.join("/")
}

fn url_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~+,:@=".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrefs_are_relative_and_encoded() {
        let d = tempfile::tempdir().unwrap();
        let page = d.path().join("20261127T1-suite");
        let run = d.path().join("run a&b");
        std::fs::create_dir_all(&page).unwrap();
        std::fs::create_dir_all(&run).unwrap();
        assert_eq!(
            href(&page, &run.join("result.json")),
            "../run%20a%26b/result.json"
        );
        assert_eq!(href(&run, &run.join("result.json")), "result.json");
    }

    #[test]
    fn escapes() {
        assert_eq!(esc("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
