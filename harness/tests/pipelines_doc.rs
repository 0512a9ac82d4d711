//! Lints the pipeline examples in `docs/pipelines.md`: people copy them, so what they
//! get wrong becomes a leaked token or candidate code with root.
//!
//! No YAML parser is in the lock file, so this file carries one for the subset the
//! examples use (block mappings and sequences, `|` block scalars, plain and quoted
//! scalars, one-line flow sequences and mappings, comments); anything else fails the
//! test, so the examples stay in a subset that is checked. Every scalar is a string.
//!
//! GitHub Actions workflows: every `actions/checkout` has `persist-credentials: false`;
//! nothing says `sudo`; read-only `permissions`; a batch job checks the grader and the
//! submissions out side by side (neither inside the other), grades submissions outside
//! the grader's checkout into a directory outside it, only restores caches, and its
//! `--shard I/N` matches its matrix; the Classroom workflow (which the candidate can
//! edit) holds no secrets and follows the reporter's rules. Kubernetes Jobs: Indexed,
//! `--shard $(INDEX)/N` with N the completion count and the index from the Job's
//! annotation, no service-account token, submissions mounted read-only, both paths
//! outside the grader's directory, not privileged.

use std::collections::BTreeMap;

// ------------------------------------------------------------------ YAML subset

#[derive(Debug, Clone, PartialEq)]
enum Yaml {
    Str(String),
    Seq(Vec<Yaml>),
    Map(BTreeMap<String, Yaml>),
}

impl Yaml {
    fn get(&self, key: &str) -> Option<&Yaml> {
        match self {
            Yaml::Map(m) => m.get(key),
            _ => None,
        }
    }

    fn str(&self) -> Option<&str> {
        match self {
            Yaml::Str(s) => Some(s),
            _ => None,
        }
    }

    fn at(&self, path: &[&str]) -> Option<&Yaml> {
        path.iter().try_fold(self, |node, key| node.get(key))
    }

    fn str_at(&self, path: &[&str]) -> Option<&str> {
        self.at(path).and_then(Yaml::str)
    }

    fn seq(&self) -> &[Yaml] {
        match self {
            Yaml::Seq(items) => items,
            _ => &[],
        }
    }

