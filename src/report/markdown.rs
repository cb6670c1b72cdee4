//! Markdown -> self-contained HTML fragment.
//!
//! pulldown-cmark (tables, footnotes, strikethrough, heading attributes, math) parses the report;
//! `$...$` / `$$...$$` become MathML via pulldown-latex (no script, no web font); images
//! `figures/NAME.svg` are replaced by the inline SVG of that figure inside
//! `<figure>...<figcaption>ALT</figcaption></figure>`, the alt text being rendered as inline
//! Markdown (so captions may contain math). Headings get unique `id` slugs and are returned for a
//! table of contents. The output never makes an external request (see [`external_references`]);
//! [`STYLE`] is the stylesheet the page layout inlines.

use std::collections::HashMap;

use pulldown_cmark::{CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use pulldown_latex::config::DisplayMode;
use pulldown_latex::{push_mathml, RenderConfig, Storage};

/// Compact paper-like stylesheet for the report (serif body, ~46em measure, figures, tables with
/// borders and zebra rows, centred display math, `.pass` / `.fail` / `.math-error` classes, and the
/// MathML environment classes pulldown-latex emits). Local fonts only: no `url()`.
pub const STYLE: &str = include_str!("style.css");

/// Errors that make the document unusable (as opposed to [`Rendered::warnings`]).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MarkdownError {
    /// `![...](figures/NAME.svg)` names a figure the report does not have.
    #[error("the document references figure '{name}' (figures/{name}.svg), which does not exist")]
    UnknownFigure { name: String },
    /// The figure's text is not an SVG document.
    #[error("figure '{name}' is not an SVG document: {reason}")]
    InvalidSvg { name: String, reason: String },
    /// An image that is neither a report figure nor a `data:` URL (it would be fetched).
    #[error("image '{url}' is not a report figure (figures/NAME.svg): the HTML must be self-contained")]
    ExternalImage { url: String },
    /// Raw HTML or an SVG that would make the browser fetch something.
    #[error("the output would load an external resource ({what}); the HTML must be self-contained")]
    ExternalReference { what: String },
}

/// A heading of the document, for the table of contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heading {
    /// 1 for `#`, 2 for `##`, ...
    pub level: u8,
    /// Plain text (math as its LaTeX source).
    pub text: String,
    /// Inner HTML (math rendered as MathML), for a TOC entry that shows math.
    pub html: String,
    /// The `id` attribute (unique in the document): link with `#id`.
    pub id: String,
}

/// Result of [`markdown_to_html`].
#[derive(Clone, Debug, Default)]
pub struct Rendered {
    /// HTML fragment (the body content; the layout wraps it).
    pub html: String,
    /// Headings in document order.
    pub headings: Vec<Heading>,
    /// Non-fatal problems (LaTeX errors, rendered as `<code class="math-error">`).
    pub warnings: Vec<String>,
}

/// Convert the report's Markdown to an HTML fragment. `figures(name)` returns the SVG text of
/// figure `name` (the file stem of `figures/NAME.svg`), or `None` if there is no such figure.
pub fn markdown_to_html(md: &str, figures: &dyn Fn(&str) -> Option<String>) -> Result<Rendered, MarkdownError> {
    let opts = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_HEADING_ATTRIBUTES
        | Options::ENABLE_MATH;
    let events: Vec<Event> = Parser::new_ext(md, opts).collect();
    let mut cx = Ctx { figures, warnings: vec![], headings: vec![], slugs: HashMap::new() };
    // Reserve explicit ids ({#id}) first so generated slugs do not collide with them.
    for e in &events {
        if let Event::Start(Tag::Heading { id: Some(id), .. }) = e {
            cx.slugs.insert(id.to_string(), 1);
        }
    }
    let out = cx.convert(&events, true)?;
    let mut html = String::with_capacity(md.len() * 2);
    pulldown_cmark::html::push_html(&mut html, out.into_iter());
    if let Some(what) = external_references(&html).into_iter().next() {
        return Err(MarkdownError::ExternalReference { what });
    }
    Ok(Rendered { html, headings: cx.headings, warnings: cx.warnings })
}

struct Ctx<'f> {
    figures: &'f dyn Fn(&str) -> Option<String>,
    warnings: Vec<String>,
    headings: Vec<Heading>,
    slugs: HashMap<String, usize>,
}

/// Index of the event closing the element opened at `start`.
fn matching_end(events: &[Event], start: usize) -> usize {
    let mut depth = 0usize;
    for (k, e) in events.iter().enumerate().skip(start) {
        match e {
            Event::Start(_) => depth += 1,
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return k;
                }
            }
            _ => {}
        }
    }
    events.len().saturating_sub(1)
}

fn figure_name(url: &str) -> Option<&str> {
    url.strip_prefix("figures/").and_then(|r| r.strip_suffix(".svg")).filter(|n| !n.is_empty() && !n.contains('/'))
}

