//! The situation report as one self-contained HTML page (no scripts, no
//! fonts or files fetched: the charts are inline SVG), Arabic cells marked
//! right-to-left. It prints to PDF as it is (`corridor report --format pdf`).

use std::fmt::Write;

use crate::Block;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Inline `code` spans, the only Markdown the blocks use.
fn inline(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in esc(s).split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(part);
        }
    }
    out
}

fn is_arabic(s: &str) -> bool {
    s.chars().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c) || ('\u{0750}'..='\u{077F}').contains(&c))
}

fn td(tag: &str, s: &str, numeric: bool) -> String {
    let attrs = if is_arabic(s) { " dir=\"rtl\" lang=\"ar\"" } else if numeric { " class=\"n\"" } else { "" };
    format!("<{tag}{attrs}>{}</{tag}>", inline(s))
}

const STYLE: &str = "body{font-family:'DejaVu Sans','Noto Sans','Noto Naskh Arabic',sans-serif;max-width:60em;margin:2em auto;color:#111}\
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #bbb;padding:.2em .5em}th{background:#eee}\
td.n{text-align:right;font-variant-numeric:tabular-nums}figure{margin:1em 0}figcaption{font-size:.9em;color:#444}\
code{font-size:.9em}@page{size:A4;margin:15mm}@media print{body{margin:0 auto}figure,table{page-break-inside:avoid}}";

/// The page.
pub fn page(blocks: &[Block]) -> String {
    let title = blocks.iter().find_map(|b| if let Block::Heading(1, t) = b { Some(t.as_str()) } else { None }).unwrap_or("Report");
    let mut s = format!("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n", esc(title));
    for b in blocks {
        match b {
            Block::Heading(level, text) => {
                let _ = writeln!(s, "<h{level}>{}</h{level}>", inline(text));
            }
            Block::Para(text) => {
                let _ = writeln!(s, "<p>{}</p>", inline(text));
            }
            Block::List(items) => {
                s.push_str("<ul>\n");
                for i in items {
                    let _ = writeln!(s, "<li>{}</li>", inline(i));
                }
                s.push_str("</ul>\n");
            }
            Block::Table(head, numeric, rows) => {
                s.push_str("<table>\n<tr>");
                for h in head {
                    s.push_str(&td("th", h, false));
                }
                s.push_str("</tr>\n");
                for r in rows {
                    s.push_str("<tr>");
                    for (i, c) in r.iter().enumerate() {
                        s.push_str(&td("td", c, numeric.get(i).copied().unwrap_or(false)));
                    }
                    s.push_str("</tr>\n");
                }
                s.push_str("</table>\n");
            }
            Block::Chart(caption, svg) => {
                let svg = svg.trim_start_matches(|c| c != '<');
                let svg = svg.strip_prefix("<?xml").map_or(svg, |rest| rest.split_once("?>").map_or(rest, |(_, r)| r));
                let _ = writeln!(s, "<figure>{}<figcaption>{}</figcaption></figure>", svg.trim(), esc(caption));
            }
        }
    }
    s.push_str("</body>\n</html>\n");
    s
}
