//! Assembles the report: the Markdown template (with every chapter's template) is rendered from
//! the stages' artifacts, then converted to a self-contained HTML page; figures and data tables
//! are written beside it.

use super::ledger::ClaimView;
use super::outdir::{OutDirError, Staging};
use super::{export, format, markdown};
use crate::pipeline::{Claim, ClaimStatus, Figure, Progress, StageRecord, Verbosity};
use minijinja::{context, Environment, Error as TplError, ErrorKind, Value as TplValue};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Error while rendering or writing the report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("template error: {0:#}")]
    Template(#[from] TplError),
    #[error("markdown conversion failed: {0}")]
    Markdown(#[from] markdown::MarkdownError),
    #[error(transparent)]
    Write(#[from] OutDirError),
    #[error("cannot serialize {what}: {source}")]
    Serialize { what: String, source: serde_json::Error },
    #[error("figure name '{0}' is used by two stages")]
    DuplicateFigure(String),
}

/// The report's own templates, compiled into the binary so it renders from any working directory
/// (each chapter's template comes with its stage, see [`crate::pipeline::Chapter`]).
const TEMPLATES: &[(&str, &str)] = &[
    ("report.md.j2", include_str!("../../templates/report.md.j2")),
    ("layout.html.j2", include_str!("../../templates/layout.html.j2")),
    ("toc.html.j2", include_str!("../../templates/toc.html.j2")),
];

/// Facts about the run, for the appendix "Reproducibility".
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    pub program_version: String,
    pub git_commit: Option<String>,
    pub profile: String,
    pub profile_description: String,
    pub threads: usize,
    pub generated_at: String,
}

impl RunInfo {
    pub fn collect(profile: &str, profile_description: &str, threads: usize) -> Self {
        Self {
            program_version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: git_commit(),
            profile: profile.to_string(),
            profile_description: profile_description.to_string(),
            threads,
            generated_at: utc_now(),
        }
    }
}

/// The commit the program was built from, recorded by `build.rs` (no repository is touched at
/// run time): the first 12 hex digits of `HEAD`, with " (with uncommitted changes)" if the tree
/// differed from it; `None` when it was not built from a git checkout.
pub fn git_commit() -> Option<String> {
    let commit = option_env!("EOC_GIT_COMMIT").filter(|c| !c.is_empty())?;
    let short = commit.get(..12).unwrap_or(commit);
    Some(if option_env!("EOC_GIT_DIRTY") == Some("1") {
        format!("{short} (with uncommitted changes)")
    } else {
        short.to_string()
    })
}

/// The current time as `YYYY-MM-DD hh:mm:ss UTC`.
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = (secs / 86400, secs % 86400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days as i64 + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// What a render produced.
#[derive(Debug)]
pub struct Rendered {
    pub markdown: String,
    pub html: String,
    pub figures: Vec<Figure>,
    pub files: Vec<PathBuf>,
    /// Non-fatal problems found while converting (e.g. LaTeX that did not parse).
    pub warnings: Vec<String>,
}

#[derive(Default)]
struct FigureNumbers {
    order: Vec<String>,
}

impl FigureNumbers {
    fn number(&mut self, name: &str) -> usize {
        if let Some(i) = self.order.iter().position(|n| n == name) {
            i + 1
        } else {
            self.order.push(name.to_string());
            self.order.len()
        }
    }
}

fn f64_arg(v: &TplValue, filter: &str) -> Result<Option<f64>, TplError> {
    if v.is_none() || v.is_undefined() {
        return Ok(None);
    }
    f64::try_from(v.clone())
        .map(Some)
        .map_err(|_| TplError::new(ErrorKind::InvalidOperation, format!("filter '{filter}' needs a number, got {v}")))
}

fn dash() -> String {
    "—".to_string()
}

/// The template environment with the report's filters and functions.
fn environment(
    records: &[StageRecord],
    figures: Arc<BTreeMap<String, Figure>>,
    numbers: Arc<Mutex<FigureNumbers>>,
) -> Result<Environment<'static>, TplError> {
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    for (name, src) in TEMPLATES {
        env.add_template(name, src)?;
    }
    for r in records {
        if let Some(ch) = &r.chapter {
            env.add_template_owned(format!("chapters/{}.md.j2", r.name), ch.template)?;
        }
    }
    env.add_filter("sci", |v: TplValue, digits: Option<usize>| -> Result<String, TplError> {
        Ok(f64_arg(&v, "sci")?.map_or_else(dash, |x| format::sci(x, digits.unwrap_or(3))))
    });
    env.add_filter("texsci", |v: TplValue, digits: Option<usize>| -> Result<String, TplError> {
        Ok(f64_arg(&v, "texsci")?.map_or_else(|| "\\text{—}".into(), |x| format::tex_sci(x, digits.unwrap_or(3))))
    });
    env.add_filter("num", |v: TplValue, digits: Option<usize>| -> Result<String, TplError> {
        Ok(f64_arg(&v, "num")?.map_or_else(dash, |x| format::num(x, digits.unwrap_or(4))))
    });
    env.add_filter("pct", |v: TplValue, decimals: Option<usize>| -> Result<String, TplError> {
        Ok(f64_arg(&v, "pct")?.map_or_else(dash, |x| format::pct(x, decimals.unwrap_or(1))))
    });
    env.add_filter("cell", |v: String| -> String {
        // Inside a Markdown table cell a `|` ends the cell, even within math: escape it.
        v.replace('|', "\\|").replace(['\n', '\r'], " ")
    });
    env.add_filter("text", |v: String| -> String {
        // Plain text from the data (a message, a path) put into the Markdown: a `$` would start math
        // on a code host (`$EOC_TORCH_PYTHON`), `*`, `_` and backticks would start emphasis or code.
        escape_markdown_text(&v)
    });
    env.add_filter("arch_label", |v: String| -> String { arch_label(&v).to_string() });
    env.add_filter("act_label", |v: String| -> String { act_label(&v).to_string() });
    env.add_filter("passfail", |v: TplValue| -> String {
        if v.is_true() {
            "pass".into()
        } else {
            "**fail**".into()
        }
    });
    let (f1, n1) = (figures.clone(), numbers.clone());
    env.add_function("figure", move |name: String| -> Result<String, TplError> {
        let fig = f1.get(&name).ok_or_else(|| {
            TplError::new(ErrorKind::InvalidOperation, format!("no figure named '{name}' in any artifact"))
        })?;
        let n = n1.lock().unwrap_or_else(|e| e.into_inner()).number(&name);
        let caption = fig.caption.replace(['\n', '[', ']'], " ");
        Ok(format!("\n![Figure {n}: {caption}](figures/{name}.svg)\n"))
    });
    let (f2, n2) = (figures, numbers);
    env.add_function("figref", move |name: String| -> Result<String, TplError> {
        if !f2.contains_key(&name) {
            return Err(TplError::new(
                ErrorKind::InvalidOperation,
                format!("no figure named '{name}' in any artifact"),
            ));
        }
        Ok(format!("Figure {}", n2.lock().unwrap_or_else(|e| e.into_inner()).number(&name)))
    });
    Ok(env)
}

#[derive(Serialize)]
struct ChapterCtx {
    name: String,
    title: &'static str,
    number: usize,
    built: bool,
}

#[derive(Serialize)]
struct StageCtx {
    name: String,
    key: String,
    cached: bool,
    seconds: f64,
    jobs: usize,
}

/// Every claim of every chapter's artifact, in chapter (pipeline) order.
pub fn gather_claims(records: &[StageRecord]) -> Vec<Claim> {
    records.iter().filter(|r| r.chapter.is_some()).flat_map(|r| r.artifact.claims.iter().cloned()).collect()
}

/// Renders the Markdown and HTML of the report from the stage records.
pub fn render(records: &[StageRecord], info: &RunInfo) -> Result<Rendered, ReportError> {
    let mut figs: BTreeMap<String, Figure> = BTreeMap::new();
    for r in records {
        for f in &r.artifact.figures {
            if figs.insert(f.name.clone(), f.clone()).is_some() {
                return Err(ReportError::DuplicateFigure(f.name.clone()));
            }
        }
    }
    let figs = Arc::new(figs);
    let numbers = Arc::new(Mutex::new(FigureNumbers::default()));
    let env = environment(records, figs.clone(), numbers.clone())?;

    let chapters: Vec<ChapterCtx> = records
        .iter()
        .filter_map(|r| r.chapter.map(|ch| (r, ch)))
        .enumerate()
        .map(|(i, (r, ch))| ChapterCtx { name: r.name.clone(), title: ch.title, number: i + 2, built: true })
        .collect();
    let stages: BTreeMap<&str, &serde_json::Value> =
        records.iter().map(|r| (r.name.as_str(), &r.artifact.summary)).collect();
    let stage_info: Vec<StageCtx> = records
        .iter()
        .map(|r| StageCtx {
            name: r.name.clone(),
            key: r.key.clone(),
            cached: r.cached,
            seconds: r.seconds,
            jobs: r.jobs,
        })
        .collect();
    let claims = gather_claims(records);
    let count = |s: ClaimStatus| claims.iter().filter(|c| c.status == s).count();
    let claim_counts = context! {
        total => claims.len(),
        reproduced => count(ClaimStatus::Reproduced),
        not_reproduced => count(ClaimStatus::NotReproduced),
        inconclusive => count(ClaimStatus::Inconclusive),
        not_tested => count(ClaimStatus::NotTested),
    };
    let claim_views: Vec<ClaimView> = claims
        .iter()
        .map(|c| ClaimView::new(c, |stage| chapters.iter().find(|ch| ch.name == stage).map(|ch| ch.number)))
        .collect();
    let ledger_number = chapters.iter().map(|c| c.number).max().unwrap_or(1) + 1;
    let ctx = context! {
        profile => context! { name => info.profile, description => info.profile_description },
        info => info,
        chapters => chapters,
        stages => stages,
        stage_info => stage_info,
        claims => claim_views,
        claim_counts => claim_counts,
        ledger_number => ledger_number,
    };
    let md = env.get_template("report.md.j2")?.render(&ctx)?;
    let md = tidy_blank_lines(&md);
    let used: Vec<String> = numbers.lock().unwrap_or_else(|e| e.into_inner()).order.clone();
    let lookup = |name: &str| figs.get(name).map(|f| f.svg.clone());
    let converted = markdown::markdown_to_html(&md, &lookup)?;
    let toc = toc_tree(&converted.headings);
    // The table of contents goes after the title and the abstract, before the first section.
    let toc_html = env.get_template("toc.html.j2")?.render(context! { toc => toc })?;
    let body = match converted.html.find("<h2") {
        Some(i) => format!("{}{}{}", &converted.html[..i], toc_html, &converted.html[i..]),
        None => converted.html.clone(),
    };
    let html = env.get_template("layout.html.j2")?.render(context! {
        title => "Mean Field Residual Networks: On the Edge of Chaos — a reproduction",
        style => markdown::STYLE,
        body => body,
        info => info,
    })?;
    let figures: Vec<Figure> = used.iter().filter_map(|n| figs.get(n).cloned()).collect();
    let mut warnings = converted.warnings;
    for f in &figures {
        if let Some(px) = markdown::min_text_px(&f.svg, markdown::FIGURE_COLUMN_PX) {
            if px < markdown::MIN_FIGURE_TEXT_PX {
                warnings.push(format!(
                    "figure '{}' shows text at {px:.1} px in a {} px column (at least {} px wanted)",
                    f.name,
                    markdown::FIGURE_COLUMN_PX,
                    markdown::MIN_FIGURE_TEXT_PX
                ));
            }
        }
    }
    Ok(Rendered { markdown: md, html, figures, files: Vec::new(), warnings })
}

/// A section of the table of contents with its subsections.
#[derive(Debug, Serialize, PartialEq)]
struct TocEntry {
    html: String,
    id: String,
    children: Vec<TocEntry>,
}

/// Sections (`##`) with their subsections (`###`) nested under them; a subsection before the first
/// section is listed as a section.
fn toc_tree(headings: &[markdown::Heading]) -> Vec<TocEntry> {
    let mut toc: Vec<TocEntry> = Vec::new();
    for h in headings.iter().filter(|h| (2..=3).contains(&h.level)) {
        let entry = TocEntry { html: h.html.clone(), id: h.id.clone(), children: Vec::new() };
        match toc.last_mut() {
            Some(parent) if h.level == 3 => parent.children.push(entry),
            _ => toc.push(entry),
        }
    }
    toc
}

/// Display name of an architecture's data value (`full` -> "FRN", `reduced` -> "RRN"); other
/// values unchanged.
pub fn arch_label(v: &str) -> &str {
    match v {
        "full" => "FRN",
        "reduced" => "RRN",
        other => other,
    }
}

/// Display name of an activation's data value (`relu` -> "ReLU", `alpha-relu` -> "α-ReLU",
/// `gelu` -> "GELU"); other values unchanged.
pub fn act_label(v: &str) -> &str {
    match v {
        "relu" => "ReLU",
        "alpha-relu" => "α-ReLU",
        "gelu" => "GELU",
        other => other,
    }
}

/// Plain text as Markdown that shows it literally: an environment variable `$NAME` becomes the code
/// span `` `$NAME` `` (code, and no code host starts math at its `$`); `\\`, `$`, `*`, `_` and
/// `` ` `` elsewhere are backslash-escaped.
pub fn escape_markdown_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '$' {
            let name_len = s[i + 1..]
                .char_indices()
                .take_while(|(k, ch)| ch.is_ascii_alphanumeric() && !(*k == 0 && ch.is_ascii_digit()) || *ch == '_')
                .count();
            if name_len > 0 {
                out.push('`');
                out.push_str(&s[i..i + 1 + name_len]);
                out.push('`');
                for _ in 0..name_len {
                    chars.next();
                }
                continue;
            }
        }
        if matches!(c, '\\' | '$' | '*' | '_' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Collapses runs of more than two blank lines left by template control blocks.
fn tidy_blank_lines(md: &str) -> String {
    let mut out = String::with_capacity(md.len());
    let mut blanks = 0;
    for line in md.lines() {
        if line.trim().is_empty() {
            blanks += 1;
            if blanks > 1 {
                continue;
            }
        } else {
            blanks = 0;
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Renders and writes `index.html`, `report.md`, `figures/*.svg`, `data/*.json|csv` into `out`
/// (see [`write_report_with`]), printing a message on stderr if it has to wait for the lock.
pub fn write_report(records: &[StageRecord], info: &RunInfo, out: &Path) -> Result<Rendered, ReportError> {
    write_report_with(records, info, out, &Progress::new(Verbosity::Normal))
}

/// Renders the report, then writes it as a unit: into a fresh directory beside `out`, swapped in
/// for `out` when complete (see [`super::outdir`]), under `out`'s lock. `out` is always either
/// the complete old report or the complete new one; no file of an older report stays.
pub fn write_report_with(
    records: &[StageRecord],
    info: &RunInfo,
    out: &Path,
    progress: &Progress,
) -> Result<Rendered, ReportError> {
    let mut rendered = render(records, info)?;
    let staging = Staging::begin(out, progress)?;
    let mut files = Vec::new();
    let mut put = |rel: String, content: &[u8]| -> Result<(), ReportError> {
        files.push(staging.put(&rel, content)?);
        Ok(())
    };
    put("index.html".into(), rendered.html.as_bytes())?;
    put("report.md".into(), rendered.markdown.as_bytes())?;
    for r in records {
        for f in &r.artifact.figures {
            put(format!("figures/{}.svg", f.name), f.svg.as_bytes())?;
        }
        for t in &r.artifact.tables {
            put(
                format!("data/{}.json", t.name),
                pretty(&format!("table {}", t.name), &export::table_json(t))?.as_bytes(),
            )?;
            put(format!("data/{}.csv", t.name), export::table_csv(t).as_bytes())?;
        }
    }
    let claims = gather_claims(records);
    put("data/claims.json".into(), pretty("the claims", &claims)?.as_bytes())?;
    let repro = serde_json::json!({
        "info": info,
        "stages": records.iter().map(|r| serde_json::json!({
            "stage": r.name, "version": r.version, "key": r.key, "cached": r.cached,
            "seconds": r.seconds, "threads": r.jobs,
        })).collect::<Vec<_>>(),
    });
    put("data/reproducibility.json".into(), pretty("the run facts", &repro)?.as_bytes())?;
    staging.commit()?;
    rendered.files = files;
    Ok(rendered)
}

/// Pretty-printed JSON of a data file.
fn pretty<T: Serialize + ?Sized>(what: &str, v: &T) -> Result<String, ReportError> {
    serde_json::to_string_pretty(v).map_err(|source| ReportError::Serialize { what: what.to_string(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_with_dollars_stays_text() {
        let note = "no Python found ($EOC_TORCH_PYTHON, .venv-torch/bin/python, python3); costs $5 *or* a_b";
        let esc = escape_markdown_text(note);
        assert_eq!(
            esc,
            r"no Python found (`$EOC_TORCH_PYTHON`, .venv-torch/bin/python, python3); costs \$5 \*or\* a\_b"
        );
        let html = markdown::markdown_to_html(&esc, &|_| None).unwrap().html;
        assert!(!html.contains("<math") && !html.contains("<em>"), "{html}");
        assert!(
            html.contains("(<code>$EOC_TORCH_PYTHON</code>, .venv-torch/bin/python, python3); costs $5 *or* a_b"),
            "{html}"
        );
        // Unescaped, the same text would have started math: the test can fail.
        assert!(markdown::markdown_to_html("a $EOC b$ c", &|_| None).unwrap().html.contains("<math"));
    }

    #[test]
    fn claims_summary_links_to_the_ledger_and_contents_follow_the_abstract() {
        use crate::pipeline::{Artifact, Chapter, StageRecord};
        let claim = |id: &str, status| Claim {
            id: id.into(),
            chapter: "demo".into(),
            claim: format!("Claim {id} holds: with detail $x^2$."),
            criterion: "$|x| \\le 1$".into(),
            measured: "3 of 4 pass; worst $x = 2$; third".into(),
            status,
        };
        let artifact = Artifact {
            summary: serde_json::json!({}),
            tables: vec![],
            figures: vec![],
            claims: vec![claim("C9a", ClaimStatus::NotReproduced), claim("C9b", ClaimStatus::Inconclusive)],
        };
        let record = StageRecord {
            name: "demo".into(),
            version: 1,
            key: "k".into(),
            cached: false,
            seconds: 0.0,
            jobs: 1,
            artifact: Arc::new(artifact),
            chapter: Some(Chapter { title: "Demo", template: "## 2 Demo\n\nSee [C9a](#claim-c9a).\n" }),
        };
        let info = RunInfo {
            program_version: "test".into(),
            git_commit: None,
            profile: "quick".into(),
            profile_description: String::new(),
            threads: 1,
            generated_at: String::new(),
        };
        let r = render(&[record], &info).unwrap();
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        let md = &r.markdown;
        assert!(md.contains("| [C9a](#claim-c9a) | Claim C9a holds | 2 | <span class=\"status status-not_reproduced\">not reproduced</span> | 3 of 4 pass |"), "{md}");
        assert!(md.contains("<span class=\"status status-inconclusive\">inconclusive</span>"), "{md}");
        assert!(md.contains("## 3 The claims ledger") && md.contains("#### Claim C9b"), "{md}");
        assert!(md.contains("- worst $x = 2$\n"), "the measurements are listed one per line: {md}");
        let h = &r.html;
        // Every in-page link has its target.
        let mut from = 0;
        let mut links = 0;
        while let Some(p) = h[from..].find("href=\"#") {
            let start = from + p + 7;
            let id = &h[start..start + h[start..].find('"').unwrap()];
            assert!(h.contains(&format!("id=\"{id}\"")), "no element with id {id}");
            links += 1;
            from = start;
        }
        assert!(links >= 6, "{links} links");
        // Title, abstract, contents, then the first section.
        let (abs, toc, first) =
            (h.find("Abstract.").unwrap(), h.find("<nav class=\"toc\"").unwrap(), h.find("<h2").unwrap());
        assert!(abs < toc && toc < first, "{abs} {toc} {first}");
        assert!(h.contains("<ol class=\"toc-subsections\">") || !h.contains("<h3"));
    }

    #[test]
    fn contents_nest_subsections_under_sections() {
        let h = |level, id: &str| markdown::Heading { level, text: id.into(), html: id.into(), id: id.into() };
        let toc = toc_tree(&[h(1, "title"), h(3, "early"), h(2, "a"), h(3, "a1"), h(4, "deep"), h(3, "a2"), h(2, "b")]);
        let shape: Vec<(String, Vec<String>)> =
            toc.iter().map(|e| (e.id.clone(), e.children.iter().map(|c| c.id.clone()).collect())).collect();
        let want = [("early", vec![]), ("a", vec!["a1", "a2"]), ("b", vec![])];
        assert_eq!(
            shape,
            want.iter().map(|(p, c)| (p.to_string(), c.iter().map(|s| s.to_string()).collect())).collect::<Vec<_>>()
        );
    }
}