fn is_blank(e: &Event) -> bool {
    match e {
        Event::Text(t) => t.trim().is_empty(),
        Event::SoftBreak | Event::HardBreak => true,
        _ => false,
    }
}

impl<'f> Ctx<'f> {
    /// Rewrite events: math -> MathML, figure images -> inline SVG figures, heading ids.
    fn convert<'a>(&mut self, ev: &[Event<'a>], top: bool) -> Result<Vec<Event<'a>>, MarkdownError> {
        let mut out = Vec::with_capacity(ev.len());
        let mut in_para = false;
        let mut i = 0;
        while i < ev.len() {
            match &ev[i] {
                Event::Start(Tag::Paragraph) if top => {
                    let end = matching_end(ev, i);
                    let inner = &ev[i + 1..end];
                    let figs: Vec<usize> = inner
                        .iter()
                        .enumerate()
                        .filter(|(_, e)| matches!(e, Event::Start(Tag::Image { dest_url, .. }) if figure_name(dest_url).is_some()))
                        .map(|(k, _)| k)
                        .collect();
                    if figs.len() == 1 {
                        let s = figs[0];
                        let e = matching_end(inner, s);
                        if inner[..s].iter().all(is_blank) && inner[e + 1..].iter().all(is_blank) {
                            // A paragraph holding just a figure: emit the figure block alone.
                            out.push(Event::Html(self.figure(inner, s, e)?.into()));
                            i = end + 1;
                            continue;
                        }
                    }
                    in_para = true;
                    out.push(ev[i].clone());
                    i += 1;
                }
                Event::End(TagEnd::Paragraph) => {
                    in_para = false;
                    out.push(ev[i].clone());
                    i += 1;
                }
                Event::Start(Tag::Image { dest_url, .. }) => {
                    let end = matching_end(ev, i);
                    if figure_name(dest_url).is_some() {
                        let fig = self.figure(ev, i, end)?;
                        // <figure> may not sit inside <p>: close and reopen the paragraph.
                        let html = if in_para { format!("</p>{fig}<p>") } else { fig };
                        out.push(Event::Html(html.into()));
                    } else if dest_url.starts_with("data:") {
                        out.push(ev[i].clone());
                        out.extend(self.convert(&ev[i + 1..end], false)?);
                        out.push(ev[end].clone());
                    } else {
                        return Err(MarkdownError::ExternalImage { url: dest_url.to_string() });
                    }
                    i = end + 1;
                }
                Event::Start(Tag::Heading { level, id, classes, attrs }) => {
                    let end = matching_end(ev, i);
                    let inner = self.convert(&ev[i + 1..end], false)?;
                    let text = plain_text(&ev[i + 1..end]);
                    let id = match id {
                        Some(id) => id.to_string(),
                        None => self.unique_slug(&slugify(&text)),
                    };
                    let mut inner_html = String::new();
                    pulldown_cmark::html::push_html(&mut inner_html, inner.iter().cloned());
                    self.headings.push(Heading {
                        level: heading_level(*level),
                        text,
                        html: inner_html,
                        id: id.clone(),
                    });
                    out.push(Event::Start(Tag::Heading {
                        level: *level,
                        id: Some(CowStr::from(id)),
                        classes: classes.clone(),
                        attrs: attrs.clone(),
                    }));
                    out.extend(inner);
                    out.push(ev[end].clone());
                    i = end + 1;
                }
                Event::Start(Tag::Table(_)) => {
                    out.push(Event::Html("<div class=\"table-wrap\">\n".into()));
                    out.push(ev[i].clone());
                    i += 1;
                }
                Event::End(TagEnd::Table) => {
                    out.push(ev[i].clone());
                    out.push(Event::Html("</div>\n".into()));
                    i += 1;
                }
                Event::InlineMath(src) => {
                    out.push(Event::InlineHtml(self.math(src, false).into()));
                    i += 1;
                }
                Event::DisplayMath(src) => {
                    // Its own scroll box: a formula wider than the column scrolls instead of clipping.
                    let html = format!("<span class=\"math-block\">{}</span>", self.math(src, true));
                    out.push(Event::InlineHtml(html.into()));
                    i += 1;
                }
                e => {
                    out.push(e.clone());
                    i += 1;
                }
            }
        }
        Ok(out)
    }

    /// `<figure>` for the image spanning `ev[start..=end]` (a `figures/NAME.svg` image).
    fn figure(&mut self, ev: &[Event], start: usize, end: usize) -> Result<String, MarkdownError> {
        let name = match &ev[start] {
            Event::Start(Tag::Image { dest_url, .. }) => figure_name(dest_url).unwrap_or_default().to_string(),
            _ => String::new(),
        };
        let svg = (self.figures)(&name).ok_or_else(|| MarkdownError::UnknownFigure { name: name.clone() })?;
        let alt = &ev[start + 1..end];
        let caption_events = self.convert(alt, false)?;
        let mut caption = String::new();
        pulldown_cmark::html::push_html(&mut caption, caption_events.into_iter());
        let svg = prepare_svg(&svg, &name, &plain_text(alt))?;
        let id = format!("fig-{}", slugify(&name));
        Ok(format!(
            "<figure id=\"{}\" class=\"figure\">\n{}\n<figcaption>{}</figcaption>\n</figure>\n",
            escape(&id),
            svg,
            caption.trim()
        ))
    }

    /// MathML for a LaTeX source; on a LaTeX error, the escaped source in
    /// `<code class="math-error">` and a warning.
    fn math(&mut self, src: &str, display: bool) -> String {
        let tex = normalize_tex(src);
        let storage = Storage::new();
        let events: Vec<_> = pulldown_latex::Parser::new(&tex, &storage).collect();
        let error = events.iter().find_map(|e| e.as_ref().err().map(|e| e.to_string()));
        let fallback = |w: &mut Vec<String>, msg: String| {
            w.push(format!(
                "LaTeX error in {} math `{}`: {}",
                if display { "display" } else { "inline" },
                src.trim(),
                msg
            ));
            let class = if display { "math-error math-display" } else { "math-error" };
            format!("<code class=\"{class}\">{}</code>", escape(src))
        };
        if let Some(msg) = error {
            return fallback(&mut self.warnings, msg);
        }
        let annotation = escape(src.trim());
        let config = RenderConfig {
            display_mode: if display { DisplayMode::Block } else { DisplayMode::Inline },
            annotation: Some(&annotation),
            ..RenderConfig::default()
        };
        let mut out = String::new();
        match push_mathml(&mut out, events.into_iter(), config) {
            Ok(()) if !out.contains("<merror") => repair_mathml(&out),
            Ok(()) => fallback(&mut self.warnings, "the renderer reported an error".into()),
            Err(e) => fallback(&mut self.warnings, e.to_string()),
        }
    }

    fn unique_slug(&mut self, base: &str) -> String {
        let base = if base.is_empty() { "section" } else { base };
        let mut candidate = base.to_string();
        let mut n = 0;
        while self.slugs.contains_key(&candidate) {
            n += 1;
            candidate = format!("{base}-{n}");
        }
        self.slugs.insert(candidate.clone(), 1);
        candidate
    }
}

