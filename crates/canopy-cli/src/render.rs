//! The terminal live view: one progress bar per node path (or request) that reports progress,
//! log and status lines printed above the bars, and results printed for a person.
//!
//! The pure parts (a line for an event, a result as text) are plain functions so they can be
//! tested; [`LiveView`] only decides where the text goes. Bars and lines go to stderr; results
//! go to stdout, so `canopy call … > out.txt` keeps only the result.

use std::{collections::HashMap, fmt::Write as _, time::Duration};

use canopy_node::{Event, EventKind, NodeState, QuestionKind};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

/// Resolution of a bar with a known total (progress values may be fractional).
const BAR_STEPS: u64 = 1000;

/// Where the events of a call (or of a client's requests) are shown.
#[derive(Debug)]
pub(crate) struct LiveView {
    multi: MultiProgress,
    bars: HashMap<String, ProgressBar>,
    live: bool,
    /// How the root node is named in lines (the tree's name).
    root: String,
}

impl LiveView {
    /// A live view with bars when `live` (stderr is a terminal); plain lines on stderr
    /// otherwise.
    pub(crate) fn new(live: bool) -> Self {
        let target = if live {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Self {
            multi: MultiProgress::with_draw_target(target),
            bars: HashMap::new(),
            live,
            root: ROOT_LABEL.to_owned(),
        }
    }

    /// The view with the root node shown as `name` (the tree's own name) in its lines.
    pub(crate) fn with_root(mut self, name: &str) -> Self {
        name.clone_into(&mut self.root);
        self
    }

    /// How the node at `path` is shown: its path, or the tree's name for the root.
    pub(crate) fn label(&self, path: &str) -> String {
        node_label(path, &self.root)
    }

    /// The line an event is shown as (see [`event_line`]).
    pub(crate) fn event_line(&self, event: &Event) -> Option<String> {
        event_line(event, &self.root)
    }

    /// Prints a line above the bars (or on stderr when there are none).
    pub(crate) fn line(&self, text: &str) {
        if self.live {
            let _ = self.multi.println(text);
        } else {
            eprintln!("{text}");
        }
    }

    /// Shows progress under `key` (a node path, or a request's name).
    pub(crate) fn progress(
        &mut self,
        key: &str,
        progress: f64,
        total: Option<f64>,
        message: Option<&str>,
    ) {
        let text = progress_text(progress, total, message);
        if !self.live {
            eprintln!("[{key}] progress {text}");
            return;
        }
        let bar = self
            .bars
            .entry(key.to_owned())
            .or_insert_with(|| add_bar(&self.multi, key));
        match total {
            Some(total) if total > 0.0 => {
                bar.set_style(bar_style());
                bar.set_length(BAR_STEPS);
                let fraction = (progress / total).clamp(0.0, 1.0);
                // Truncation is fine: the value is within 0..=BAR_STEPS.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                bar.set_position((fraction * BAR_STEPS as f64).round() as u64);
            }
            _ => {
                bar.set_style(spinner_style());
                bar.enable_steady_tick(Duration::from_millis(120));
            }
        }
        bar.set_message(text);
    }

    /// Shows `message` beside the node's spinner (live only: plain output prints lines).
    pub(crate) fn note(&mut self, key: &str, message: &str) {
        if !self.live {
            return;
        }
        let bar = self.bars.entry(key.to_owned()).or_insert_with(|| {
            let bar = add_bar(&self.multi, key);
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        bar.set_message(message.to_owned());
    }

    /// Removes the bar of `key` (its node finished).
    pub(crate) fn finish(&mut self, key: &str) {
        if let Some(bar) = self.bars.remove(key) {
            bar.finish_and_clear();
        }
    }

    /// Clears every bar (before printing the result).
    pub(crate) fn clear(&mut self) {
        for (_, bar) in self.bars.drain() {
            bar.finish_and_clear();
        }
        let _ = self.multi.clear();
    }

    /// Runs `f` (a prompt at the terminal) with the bars hidden.
    pub(crate) fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.multi.suspend(f)
    }

    /// Shows one event of a call: a bar for progress, a line for the rest. Prompts are shown
    /// by whoever answers them; results, and the error that ends a call, by the caller (so
    /// that an error is printed once).
    pub(crate) fn show(&mut self, event: &Event) {
        let key = self.label(&event.path.to_string());
        match &event.kind {
            EventKind::Progress {
                progress,
                total,
                message,
            } => self.progress(&key, *progress, *total, message.as_deref()),
            EventKind::Status {
                state: NodeState::Finished | NodeState::Failed,
                ..
            } => {
                self.finish(&key);
                if let Some(line) = self.event_line(event) {
                    self.line(&line);
                }
            }
            EventKind::Result { .. } | EventKind::Error { .. } | EventKind::Question(_) => {}
            _ => {
                if let Some(line) = self.event_line(event) {
                    self.line(&line);
                }
            }
        }
    }
}

/// A new bar for `key`, a spinner until it knows a total. It is styled before it is added,
/// so it is never drawn with indicatif's default style (a `0/1000` bar).
fn add_bar(multi: &MultiProgress, key: &str) -> ProgressBar {
    let bar = ProgressBar::new(BAR_STEPS)
        .with_style(spinner_style())
        .with_prefix(key.to_owned());
    multi.add(bar)
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:.bold} [{bar:30.cyan/blue}] {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:.bold} {spinner} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

/// How the root is shown when the tree's name is not known.
const ROOT_LABEL: &str = "(root)";

/// How a node path is shown: the path, or `root` (the tree's name) for the root.
pub(crate) fn node_label(path: &str, root: &str) -> String {
    if path.is_empty() {
        root.to_owned()
    } else {
        path.to_owned()
    }
}

/// `3/5 step 3 of 5`, `3 step 3`, `3/5`.
pub(crate) fn progress_text(progress: f64, total: Option<f64>, message: Option<&str>) -> String {
    let mut text = number(progress);
    if let Some(total) = total {
        let _ = write!(text, "/{}", number(total));
    }
    if let Some(message) = message.filter(|m| !m.is_empty()) {
        let _ = write!(text, " {message}");
    }
    text
}

/// A number without a useless `.0`.
fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        value.to_string()
    }
}