    fn map(&self) -> Vec<(&str, &Yaml)> {
        match self {
            Yaml::Map(m) => m.iter().map(|(k, v)| (k.as_str(), v)).collect(),
            _ => Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
struct Line {
    indent: usize,
    text: String,
    no: usize,
}

fn parse_yaml(text: &str) -> Result<Yaml, String> {
    let mut lines = Vec::new();
    for (no, raw) in text.lines().enumerate() {
        if raw.contains('\t') {
            return Err(format!("line {}: a tab", no + 1));
        }
        let indent = raw.len() - raw.trim_start().len();
        lines.push(Line {
            indent,
            text: raw.trim().to_owned(),
            no: no + 1,
        });
    }
    let mut p = Parser { lines, i: 0 };
    p.skip_blank();
    let indent = p.peek().map_or(0, |l| l.indent);
    let node = p.node(indent)?;
    p.skip_blank();
    match p.peek() {
        Some(l) => Err(format!("line {}: unexpected `{}`", l.no, l.text)),
        None => Ok(node),
    }
}

struct Parser {
    lines: Vec<Line>,
    i: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Line> {
        self.lines.get(self.i)
    }

    /// Skips blank and comment-only lines (outside block scalars).
    fn skip_blank(&mut self) {
        while self
            .peek()
            .is_some_and(|l| l.text.is_empty() || l.text.starts_with('#'))
        {
            self.i += 1;
        }
    }

    /// The node whose first line is at `indent`.
    fn node(&mut self, indent: usize) -> Result<Yaml, String> {
        self.skip_blank();
        let line = self.peek().ok_or("expected a node, found the end")?.clone();
        if line.indent != indent {
            return Err(format!("line {}: expected indent {indent}", line.no));
        }
        if line.text == "-" || line.text.starts_with("- ") {
            self.sequence(indent)
        } else if split_key(&strip_comment(&line.text)).is_some() {
            self.mapping(indent)
        } else {
            self.i += 1;
            inline(&strip_comment(&line.text)).map_err(|e| format!("line {}: {e}", line.no))
        }
    }

    fn sequence(&mut self, indent: usize) -> Result<Yaml, String> {
        let mut items = Vec::new();
        loop {
            self.skip_blank();
            let Some(line) = self.peek().cloned() else {
                break;
            };
            if line.indent != indent || !(line.text == "-" || line.text.starts_with("- ")) {
                break;
            }
            let rest = line.text[1..].trim_start().to_owned();
            if rest.is_empty() {
                self.i += 1;
                self.skip_blank();
                let inner = self
                    .peek()
                    .filter(|l| l.indent > indent)
                    .map(|l| l.indent)
                    .ok_or(format!("line {}: empty item", line.no))?;
                items.push(self.node(inner)?);
            } else {
                // The item's content continues at the column after "- ".
                let column = indent + (line.text.len() - rest.len());
                self.lines[self.i] = Line {
                    indent: column,
                    text: rest,
                    no: line.no,
                };
                items.push(self.node(column)?);
            }
        }
        Ok(Yaml::Seq(items))
    }

    fn mapping(&mut self, indent: usize) -> Result<Yaml, String> {
        let mut map = BTreeMap::new();
        loop {
            self.skip_blank();
            let Some(line) = self.peek().cloned() else {
                break;
            };
            if line.indent < indent {
                break;
            }
            if line.indent > indent {
                return Err(format!("line {}: unexpected indentation", line.no));
            }
            let text = strip_comment(&line.text);
            let Some((key, rest)) = split_key(&text) else {
                break;
            };
            self.i += 1;
            let value = if rest.is_empty() {
                self.skip_blank();
                match self.peek().cloned() {
                    Some(next) if next.indent > indent => self.node(next.indent)?,
                    // A sequence may sit at its key's own indentation.
                    Some(next) if next.indent == indent && next.text.starts_with("- ") => {
                        self.sequence(indent)?
                    }
                    _ => Yaml::Str(String::new()),
                }
            } else if rest == "|" || rest == "|-" {
                self.block_scalar(indent)
            } else if rest.starts_with('|') || rest.starts_with('>') {
                return Err(format!(
                    "line {}: unsupported block scalar `{rest}`",
                    line.no
                ));
            } else {
                inline(&rest).map_err(|e| format!("line {}: {e}", line.no))?
            };
            if map.insert(key.clone(), value).is_some() {
                return Err(format!("line {}: duplicate key `{key}`", line.no));
            }
        }
        Ok(Yaml::Map(map))
    }

    /// The lines of a `|` scalar: every following line indented deeper, or blank.
    fn block_scalar(&mut self, indent: usize) -> Yaml {
        let mut body = Vec::new();
        while let Some(line) = self.peek() {
            if !line.text.is_empty() && line.indent <= indent {
                break;
            }
            body.push(line.clone());
            self.i += 1;
        }
        while body.last().is_some_and(|l| l.text.is_empty()) {
            body.pop();
        }
        let common = body
            .iter()
            .filter(|l| !l.text.is_empty())
            .map(|l| l.indent)
            .min()
            .unwrap_or(0);
        let text: Vec<String> = body
            .iter()
            .map(|l| {
                if l.text.is_empty() {
                    String::new()
                } else {
                    format!("{}{}", " ".repeat(l.indent - common), l.text)
                }
            })
            .collect();
        Yaml::Str(text.join("\n"))
    }
}

/// `text` without a trailing comment: a `#` at the start or after a space, outside quotes.
fn strip_comment(text: &str) -> String {
    let (mut single, mut double) = (false, false);
    let mut prev = ' ';
    for (i, c) in text.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && prev == ' ' => return text[..i].trim_end().to_owned(),
            _ => {}
        }
        prev = c;
    }
    text.to_owned()
}

/// `key: value` or `key:` (key plain, value possibly empty), else None.
fn split_key(text: &str) -> Option<(String, String)> {
    if text.starts_with(['"', '\'', '[', '{']) {
        return None;
    }
    let (key, rest) = if let Some(key) = text.strip_suffix(':') {
        (key, "")
    } else {
        let at = text.find(": ")?;
        (&text[..at], &text[at + 2..])
    };
    if key.is_empty() || key.contains(' ') && !key.starts_with("${{") {
        return None;
    }
    Some((key.to_owned(), rest.trim().to_owned()))
}

/// A scalar or a one-line flow collection.
fn inline(text: &str) -> Result<Yaml, String> {
    let text = text.trim();
    if text.starts_with(['&', '*', '!', '%', '@', '`']) {
        return Err(format!("unsupported scalar `{text}`"));
    }
    if let Some(inner) = text.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or("unclosed [")?;
        if inner.contains(['[', '{']) {
            return Err("nested flow collections".into());
        }
        return inner
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(inline)
            .collect::<Result<_, _>>()
            .map(Yaml::Seq);
    }
    if let Some(inner) = text.strip_prefix('{') {
        let inner = inner.strip_suffix('}').ok_or("unclosed {")?;
        let mut map = BTreeMap::new();
        for entry in inner.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (k, v) = split_key(entry).ok_or(format!("bad flow entry `{entry}`"))?;
            map.insert(k, inline(&v)?);
        }
        return Ok(Yaml::Map(map));
    }
    if let Some(inner) = text.strip_prefix('"') {
        let inner = inner.strip_suffix('"').ok_or("unclosed \"")?;
        return Ok(Yaml::Str(inner.replace("\\\"", "\"").replace("\\\\", "\\")));
    }
    if let Some(inner) = text.strip_prefix('\'') {
        let inner = inner.strip_suffix('\'').ok_or("unclosed '")?;
        return Ok(Yaml::Str(inner.replace("''", "'")));
    }
    Ok(Yaml::Str(text.to_owned()))
}