/// Rewrites TeX the renderer would misread: a number in e-notation (`1e40`, `2.5e-7`, as the
/// report's number formatting writes them) becomes `1 \times 10^{40}`; otherwise an `e` between
/// digits would be set as the italic variable $e$.
pub fn normalize_tex(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        // A number starts at a digit not preceded by a letter, a backslash or another digit/point.
        let starts = b[i].is_ascii_digit()
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || matches!(b[i - 1], b'\\' | b'.' | b'_' | b'^')));
        if !starts {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j + 1 < b.len() && b[j] == b'.' && b[j + 1].is_ascii_digit() {
            j += 1;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
        }
        let mantissa_end = j;
        if j < b.len() && (b[j] == b'e' || b[j] == b'E') {
            let mut k = j + 1;
            if k < b.len() && (b[k] == b'-' || b[k] == b'+') {
                k += 1;
            }
            let digits_start = k;
            while k < b.len() && b[k].is_ascii_digit() {
                k += 1;
            }
            let ends = k == b.len() || !(b[k].is_ascii_alphanumeric() || b[k] == b'.');
            if k > digits_start && ends {
                let exp = src[j + 1..k].trim_start_matches('+');
                out.push_str(&src[copied..i]);
                out.push_str(&format!("{} \\times 10^{{{exp}}}", &src[i..mantissa_end]));
                copied = k;
                i = k;
                continue;
            }
        }
        i = j.max(i + 1);
    }
    out.push_str(&src[copied..]);
    out
}

/// Repairs two defects of pulldown-latex 0.8's MathML: the control space `\ ` and `~` come out as
/// the escaped text `&amp;nbsp;` (a visible "&nbsp;"), written here as a no-break space; and a
/// sized delimiter (`\big`, `\Big`, ...) has no space between `stretchy="true"` and `minsize`,
/// which leaves the attributes malformed.
pub fn repair_mathml(mathml: &str) -> String {
    mathml.replace(">&amp;nbsp;</mtext>", ">\u{a0}</mtext>").replace("\"minsize=", "\" minsize=")
}