/// The line an event is shown as, if it is shown as a line (not progress or a result); the
/// root node is called `root`.
pub(crate) fn event_line(event: &Event, root: &str) -> Option<String> {
    let node = node_label(&event.path.to_string(), root);
    match &event.kind {
        EventKind::Log {
            level,
            logger,
            data,
        } => {
            let logger = logger
                .as_deref()
                .map(|l| format!(" {l}:"))
                .unwrap_or_default();
            Some(format!("[{node}] {level}{logger} {}", inline_json(data)))
        }
        EventKind::Status {
            state, capability, ..
        } => {
            let what = capability.as_deref().unwrap_or("its part");
            let verb = match state {
                NodeState::Started => "started",
                NodeState::Finished => "finished",
                NodeState::Failed => "failed",
            };
            Some(format!("[{node}] {verb} {what}"))
        }
        EventKind::Partial { data } => Some(format!("[{node}] partial {}", inline_json(data))),
        EventKind::Error { code, message } => Some(format!("[{node}] error {code}: {message}")),
        EventKind::Question(prompt) => {
            let kind = match prompt.kind {
                QuestionKind::Permission => "permission",
                QuestionKind::Input => "input",
            };
            Some(format!("[{node}] {kind} prompt: {}", prompt.message))
        }
        EventKind::Progress {
            progress,
            total,
            message,
        } => Some(format!(
            "[{node}] progress {}",
            progress_text(*progress, *total, message.as_deref())
        )),
        _ => None,
    }
}