// ------------------------------------------------------------------ the document

fn pipelines_doc() -> String {
    let path = harness::staging::Workspace::grader()
        .root
        .join("docs/pipelines.md");
    std::fs::read_to_string(path).unwrap()
}

/// The ```yaml blocks of a Markdown text.
fn yaml_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in markdown.lines() {
        match &mut current {
            None if line.trim_start().starts_with("```yaml") => current = Some(Vec::new()),
            None => {}
            Some(body) if line.trim_start().starts_with("```") => {
                blocks.push(body.join("\n"));
                current = None;
            }
            Some(body) => body.push(line),
        }
    }
    assert!(current.is_none(), "an unclosed ```yaml block");
    blocks
}

// ------------------------------------------------------------------ paths

/// `path` resolved against `base`, both relative to the workspace; None when it is
/// absolute or climbs out of the workspace.
fn resolve(base: &str, path: &str) -> Option<String> {
    if path.starts_with('/') || path.starts_with('$') || path.starts_with('~') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in base.split('/').chain(path.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

/// `inner` is `outer` or inside it (`outer` "" is the workspace: everything is inside).
fn inside(inner: &str, outer: &str) -> bool {
    outer.is_empty() || inner == outer || inner.starts_with(&format!("{outer}/"))
}

/// An absolute path inside another (Kubernetes paths are absolute).
fn inside_abs(inner: &str, outer: &str) -> bool {
    let outer = outer.trim_end_matches('/');
    outer.is_empty() || inner == outer || inner.starts_with(&format!("{outer}/"))
}

/// The harness invocations in a shell script: (subcommand, positional arguments,
/// option values by name).
fn harness_calls(script: &str) -> Vec<(String, Vec<String>, BTreeMap<String, String>)> {
    const VALUED: [&str; 10] = [
        "--out",
        "--shard",
        "--jobs",
        "--exercise",
        "--check",
        "--seed",
        "--format",
        "--ref",
        "--patch",
        "--timeout-mins",
    ];
    let mut calls = Vec::new();
    for line in script.lines() {
        let line = squeeze_expressions(line);
        let tokens: Vec<String> = line
            .split_whitespace()
            .take_while(|t| !["||", "&&", ";", "|"].contains(t))
            .map(|t| t.trim_matches('"').to_owned())
            .collect();
        let launches = tokens
            .iter()
            .position(|t| t.ends_with("/harness") || t == "harness" || t == "--");
        let Some(start) = launches else { continue };
        let Some(sub) = tokens.get(start + 1) else {
            continue;
        };
        if sub != "grade" && sub != "grade-batch" {
            continue;
        }
        let (mut positional, mut options) = (Vec::new(), BTreeMap::new());
        let mut rest = tokens[start + 2..].iter();
        while let Some(t) = rest.next() {
            if VALUED.contains(&t.as_str()) {
                options.insert(t.clone(), rest.next().cloned().unwrap_or_default());
            } else if t.starts_with("--") {
                options.insert(t.clone(), String::new());
            } else {
                positional.push(t.clone());
            }
        }
        calls.push((sub.clone(), positional, options));
    }
    calls
}

/// `${{ a.b }}` as one token, `${{a.b}}`.
fn squeeze_expressions(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find("${{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        out.extend(
            rest[start..start + len]
                .chars()
                .filter(|c| !c.is_whitespace()),
        );
        out.push_str("}}");
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

// ------------------------------------------------------------------ GitHub Actions

fn uses(step: &Yaml) -> &str {
    step.str_at(&["uses"]).unwrap_or("")
}

fn lint_workflow(block: &str, wf: &Yaml) -> Vec<String> {
    let mut problems = Vec::new();
    if block
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| w == "sudo")
    {
        problems.push("says `sudo`".to_owned());
    }
    match wf.get("permissions") {
        None => problems.push("no top-level `permissions`".to_owned()),
        Some(perms) => {
            for (scope, level) in perms.map() {
                if level.str() != Some("read") {
                    problems.push(format!("permission {scope}: {level:?}, not read"));
                }
            }
        }
    }
    let classroom = wf.str_at(&["name"]) == Some("Autograding Tests");
    for (job_name, job) in wf.get("jobs").map(Yaml::map).unwrap_or_default() {
        let steps = job.get("steps").map(Yaml::seq).unwrap_or_default();
        let mut grader: Option<String> = None;
        let mut others: Vec<String> = Vec::new();
        for step in steps {
            if !uses(step).starts_with("actions/checkout@") {
                continue;
            }
            if step.str_at(&["with", "persist-credentials"]) != Some("false") {
                problems.push(format!(
                    "{job_name}: a checkout without persist-credentials: false"
                ));
            }
            let path = step.str_at(&["with", "path"]).unwrap_or("");
            let Some(path) = resolve("", path) else {
                problems.push(format!(
                    "{job_name}: checkout path {path} leaves the workspace"
                ));
                continue;
            };
            if step.at(&["with", "repository"]).is_none() {
                grader = Some(path);
            } else {
                others.push(path);
            }
        }
        let runs: Vec<(&str, String)> = steps
            .iter()
            .filter_map(|s| {
                let script = s.str_at(&["run"])?;
                let dir = s.str_at(&["working-directory"]).unwrap_or("");
                Some((script, dir.to_owned()))
            })
            .collect();
        let batch_calls: Vec<_> = runs
            .iter()
            .flat_map(|(script, dir)| {
                harness_calls(script)
                    .into_iter()
                    .map(move |c| (dir.clone(), c))
            })
            .filter(|(_, (sub, _, _))| sub == "grade-batch")
            .collect();
        if batch_calls.is_empty() {
            continue;
        }
        // A job that runs candidate code.
        let Some(grader) = grader else {
            problems.push(format!(
                "{job_name}: grades without checking the grader out"
            ));
            continue;
        };
        if grader.is_empty() {
            problems.push(format!(
                "{job_name}: the grader is checked out at the workspace root, so every other checkout is inside it"
            ));
        }
        for other in &others {
            if inside(other, &grader) || inside(&grader, other) {
                problems.push(format!(
                    "{job_name}: checkout `{other}` and the grader's `{grader}` nest"
                ));
            }
        }
        for step in steps {
            if uses(step).starts_with("actions/cache@") {
                problems.push(format!(
                    "{job_name}: saves a cache after running candidate code (use actions/cache/restore)"
                ));
            }
        }
        let matrix = job
            .at(&["strategy", "matrix", "shard"])
            .map(|s| s.seq().len());
        for (dir, (_, positional, options)) in batch_calls {
            let input = positional.first().map(String::as_str).unwrap_or("");
            match resolve(&dir, input) {
                Some(p) if !inside(&p, &grader) && others.contains(&p) => {}
                other => problems.push(format!(
                    "{job_name}: grades `{input}` (= {other:?}), not a checkout beside the grader's `{grader}`"
                )),
            }
            let out = options.get("--out").map(String::as_str).unwrap_or("");
            match resolve(&dir, out) {
                Some(p) if !inside(&p, &grader) && !p.is_empty() => {}
                other => problems.push(format!(
                    "{job_name}: --out `{out}` (= {other:?}) is not outside the grader's `{grader}`"
                )),
            }
            if let Some(shard) = options.get("--shard") {
                let count = shard
                    .rsplit_once('/')
                    .and_then(|(_, n)| n.parse::<usize>().ok());
                if count.is_none() || count != matrix {
                    problems.push(format!(
                        "{job_name}: --shard {shard} but a matrix of {matrix:?} shards"
                    ));
                }
            }
        }
    }
    if classroom {
        problems.extend(lint_classroom(block, wf));
    }
    problems
}

/// The Classroom workflow runs in the candidate's repository, which the candidate can
/// edit: no secrets; and the reporter's rules (one job `run-autograding-tests`; the
/// grading step's id in `runners` and in `<ID>_RESULTS`).
fn lint_classroom(block: &str, wf: &Yaml) -> Vec<String> {
    let mut problems = Vec::new();
    if block.contains("secrets.") || block.contains("token:") {
        problems.push("classroom: a workflow the candidate can edit holds a secret".to_owned());
    }
    let jobs = wf.get("jobs").map(Yaml::map).unwrap_or_default();
    if jobs.len() != 1 || jobs[0].0 != "run-autograding-tests" {
        problems.push("classroom: the reporter needs one job, run-autograding-tests".to_owned());
        return problems;
    }
    let steps = jobs[0].1.get("steps").map(Yaml::seq).unwrap_or_default();
    if steps
        .iter()
        .filter(|s| uses(s).starts_with("actions/checkout@"))
        .any(|s| s.at(&["with", "repository"]).is_some())
    {
        problems.push("classroom: checks out another repository (the grader?)".to_owned());
    }
    let grading: Vec<&Yaml> = steps
        .iter()
        .filter(|s| {
            s.str_at(&["run"]).is_some_and(|r| {
                harness_calls(r).iter().any(|(sub, _, o)| {
                    sub == "grade" && o.get("--format").map(String::as_str) == Some("classroom")
                })
            })
        })
        .collect();
    let Some(id) = grading.first().and_then(|s| s.str_at(&["id"])) else {
        return vec!["classroom: no step with an id runs grade --format classroom".into()];
    };
    let script = grading[0].str_at(&["run"]).unwrap_or("");
    if !script.contains("base64 -w0") || !script.contains("$GITHUB_OUTPUT") {
        problems.push("classroom: the result is not base64-encoded into a step output".into());
    }
    let Some(reporter) = steps
        .iter()
        .find(|s| uses(s).contains("autograding-grading-reporter@"))
    else {
        return vec!["classroom: no autograding-grading-reporter step".into()];
    };
    let runners = reporter.str_at(&["with", "runners"]).unwrap_or("");
    if !runners.split([',', ' ']).any(|r| r == id) {
        problems.push(format!("classroom: runners `{runners}` lacks `{id}`"));
    }
    let var = format!("{}_RESULTS", id.to_uppercase());
    let expected = format!("${{{{ steps.{id}.outputs.result }}}}");
    if reporter.str_at(&["env", &var]) != Some(expected.as_str()) {
        problems.push(format!("classroom: env {var} is not {expected}"));
    }
    problems
}

// ------------------------------------------------------------------ Kubernetes

fn lint_job(block: &str, job: &Yaml) -> Vec<String> {
    let mut problems = Vec::new();
    if block
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| w == "sudo")
    {
        problems.push("says `sudo`".to_owned());
    }
    if block.contains("privileged: true") {
        problems.push("a privileged container".to_owned());
    }
    if job.str_at(&["spec", "completionMode"]) != Some("Indexed") {
        problems.push("not an Indexed Job".to_owned());
    }
    let completions = job
        .str_at(&["spec", "completions"])
        .and_then(|n| n.parse::<usize>().ok());
    let pod = job
        .at(&["spec", "template", "spec"])
        .cloned()
        .unwrap_or(Yaml::Str(String::new()));
    if pod.str_at(&["automountServiceAccountToken"]) != Some("false") {
        problems.push("the service-account token is mounted".to_owned());
    }
    let volumes = pod.get("volumes").map(Yaml::seq).unwrap_or_default();
    for container in pod.get("containers").map(Yaml::seq).unwrap_or_default() {
        let name = container.str_at(&["name"]).unwrap_or("?");
        let grader = container.str_at(&["workingDir"]).unwrap_or("/");
        let args: Vec<String> = container
            .get("command")
            .into_iter()
            .chain(container.get("args"))
            .flat_map(Yaml::seq)
            .filter_map(|a| a.str().map(str::to_owned))
            .collect();
        let calls = harness_calls(&args.join(" "));
        let Some((sub, positional, options)) = calls.first() else {
            problems.push(format!("{name}: runs no harness grade-batch"));
            continue;
        };
        if sub != "grade-batch" {
            problems.push(format!("{name}: runs {sub}, not grade-batch"));
        }
        // The shard index: an env var from the Job's completion-index annotation.
        let index_vars: Vec<&str> = container
            .get("env")
            .map(Yaml::seq)
            .unwrap_or_default()
            .iter()
            .filter(|e| {
                e.str_at(&["valueFrom", "fieldRef", "fieldPath"])
                    == Some("metadata.annotations['batch.kubernetes.io/job-completion-index']")
            })
            .filter_map(|e| e.str_at(&["name"]))
            .chain(["JOB_COMPLETION_INDEX"])
            .collect();
        let shard = options.get("--shard").cloned().unwrap_or_default();
        let index_ok = index_vars
            .iter()
            .any(|v| shard.starts_with(&format!("$({v})/")));
        let count = shard
            .rsplit_once('/')
            .and_then(|(_, n)| n.parse::<usize>().ok());
        if !index_ok || count.is_none() || count != completions {
            problems.push(format!(
                "{name}: --shard `{shard}` is not $(INDEX)/{completions:?} with INDEX from the completion index"
            ));
        }
        if !options.contains_key("--resume") {
            problems.push(format!(
                "{name}: a retried index would start over (no --resume)"
            ));
        }
        let input = positional.first().cloned().unwrap_or_default();
        let out = options.get("--out").cloned().unwrap_or_default();
        for (what, path) in [("submissions", &input), ("--out", &out)] {
            if !path.starts_with('/') || inside_abs(path, grader) || inside_abs(grader, path) {
                problems.push(format!(
                    "{name}: {what} `{path}` is not outside the grader's `{grader}`"
                ));
            }
        }
        if !out.contains(&format!("$({})", index_vars[0])) {
            problems.push(format!(
                "{name}: shards share --out `{out}` (and its summary)"
            ));
        }
        let mounts = container
            .get("volumeMounts")
            .map(Yaml::seq)
            .unwrap_or_default();
        let Some(mount) = mounts.iter().find(|m| {
            m.str_at(&["mountPath"])
                .is_some_and(|p| inside_abs(&input, p))
        }) else {
            problems.push(format!("{name}: submissions `{input}` come from no volume"));
            continue;
        };
        let volume = mount.str_at(&["name"]).unwrap_or("");
        let claim_ro = volumes
            .iter()
            .find(|v| v.str_at(&["name"]) == Some(volume))
            .and_then(|v| v.str_at(&["persistentVolumeClaim", "readOnly"]));
        if mount.str_at(&["readOnly"]) != Some("true") || claim_ro == Some("false") {
            problems.push(format!("{name}: submissions are mounted writable"));
        }
    }
    problems
}

// ------------------------------------------------------------------ tests

/// Parses every ```yaml block of docs/pipelines.md: (text, document).
fn documents() -> Vec<(String, Yaml)> {
    yaml_blocks(&pipelines_doc())
        .into_iter()
        .map(|block| {
            let doc = parse_yaml(&block).unwrap_or_else(|e| panic!("{e}\n{block}"));
            (block, doc)
        })
        .collect()
}

#[test]
fn every_workflow_in_the_doc_passes_the_lint() {
    let docs = documents();
    let workflows: Vec<&(String, Yaml)> = docs
        .iter()
        .filter(|(_, d)| d.get("jobs").is_some())
        .collect();
    assert_eq!(workflows.len(), 2, "the batch and the Classroom workflows");
    for (block, wf) in &workflows {
        let problems = lint_workflow(block, wf);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
    let batch = &workflows
        .iter()
        .find(|(_, wf)| wf.str_at(&["name"]) == Some("grade-candidates"))
        .expect("the batch workflow")
        .1;
    // The lint saw what it checks: four checkouts of submissions beside the grader,
    // a graded matrix, and the Classroom reporter wired to the grading step.
    let checkouts = batch
        .get("jobs")
        .map(Yaml::map)
        .unwrap()
        .iter()
        .flat_map(|(_, j)| j.get("steps").map(Yaml::seq).unwrap_or_default())
        .filter(|s| uses(s).starts_with("actions/checkout@"))
        .count();
    assert_eq!(checkouts, 5);
    assert_eq!(
        batch
            .at(&["jobs", "grade", "strategy", "matrix", "shard"])
            .map(|s| s.seq().len()),
        Some(4)
    );
}

#[test]
fn the_kubernetes_job_in_the_doc_passes_the_lint() {
    let docs = documents();
    let jobs: Vec<&(String, Yaml)> = docs
        .iter()
        .filter(|(_, d)| d.str_at(&["kind"]) == Some("Job"))
        .collect();
    assert_eq!(jobs.len(), 1, "one Indexed Job example");
    for (block, job) in jobs {
        let problems = lint_job(block, job);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}

#[test]
fn every_yaml_block_is_a_workflow_or_a_job() {
    for (block, doc) in documents() {
        assert!(
            doc.get("jobs").is_some() || doc.str_at(&["kind"]) == Some("Job"),
            "a YAML block nobody lints:\n{block}"
        );
    }
}

/// The example as it was before issue 16: checkout credentials persisted, submissions
/// inside the grader's checkout, `sudo`, a cache saved after grading.
const OLD_WORKFLOW: &str = r#"name: grade-candidates
on: workflow_dispatch
jobs:
  grade:
    runs-on: ubuntu-latest
    strategy:
      fail-fast: false
      matrix:
        shard: [0, 1, 2, 3]
    steps:
      - uses: actions/checkout@v4            # the grader: this repository
      - uses: actions/checkout@v4            # the submissions, one per folder/archive
        with: { repository: acme/candidate-submissions, path: submissions, token: ${{ secrets.SUBMISSIONS_TOKEN }} }
      - uses: actions/cache@v4
        with: { path: target, key: harness-${{ hashFiles('Cargo.lock') }} }
      - run: cargo build --release -p harness
      # sudo: namespaces and the switch to `nobody` need root.
      - run: sudo ./target/release/harness grade-batch submissions --out results --shard ${{ matrix.shard }}/4 --jobs 2
"#;

#[test]
fn the_lint_catches_what_the_old_workflow_got_wrong() {
    let wf = parse_yaml(OLD_WORKFLOW).unwrap();
    let problems = lint_workflow(OLD_WORKFLOW, &wf).join("\n");
    for expected in [
        "says `sudo`",
        "no top-level `permissions`",
        "a checkout without persist-credentials: false",
        "at the workspace root",
        "saves a cache",
        "not a checkout beside the grader",
    ] {
        assert!(
            problems.contains(expected),
            "{expected} not caught:\n{problems}"
        );
    }
}

#[test]
fn the_lint_catches_a_job_that_shares_or_leaks() {
    let (block, _) = documents()
        .into_iter()
        .find(|(_, d)| d.str_at(&["kind"]) == Some("Job"))
        .unwrap();
    let broken = block
        .replace(
            "automountServiceAccountToken: false",
            "automountServiceAccountToken: true",
        )
        .replace("$(SHARD)/8", "$(SHARD)/4")
        .replace("- /results/shard-$(SHARD)", "- /grader/results")
        .replace(
            "              readOnly: true\n            - name: results",
            "            - name: results",
        )
        .replace("            - --resume\n", "");
    let job = parse_yaml(&broken).unwrap();
    let problems = lint_job(&broken, &job).join("\n");
    for expected in [
        "service-account token",
        "is not $(INDEX)/Some(8)",
        "--out `/grader/results` is not outside",
        "shards share --out",
        "no --resume",
        "mounted writable",
    ] {
        assert!(
            problems.contains(expected),
            "{expected} not caught:\n{problems}"
        );
    }
}

#[test]
fn the_yaml_subset_parses_what_it_claims_and_refuses_the_rest() {
    let doc = parse_yaml(
        "a: 1 # note\nb:\n  - x\n  - k: v\n    l: [1, 2]\nc: |\n  line one\n    two # kept\nd: { e: 'f''g', h: \"i\" }\ne:\n- same-indent\n",
    )
    .unwrap();
    assert_eq!(doc.str_at(&["a"]), Some("1"));
    assert_eq!(doc.get("b").unwrap().seq()[0], Yaml::Str("x".into()));
    assert_eq!(doc.get("b").unwrap().seq()[1].str_at(&["k"]), Some("v"));
    assert_eq!(
        doc.get("b").unwrap().seq()[1].get("l").unwrap().seq().len(),
        2
    );
    assert_eq!(doc.str_at(&["c"]), Some("line one\n  two # kept"));
    assert_eq!(doc.str_at(&["d", "e"]), Some("f'g"));
    assert_eq!(doc.str_at(&["d", "h"]), Some("i"));
    assert_eq!(doc.get("e").unwrap().seq().len(), 1);
    for bad in [
        "a: &anchor x",
        "a: >\n  folded",
        "a: 1\na: 2",
        "a:\n\tb: 1",
        "a: 1\n   b: 2",
    ] {
        assert!(parse_yaml(bad).is_err(), "accepted {bad:?}");
    }
    assert_eq!(
        resolve("grader", "../submissions").as_deref(),
        Some("submissions")
    );
    assert_eq!(resolve("grader", "../../x"), None);
    assert!(inside("grader/target", "grader") && !inside("grader2", "grader"));
    assert_eq!(
        harness_calls("./h/harness grade-batch ../s --shard ${{ matrix.shard }}/4 --resume || x")
            [0]
        .2
        .get("--shard")
        .map(String::as_str),
        Some("${{matrix.shard}}/4")
    );
}

#[test]
fn the_lint_catches_the_doc_workflow_gone_wrong() {
    let (block, _) = documents()
        .into_iter()
        .find(|(_, d)| d.str_at(&["name"]) == Some("grade-candidates"))
        .unwrap();
    let broken = block
        .replacen("persist-credentials: false", "persist-credentials: true", 1)
        .replace("path: submissions", "path: grader/submissions")
        .replace("run: ./target", "run: sudo ./target")
        .replace(
            "--shard ${{ matrix.shard }}/4",
            "--shard ${{ matrix.shard }}/3",
        )
        .replace("contents: read", "contents: write");
    let wf = parse_yaml(&broken).unwrap();
    let problems = lint_workflow(&broken, &wf).join("\n");
    for expected in [
        "build: a checkout without persist-credentials: false",
        "checkout `grader/submissions` and the grader's `grader` nest",
        "says `sudo`",
        "shards",
        "permission contents",
        "not a checkout beside the grader",
    ] {
        assert!(
            problems.contains(expected),
            "{expected} not caught:\n{problems}"
        );
    }
}