fn heading_level(l: HeadingLevel) -> u8 {
    match l {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// Plain text of inline events (math as its source).
fn plain_text(ev: &[Event]) -> String {
    let mut s = String::new();
    for e in ev {
        match e {
            Event::Text(t) | Event::Code(t) => s.push_str(t),
            Event::InlineMath(t) | Event::DisplayMath(t) => s.push_str(t),
            Event::SoftBreak | Event::HardBreak => s.push(' '),
            _ => {}
        }
    }
    s.trim().to_string()
}

/// GitHub-style slug: lower-case letters, digits, `-` and `_`; spaces become `-`.
pub fn slugify(text: &str) -> String {
    let mut s = String::new();
    for c in text.trim().chars() {
        if c.is_alphanumeric() {
            s.extend(c.to_lowercase());
        } else if c == '-' || c == '_' {
            s.push(c);
        } else if c.is_whitespace() && !s.ends_with('-') {
            s.push('-');
        }
    }
    s.trim_matches('-').to_string()
}

/// Escape text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Width in CSS pixels a figure gets in the report at a 1200 px wide window (the page's 72em
/// maximum less its padding and a scroll bar; see `style.css`). Figures wider than this are scaled
/// down to it.
pub const FIGURE_COLUMN_PX: f64 = 1140.0;

/// Smallest text in the report's figures, in CSS pixels at a 1200 px window.
pub const MIN_FIGURE_TEXT_PX: f64 = 11.0;

/// The size in CSS pixels of the smallest text of `svg` when it is shown `column_px` wide at most
/// (the `font-size` attributes times the scale `min(1, column_px / width)`); `None` without text
/// sizes or width.
pub fn min_text_px(svg: &str, column_px: f64) -> Option<f64> {
    let open_end = svg.find("<svg").and_then(|s| svg[s..].find('>').map(|e| s + e))?;
    let open = &svg[svg.find("<svg")?..open_end];
    let width: f64 = attr(open, "width")?.trim_end_matches("px").parse().ok()?;
    let mut smallest: Option<f64> = None;
    let mut rest = svg;
    while let Some(p) = rest.find("font-size=\"") {
        rest = &rest[p + 11..];
        if let Some(v) = rest.split('"').next().and_then(|v| v.trim_end_matches("px").parse::<f64>().ok()) {
            smallest = Some(smallest.map_or(v, |m: f64| m.min(v)));
        }
    }
    Some(smallest? * (column_px / width).min(1.0))
}

/// Value of attribute `name` in an open tag's text (`name="..."`).
fn attr<'s>(tag: &'s str, name: &str) -> Option<&'s str> {
    let pat = format!(" {name}=\"");
    let start = tag.find(&pat)? + pat.len();
    let len = tag[start..].find('"')?;
    Some(&tag[start..start + len])
}

fn remove_attr(tag: &str, name: &str) -> String {
    let pat = format!(" {name}=\"");
    match tag.find(&pat) {
        Some(s) => match tag[s + pat.len()..].find('"') {
            Some(l) => format!("{}{}", &tag[..s], &tag[s + pat.len() + l + 1..]),
            None => tag.to_string(),
        },
        None => tag.to_string(),
    }
}

/// Make an SVG document embeddable: drop the XML prolog / doctype / leading comments and the
/// namespace declarations (implicit for inline SVG in HTML), make it responsive
/// (`max-width: 100%; height: auto`, with a `viewBox` from `width`/`height` if missing), and label
/// it for screen readers.
pub fn prepare_svg(svg: &str, name: &str, label: &str) -> Result<String, MarkdownError> {
    let invalid = |reason: &str| MarkdownError::InvalidSvg { name: name.to_string(), reason: reason.to_string() };
    let mut s = svg.trim_start_matches('\u{feff}').trim_start();
    loop {
        if let Some(rest) = s.strip_prefix("<?") {
            s = rest.split_once("?>").ok_or_else(|| invalid("unterminated XML prolog"))?.1.trim_start();
        } else if let Some(rest) = s.strip_prefix("<!--") {
            s = rest.split_once("-->").ok_or_else(|| invalid("unterminated comment"))?.1.trim_start();
        } else if let Some(rest) = s.strip_prefix("<!") {
            s = rest.split_once('>').ok_or_else(|| invalid("unterminated doctype"))?.1.trim_start();
        } else {
            break;
        }
    }
    if !s.starts_with("<svg") {
        return Err(invalid("it does not start with an <svg> element"));
    }
    let s = s.trim_end();
    if !s.ends_with("</svg>") && !s.ends_with("/>") {
        return Err(invalid("it does not end with </svg>"));
    }
    let open_end = s.find('>').ok_or_else(|| invalid("unterminated <svg> tag"))?;
    let (mut open, rest) = (s[..open_end].to_string(), &s[open_end..]);
    let self_closing = open.ends_with('/');
    if self_closing {
        open.pop();
    }
    for ns in ["xmlns", "xmlns:xlink", "xmlns:svg"] {
        open = remove_attr(&open, ns);
    }
    if attr(&open, "viewBox").is_none() {
        let num = |v: Option<&str>| v.and_then(|v| v.trim_end_matches("px").parse::<f64>().ok());
        if let (Some(w), Some(h)) = (num(attr(&open, "width")), num(attr(&open, "height"))) {
            open.push_str(&format!(" viewBox=\"0 0 {w} {h}\""));
        }
    }
    let style = match attr(&open, "style") {
        Some(st) => {
            let st = st.to_string();
            open = remove_attr(&open, "style");
            format!("max-width:100%;height:auto;{st}")
        }
        None => "max-width:100%;height:auto".to_string(),
    };
    open.push_str(&format!(" style=\"{style}\" role=\"img\""));
    if !label.is_empty() && attr(&open, "aria-label").is_none() {
        open.push_str(&format!(" aria-label=\"{}\"", escape(label)));
    }
    if self_closing {
        open.push('/');
    }
    let out = format!("{open}{rest}");
    if let Some(what) = external_references(&out).into_iter().next() {
        return Err(MarkdownError::ExternalReference { what: format!("in figure '{name}': {what}") });
    }
    Ok(out)
}