/// A JSON value on one line; strings without quotes.
fn inline_json(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// An MCP result (a `CallToolResult`, `ReadResourceResult`, `GetPromptResult`… as JSON) for a
/// person: text contents as text, other contents summarized, structured content as pretty
/// JSON (unless a text content already is that JSON).
pub(crate) fn format_result(result: &Value) -> String {
    let mut out = String::new();
    let mut texts_as_json = Vec::new();
    if let Some(contents) = result.get("content").and_then(Value::as_array) {
        for content in contents {
            let text = format_content(content);
            if let Ok(parsed) = serde_json::from_str::<Value>(&text) {
                texts_as_json.push(parsed);
            }
            push_block(&mut out, &text);
        }
    }
    if let Some(contents) = result.get("contents").and_then(Value::as_array) {
        for content in contents {
            push_block(&mut out, &format_resource_contents(content));
        }
    }
    if let Some(messages) = result.get("messages").and_then(Value::as_array) {
        if let Some(description) = result.get("description").and_then(Value::as_str) {
            push_block(&mut out, description);
        }
        for message in messages {
            let role = message.get("role").and_then(Value::as_str).unwrap_or("?");
            let content = message
                .get("content")
                .map(format_content)
                .unwrap_or_default();
            push_block(&mut out, &format!("{role}: {content}"));
        }
    }
    if let Some(structured) = result.get("structuredContent")
        && !structured.is_null()
        && !texts_as_json.contains(structured)
    {
        push_block(&mut out, &pretty(structured));
    }
    out
}

fn push_block(out: &mut String, block: &str) {
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(block);
}

/// One content block for a person.
pub(crate) fn format_content(content: &Value) -> String {
    let kind = content.get("type").and_then(Value::as_str).unwrap_or("");
    let field = |name: &str| content.get(name).and_then(Value::as_str).unwrap_or("");
    match kind {
        "text" => field("text").to_owned(),
        "image" | "audio" => format!(
            "[{kind}: {}, {} bytes of base64]",
            field("mimeType"),
            field("data").len()
        ),
        "resource_link" => format!("[resource link: {} ({})]", field("uri"), field("name")),
        "resource" => content
            .get("resource")
            .map(format_resource_contents)
            .unwrap_or_default(),
        _ => pretty(content),
    }
}

fn format_resource_contents(contents: &Value) -> String {
    let uri = contents.get("uri").and_then(Value::as_str).unwrap_or("?");
    if let Some(text) = contents.get("text").and_then(Value::as_str) {
        text.to_owned()
    } else if let Some(blob) = contents.get("blob").and_then(Value::as_str) {
        let mime = contents
            .get("mimeType")
            .and_then(Value::as_str)
            .unwrap_or("application/octet-stream");
        format!("[{uri}: {mime}, {} bytes of base64]", blob.len())
    } else {
        pretty(contents)
    }
}

/// Prints a line on stdout. A closed stdout (`canopy … | head`) is not an error worth a
/// panic: the rest of the output is dropped.
pub(crate) fn print_line(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// Pretty JSON.
pub(crate) fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn progress_reads_naturally() {
        assert_eq!(
            progress_text(3.0, Some(5.0), Some("step 3 of 5")),
            "3/5 step 3 of 5"
        );
        assert_eq!(progress_text(0.5, None, None), "0.5");
        assert_eq!(progress_text(2.0, None, Some("")), "2");
    }

    #[test]
    fn results_print_text_and_structured_content() {
        let result = json!({
            "content": [{"type": "text", "text": "hello"}, {"type": "image", "data": "AAAA", "mimeType": "image/png"}],
            "structuredContent": {"answer": 42},
            "isError": false
        });
        assert_eq!(
            format_result(&result),
            "hello\n[image: image/png, 4 bytes of base64]\n{\n  \"answer\": 42\n}"
        );
        let mirrored = json!({
            "content": [{"type": "text", "text": "{\"answer\":42}"}],
            "structuredContent": {"answer": 42}
        });
        assert_eq!(
            format_result(&mirrored),
            "{\"answer\":42}",
            "not printed twice"
        );
    }

    #[test]
    fn resources_and_prompts_print_their_text() {
        let read = json!({"contents": [{"uri": "notes://all", "text": "a\nb"}]});
        assert_eq!(format_result(&read), "a\nb");
        let prompt = json!({"messages": [{"role": "user", "content": {"type": "text", "text": "Summarize"}}]});
        assert_eq!(format_result(&prompt), "user: Summarize");
    }

    #[test]
    fn the_root_has_a_label() {
        assert_eq!(node_label("", "hub"), "hub");
        assert_eq!(node_label("research/web", "hub"), "research/web");
        assert_eq!(LiveView::new(false).label(""), "(root)");
    }
}