/// Constructs in `html` that would make a browser fetch something or run code: `<script>`,
/// `<link>`, `<iframe>`, `<frame>`, `<object>`, `<embed>`, `<base>`; `src` / `srcset` / `poster` /
/// `background` / `data` attributes and CSS `url(...)` (in attributes and `<style>` blocks) that
/// are not `data:` or `#fragment` references; `@import`; `href` on SVG `<image>`, `<use>`,
/// `<feImage>`. Only markup is inspected (text content is escaped and cannot load anything).
/// Plain hyperlinks (`<a href=...>`) are navigation, not requests, and are allowed.
pub fn external_references(html: &str) -> Vec<String> {
    /// Whether the attribute / `url(` value at the start of `v` is local (`data:`, `#id`, empty).
    fn local(v: &str) -> bool {
        let v = v.trim_start();
        let value = match v.chars().next() {
            Some(q @ ('"' | '\'')) => v[1..].split(q).next().unwrap_or(""),
            _ => v.split([' ', ')', '>']).next().unwrap_or(""),
        };
        let value = value.trim();
        value.is_empty() || value.starts_with("data:") || value.starts_with('#')
    }
    fn check_css(css: &str, what: &str, found: &mut Vec<String>) {
        if css.contains("@import") {
            found.push(format!("@import in {what}"));
        }
        let mut from = 0;
        while let Some(p) = css[from..].find("url(") {
            let at = from + p + 4;
            if !local(&css[at..]) {
                found.push(format!("url({}", css[at..].chars().take(40).collect::<String>()));
            }
            from = at;
        }
    }
    let lower = html.to_ascii_lowercase();
    let mut found = vec![];
    let mut pos = 0;
    while let Some(p) = lower[pos..].find('<') {
        let start = pos + p;
        if lower[start..].starts_with("<!--") {
            pos = lower[start..].find("-->").map(|e| start + e + 3).unwrap_or(lower.len());
            continue;
        }
        let end = lower[start..].find('>').map(|e| start + e).unwrap_or(lower.len());
        // Normalise whitespace so attribute names are preceded by a single space.
        let tag: String = lower[start..end].chars().map(|c| if c.is_whitespace() { ' ' } else { c }).collect();
        let name = tag[1..].split([' ', '/']).next().unwrap_or("");
        if ["script", "link", "iframe", "frame", "object", "embed", "base", "applet", "portal"].contains(&name) {
            found.push(format!("<{name}> element"));
        }
        for key in [" src=", " srcset=", " poster=", " background=", " data=", " lowsrc="] {
            if let Some(q) = tag.find(key) {
                if !local(&tag[q + key.len()..]) {
                    found.push(format!("<{name}{}", tag[q..].chars().take(50).collect::<String>()));
                }
            }
        }
        if ["image", "use", "feimage"].contains(&name) {
            for key in [" href=", " xlink:href="] {
                if let Some(q) = tag.find(key) {
                    if !local(&tag[q + key.len()..]) {
                        found.push(format!("<{name}{}", tag[q..].chars().take(50).collect::<String>()));
                    }
                }
            }
        }
        check_css(&tag, &format!("<{name}> attribute"), &mut found);
        pos = end;
        if name == "style" {
            let close = lower[end..].find("</style").map(|e| end + e).unwrap_or(lower.len());
            check_css(&lower[end..close], "<style>", &mut found);
            pos = close;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const SVG: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg width=\"640\" height=\"420\" viewBox=\"0 0 640 420\" xmlns=\"http://www.w3.org/2000/svg\">\n<rect x=\"0\" y=\"0\" width=\"10\" height=\"10\" fill=\"#FFFFFF\"/>\n<text x=\"5\" y=\"5\">depth</text>\n</svg>\n";

    fn figs(name: &str) -> Option<String> {
        (name == "demo-fig").then(|| SVG.to_string())
    }

    fn render(md: &str) -> Rendered {
        markdown_to_html(md, &figs).expect("render")
    }

    const SAMPLE: &str = r#"# Mean field residual networks

## 1 Introduction

The length $q^l$ obeys
$$q^{l} = \sigma_w^2 \, \mathbb{E}\left[\phi(\sqrt{q^{l-1}} z)^2\right] + \sigma_b^2$$
for every layer.[^1]

### 1.1 Table

| activation | $\chi_1$ | verdict |
|:-----------|---------:|---------|
| tanh       | 0.98     | pass    |
| ReLU       | 1.00     | ~~fail~~ |

![Figure 1: gradient ratio against depth $L$, with $\sigma_w = 1$.](figures/demo-fig.svg)

See [the paper](#1-introduction) and the list:

1. first
2. second

## 1 Introduction

[^1]: A footnote with $x^2$.
"#;

    #[test]
    fn math_becomes_mathml_inline_and_display() {
        let r = render("Inline $a^2 + b_1$ and display $$\\frac{1}{2}\\sum_i x_i$$ done.");
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        assert!(r.html.contains("<math display=\"inline\">"), "{}", r.html);
        assert!(r.html.contains("<math display=\"block\">"), "{}", r.html);
        assert!(r.html.contains("<msup>") && r.html.contains("<mfrac>"), "{}", r.html);
        assert!(!r.html.contains('$'), "math delimiters left in {}", r.html);
        // The LaTeX source is kept (escaped) as an annotation.
        let r = render("$a < b$");
        assert!(r.html.contains("<annotation encoding=\"application/x-tex\">a &lt; b</annotation>"), "{}", r.html);
    }

    #[test]
    fn control_space_is_a_no_break_space_not_a_visible_entity() {
        // `\ ` is TeX's control space: one inter-word space inside the formula.
        let r = render("$a\\ b$ and $a~b$");
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        assert!(!r.html.contains("&amp;nbsp;") && !r.html.contains("&nbsp;"), "{}", r.html);
        assert!(r.html.contains("<mi>a</mi><mtext>\u{a0}</mtext><mi>b</mi>"), "{}", r.html);
        assert_eq!(r.html.matches("<mtext>\u{a0}</mtext>").count(), 2, "{}", r.html);
    }

    #[test]
    fn sized_delimiters_are_enlarged() {
        // \big is 1.2em, \Big 1.8em (TeX's sizes, as pulldown-latex maps them), stretchy at that size.
        let r = render("$\\Big[ x \\Big]$ $\\big( y \\big)$");
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        let h = &r.html;
        assert!(
            h.contains("<mo symmetric=\"true\" stretchy=\"true\" minsize=\"1.8em\" maxsize=\"1.8em\">[</mo>"),
            "{h}"
        );
        assert!(
            h.contains("<mo symmetric=\"true\" stretchy=\"true\" minsize=\"1.8em\" maxsize=\"1.8em\">]</mo>"),
            "{h}"
        );
        assert!(
            h.contains("<mo symmetric=\"true\" stretchy=\"true\" minsize=\"1.2em\" maxsize=\"1.2em\">(</mo>"),
            "{h}"
        );
        assert!(!h.contains("\"minsize"), "attributes must be separated: {h}");
    }

    #[test]
    fn e_notation_is_set_as_a_power_of_ten() {
        let r = render("$1e40$, $2.5e-7$ and $L = 3E+2$");
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        let h = &r.html;
        // The exponent is a braced group, hence the <mrow>; a leading minus in a group is an <mi>.
        assert!(h.contains("<mn>1</mn><mo>×</mo><msup><mn>10</mn><mrow><mn>40</mn></mrow></msup>"), "{h}");
        assert!(h.contains("<mn>2.5</mn><mo>×</mo><msup><mn>10</mn><mrow><mi>−</mi><mn>7</mn></mrow></msup>"), "{h}");
        assert!(h.contains("<mn>3</mn><mo>×</mo><msup><mn>10</mn><mrow><mn>2</mn></mrow></msup>"), "{h}");
        assert!(!h.contains("<mi>e</mi>") && !h.contains("<mi>E</mi>"), "{h}");
        // Only numbers are rewritten: e as a variable, exponents, ids and subscripts stay.
        for (tex, kept) in
            [("2e^{x}", "2e^{x}"), ("x_2e3", "x_2e3"), ("C2e", "C2e"), ("1.5ex", "1.5ex"), ("e = 2", "e = 2")]
        {
            assert_eq!(normalize_tex(tex), kept);
        }
        assert_eq!(normalize_tex("a + 1e40 + 2e-3"), "a + 1 \\times 10^{40} + 2 \\times 10^{-3}");
    }

    #[test]
    fn figure_text_size_at_the_page_width() {
        let svg = |w: u32, fs: &str| {
            format!("<svg width=\"{w}\" height=\"10\"><text font-size=\"14\">a</text><text font-size=\"{fs}\">b</text></svg>")
        };
        // 12.5 px text in a 960 px figure stays 12.5 px in a 1140 px column ...
        assert_eq!(min_text_px(&svg(960, "12.5"), 1140.0), Some(12.5));
        // ... and shrinks to 12.5 * 782 / 960 = 10.18 px in a 782 px one (the old 46em column).
        let s = min_text_px(&svg(960, "12.5"), 782.0).unwrap();
        assert!((s - 12.5 * 782.0 / 960.0).abs() < 1e-12, "{s}");
        assert_eq!(min_text_px("<svg width=\"10\"></svg>", 100.0), None);
    }

    #[test]
    fn display_math_scrolls_in_its_own_box() {
        let r = render("Before\n$$x = 1$$\nafter.");
        assert!(r.html.contains("<span class=\"math-block\"><math display=\"block\">"), "{}", r.html);
        assert!(STYLE.contains(".math-block{display:block;overflow-x:auto"), "the box scrolls");
        // Inline math is not boxed.
        assert!(!render("$x$").html.contains("math-block"));
    }

    #[test]
    fn bad_latex_is_a_warning_not_a_panic() {
        let r = render("Good $x$, bad $\\frac{1}$ and $$\\undefinedmacro{x}$$ end.");
        assert_eq!(r.warnings.len(), 2, "{:?}", r.warnings);
        assert!(r.warnings[0].contains("\\frac{1}"), "{:?}", r.warnings);
        assert!(r.html.contains("<code class=\"math-error\">\\frac{1}</code>"), "{}", r.html);
        assert!(r.html.contains("math-error math-display"));
        assert!(r.html.contains("<math display=\"inline\">"), "the good formula still renders");
    }

    #[test]
    fn tables_footnotes_strikethrough_render() {
        let r = render(SAMPLE);
        assert!(r.html.contains("<table>") && r.html.contains("<th style=\"text-align: right\">"), "{}", r.html);
        assert!(r.html.contains("<div class=\"table-wrap\">"));
        assert!(r.html.contains("<del>fail</del>"));
        assert!(r.html.contains("footnote-definition"));
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    #[test]
    fn figures_are_inlined_with_math_captions() {
        let r = render(SAMPLE);
        let h = &r.html;
        assert!(h.contains("<figure id=\"fig-demo-fig\" class=\"figure\">\n<svg width=\"640\""), "{h}");
        assert!(!h.contains("<?xml"), "prolog stripped");
        assert!(h.contains("style=\"max-width:100%;height:auto\""));
        assert!(h.contains("<figcaption>Figure 1: gradient ratio against depth <math display=\"inline\">"), "{h}");
        assert!(h.contains("aria-label=\"Figure 1: gradient ratio against depth L, with \\sigma_w = 1.\""), "{h}");
        assert!(!h.contains("<p><figure"), "figure must not sit inside <p>");
        // A figure inside running text closes the paragraph around it.
        let r = render("Text ![Figure 2: x](figures/demo-fig.svg) more.");
        assert!(r.html.contains("<p>Text </p><figure"), "{}", r.html);
    }

    #[test]
    fn unknown_figures_and_external_images_are_errors() {
        let e = markdown_to_html("![Figure 9](figures/nope.svg)", &figs).unwrap_err();
        assert_eq!(e, MarkdownError::UnknownFigure { name: "nope".into() });
        assert!(e.to_string().contains("nope"));
        let e = markdown_to_html("![x](https://example.org/a.png)", &figs).unwrap_err();
        assert!(matches!(e, MarkdownError::ExternalImage { .. }));
        let e = markdown_to_html("<script>alert(1)</script>", &figs).unwrap_err();
        assert!(matches!(e, MarkdownError::ExternalReference { .. }));
        let bad_svg = |_: &str| Some("<div>not svg</div>".to_string());
        let e = markdown_to_html("![c](figures/a.svg)", &bad_svg).unwrap_err();
        assert!(matches!(e, MarkdownError::InvalidSvg { .. }));
        let ext_svg = |_: &str| Some("<svg><image href=\"http://x/y.png\"/></svg>".to_string());
        let e = markdown_to_html("![c](figures/a.svg)", &ext_svg).unwrap_err();
        assert!(matches!(e, MarkdownError::ExternalReference { .. }), "{e:?}");
    }

    #[test]
    fn headings_get_unique_ids_and_are_listed() {
        let r = render(SAMPLE);
        let ids: Vec<&str> = r.headings.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, ["mean-field-residual-networks", "1-introduction", "11-table", "1-introduction-1"]);
        assert_eq!(r.headings[1].level, 2);
        assert_eq!(r.headings[2].text, "1.1 Table");
        assert!(r.html.contains("<h2 id=\"1-introduction-1\">"), "{}", r.html);
        let r = render("## Custom {#my-id}\n\n## My id\n\n### The $\\chi_1$ map");
        assert_eq!(r.headings[0].id, "my-id");
        assert_eq!(r.headings[1].id, "my-id-1");
        assert_eq!(r.headings[2].id, "the-chi_1-map");
        assert!(r.headings[2].html.contains("<math"), "{}", r.headings[2].html);
    }

    #[test]
    fn output_is_self_contained() {
        let r = render(SAMPLE);
        for needle in ["http://", "https://", "src=", "<script", "<link", "url("] {
            assert!(!r.html.contains(needle), "found {needle} in output");
        }
        for needle in ["http://", "https://", "src=", "url(", "@import"] {
            assert!(!STYLE.contains(needle), "found {needle} in STYLE");
        }
        assert!(external_references(&r.html).is_empty());
        assert!(!external_references("<img src=\"a.png\">").is_empty());
        assert!(!external_references("<img\nalt=x\tsrc='https://x/a.png'>").is_empty());
        assert!(!external_references("<p style=\"background: url(http://x/a.png)\">").is_empty());
        assert!(!external_references("<style>@import 'x.css';</style>").is_empty());
        assert!(!external_references("<LINK rel=stylesheet href=x.css>").is_empty());
        assert!(external_references("<img src=\"data:image/png;base64,AAAA\">").is_empty());
        assert!(external_references("<img src=\"\" alt=\"x\"><use href=\"#a\"/><p style=\"fill:url(#g)\">").is_empty());
        // Text content (escaped) and hyperlinks load nothing.
        assert!(external_references("<p>write src=\"x\" or url(y) here</p><a href=\"https://arxiv.org\">paper</a>")
            .is_empty());
        // An inline data: image passes through as an <img>.
        let r = render("![dot](data:image/png;base64,AAAA)");
        assert!(r.html.contains("<img src=\"data:image/png;base64,AAAA\" alt=\"dot\""), "{}", r.html);
    }

    #[test]
    fn real_figure_from_figures_module_inlines() {
        let svg = crate::plot::LinePlot::new("t", "depth", "ratio")
            .series(crate::plot::Series::new("a", vec![(1.0, 2.0), (2.0, 3.0)]))
            .render()
            .unwrap();
        let r = markdown_to_html("![Figure 1: real](figures/f.svg)", &|_| Some(svg.clone())).unwrap();
        assert!(r.html.contains("<figure") && r.html.contains("depth\n</text>"), "{}", r.html);
        assert!(external_references(&r.html).is_empty());
        assert!(!r.html.contains("http://"));
    }

    /// Renders a demo page with real figures (always) and writes it to `$EOC_HTML_DIR/demo.html`
    /// when that variable is set, for looking at it in a browser.
    #[test]
    fn demo_page() {
        use crate::plot::{ContourSet, Heatmap, LinePlot, MarkerShape, Series, SeriesStyle};
        let xs: Vec<f64> = (1..=40).map(|i| i as f64 * 5.0).collect();
        let line = LinePlot::new("", "depth L", "gradient ratio")
            .log_y()
            .series(Series::new("tanh", xs.iter().map(|&l| (l, (l / 50.0).exp())).collect()))
            .series(Series::new("ReLU", xs.iter().map(|&l| (l, l.sqrt())).collect()).style(SeriesStyle::Dashed))
            .render()
            .unwrap();
        let gx: Vec<f64> = (0..25).map(|i| 0.5 + 0.1 * i as f64).collect();
        let gy: Vec<f64> = (0..20).map(|j| 0.05 * j as f64).collect();
        let field: Vec<Vec<f64>> = gy.iter().map(|&b| gx.iter().map(|&w| w * w * (1.0 - 0.3 * b)).collect()).collect();
        let heat = Heatmap::new(
            "",
            "σ_w²",
            "σ_b²",
            gx.clone(),
            gy.clone(),
            field.iter().map(|r| r.iter().map(|v| Some(1.0 - (v - 1.0).abs())).collect()).collect(),
        )
        .colorbar("accuracy")
        .contour(ContourSet {
            label: "χ₁ = 1".into(),
            x: gx,
            y: gy,
            values: field,
            levels: vec![1.0],
            ..Default::default()
        })
        .marker(1.0, 0.0, "He", MarkerShape::Triangle)
        .render()
        .unwrap();
        let md = format!(
            "{SAMPLE}\n## 2 Aligned\n\n$$\\begin{{aligned}} \\chi_1 &= \\sigma_w^2 \\,\\mathbb{{E}}[\\phi'(z)^2] \\\\ &< 1 \\end{{aligned}}$$\n\n![Figure 2: a line plot, $\\chi_1 < 1$.](figures/line.svg)\n\n![Figure 3: a heatmap.](figures/heat.svg)\n\nVerdict: <span class=\"pass\">pass</span>, <span class=\"fail\">fail</span>.\n"
        );
        let r = markdown_to_html(&md, &|n| match n {
            "line" => Some(line.clone()),
            "heat" => Some(heat.clone()),
            _ => figs(n),
        })
        .unwrap();
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        assert!(external_references(&r.html).is_empty());
        if let Ok(dir) = std::env::var("EOC_HTML_DIR") {
            let toc: String =
                r.headings.iter().map(|h| format!("<li><a href=\"#{}\">{}</a></li>", h.id, h.html)).collect();
            let page = format!(
                "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>demo</title><style>{STYLE}</style></head><body><nav class=\"toc\"><ol>{toc}</ol></nav>{}</body></html>",
                r.html
            );
            std::fs::write(format!("{dir}/demo.html"), page).unwrap();
        }
    }
}
