//! Prompts at the terminal: y/n permission questions, and small forms built from the JSON
//! schema of an information request (MCP elicitation: a flat object of string, number,
//! integer, boolean and enum properties).
//!
//! The questions are written to stderr (stdout carries results and JSON lines). On a
//! terminal the answers are read with a line editor (rustyline), so Ctrl-C and Ctrl-D are
//! keys that refuse the question rather than signals; elsewhere they go through [`Lines`]
//! over any `BufRead`/`Write`, which is how the dialogues are tested.
//!
//! A permission question always waits for an explicit yes: an `ask` policy's prompt, and
//! any form that asks for nothing (an empty object schema) or only for one boolean (a
//! confirmation), since accepting such a form without a question would say yes for the user.

use std::io::{self, IsTerminal, Write};

use canopy_node::{Answer, QuestionKind};
use serde_json::{Map, Number, Value};

use crate::render::LiveView;

/// How the prompts of a run are answered (`--yes`, `--no`, a terminal, or nobody).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answering {
    /// `--yes`: permissions accepted; input requests filled at the terminal, or with the
    /// schema's defaults when there is no terminal (cancelled if that is not enough).
    Yes,
    /// `--no`: every prompt declined.
    No,
    /// Asked at the terminal.
    Terminal,
    /// No terminal and no `--yes`/`--no`: permissions declined, input requests cancelled,
    /// with a note on stderr.
    Nobody,
}

impl Answering {
    /// The policy for the flags given, asking at the terminal when stdin and stderr are one.
    pub(crate) fn from_flags(yes: bool, no: bool) -> Self {
        match (yes, no) {
            (true, _) => Self::Yes,
            (_, true) => Self::No,
            _ if on_a_terminal() => Self::Terminal,
            _ => Self::Nobody,
        }
    }

    fn terminal(self) -> bool {
        match self {
            Self::Terminal => true,
            Self::Yes => on_a_terminal(),
            Self::No | Self::Nobody => false,
        }
    }
}

fn on_a_terminal() -> bool {
    io::stdin().is_terminal() && io::stderr().is_terminal()
}

/// One question to answer: what the node sent, with what the terminal needs to show it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Query<'a> {
    /// Permission or information request, as the node said.
    pub(crate) kind: QuestionKind,
    /// The question, for a person.
    pub(crate) message: &'a str,
    /// The requested schema.
    pub(crate) schema: &'a Value,
    /// The arguments of the call a permission prompt is about, ready to show.
    pub(crate) arguments: Option<&'a str>,
}

impl<'a> Query<'a> {
    /// A question without arguments to show.
    pub(crate) fn new(kind: QuestionKind, message: &'a str, schema: &'a Value) -> Self {
        Self {
            kind,
            message,
            schema,
            arguments: None,
        }
    }
}

/// What a form with this schema is, seen as a permission question: `None` when it asks for
/// information, `Some(None)` when it asks for nothing (an empty object), `Some(Some(name))`
/// when its only field is the boolean `name` (a confirmation, answered `true` on a yes).
pub(crate) fn permission_form(schema: &Value) -> Option<Option<String>> {
    let properties = match schema.get("properties") {
        None | Some(Value::Null) => return Some(None),
        Some(Value::Object(properties)) => properties,
        Some(_) => return None,
    };
    match properties.iter().collect::<Vec<_>>().as_slice() {
        [] => Some(None),
        [(name, property)] if property.get("type").and_then(Value::as_str) == Some("boolean") => {
            Some(Some((*name).clone()))
        }
        _ => None,
    }
}

/// Answers one prompt according to `answering`; the bars of `view` are hidden while the
/// terminal is asked.
pub(crate) fn answer(answering: Answering, question: Query<'_>, view: &LiveView) -> Answer {
    let confirm = match question.kind {
        QuestionKind::Permission => Some(None),
        _ => permission_form(question.schema),
    };
    let accepted = |confirm: Option<String>| {
        let mut content = Map::new();
        if let Some(name) = confirm {
            content.insert(name, Value::Bool(true));
        }
        Answer::Accept(content)
    };
    let message = question.message;
    match (confirm, answering) {
        (_, Answering::No) => Answer::Decline,
        (Some(confirm), Answering::Yes) => accepted(confirm),
        (Some(confirm), Answering::Terminal) => {
            let text = permission_text(question);
            match at_terminal(view, |lines| ask_yes_no(&text, lines)) {
                Ok(true) => accepted(confirm),
                Ok(false) => Answer::Decline,
                Err(error) => {
                    view.line(&format!(
                        "canopy: cannot read the answer ({error}), so the permission prompt \
                         was declined: {message}"
                    ));
                    Answer::Decline
                }
            }
        }
        (Some(_), Answering::Nobody) => {
            view.line(&format!(
                "canopy: no terminal to ask, so the permission prompt was declined (pass --yes \
                 to accept): {message}"
            ));
            Answer::Decline
        }
        (None, _) if answering.terminal() => match form_fields(question.schema) {
            Ok(fields) => at_terminal(view, |lines| fill_form(message, &fields, lines))
                .unwrap_or(Answer::Cancel),
            Err(error) => {
                view.line(&format!(
                    "canopy: cannot show the form ({error}); cancelled: {message}"
                ));
                Answer::Cancel
            }
        },
        (None, Answering::Yes) => {
            match form_fields(question.schema)
                .ok()
                .and_then(|fields| defaults_only(&fields))
            {
                Some(content) => Answer::Accept(content),
                None => {
                    view.line(&format!(
                        "canopy: no terminal to answer an information request, so it was \
                         cancelled: {message}"
                    ));
                    Answer::Cancel
                }
            }
        }
        (None, _) => {
            view.line(&format!(
                "canopy: no terminal to answer an information request, so it was cancelled: \
                 {message}"
            ));
            Answer::Cancel
        }
    }
}

/// The permission question as shown: the message, then the call's arguments.
pub(crate) fn permission_text(question: Query<'_>) -> String {
    match question.arguments {
        Some(arguments) => {
            let indented = arguments.replace('\n', "\n  ");
            format!("{}\n  arguments: {indented}", question.message)
        }
        None => question.message.to_owned(),
    }
}

/// Where a dialogue reads its answers and writes its questions.
pub(crate) trait Lines {
    /// Shows a line of the question.
    fn say(&mut self, text: &str) -> io::Result<()>;
    /// Asks with `prompt` and reads one line; `None` when the person refuses to answer
    /// (end of input, Ctrl-D, Ctrl-C).
    fn ask(&mut self, prompt: &str) -> io::Result<Option<String>>;
}

/// A dialogue over a reader and a writer (the tests').
#[cfg(test)]
#[derive(Debug)]
pub(crate) struct Plain<R, W> {
    /// Where the answers come from.
    pub(crate) input: R,
    /// Where the questions go.
    pub(crate) output: W,
}

#[cfg(test)]
impl<R: io::BufRead, W: Write> Lines for Plain<R, W> {
    fn say(&mut self, text: &str) -> io::Result<()> {
        writeln!(self.output, "{text}")
    }

    fn ask(&mut self, prompt: &str) -> io::Result<Option<String>> {
        write!(self.output, "{prompt}")?;
        self.output.flush()?;
        let mut line = String::new();
        if self.input.read_line(&mut line)? == 0 {
            writeln!(self.output)?;
            return Ok(None);
        }
        Ok(Some(line))
    }
}

/// A dialogue at the terminal, with a line editor: Ctrl-C and Ctrl-D end it.
struct Terminal(rustyline::DefaultEditor);

impl Terminal {
    fn open() -> io::Result<Self> {
        rustyline::DefaultEditor::with_config(terminal_config(false))
            .map(Self)
            .map_err(io::Error::other)
    }
}

/// The line editor's settings: on the terminal itself (`/dev/tty`), so stdout can be
/// redirected while the questions are asked; with a history of what was typed (the REPL)
/// or without (answers to questions).
pub(crate) fn terminal_config(history: bool) -> rustyline::Config {
    rustyline::Config::builder()
        .behavior(rustyline::Behavior::PreferTerm)
        .auto_add_history(history)
        // As in a shell: Tab completes the common prefix, a second Tab lists the choices.
        .completion_type(rustyline::CompletionType::List)
        .build()
}

impl Lines for Terminal {
    fn say(&mut self, text: &str) -> io::Result<()> {
        let mut stderr = io::stderr();
        writeln!(stderr, "{text}")?;
        stderr.flush()
    }

    fn ask(&mut self, prompt: &str) -> io::Result<Option<String>> {
        match self.0.readline(prompt) {
            Ok(line) => Ok(Some(line)),
            Err(
                rustyline::error::ReadlineError::Interrupted | rustyline::error::ReadlineError::Eof,
            ) => Ok(None),
            Err(rustyline::error::ReadlineError::Io(error)) => Err(error),
            Err(error) => Err(io::Error::other(error)),
        }
    }
}

/// Runs a terminal dialogue with the bars hidden, off the async workers.
fn at_terminal<R>(
    view: &LiveView,
    dialogue: impl FnOnce(&mut dyn Lines) -> io::Result<R>,
) -> io::Result<R> {
    tokio::task::block_in_place(|| {
        view.suspend(|| {
            let mut terminal = Terminal::open()?;
            dialogue(&mut terminal)
        })
    })
}

/// Asks a y/n question until it is answered: `y`/`yes` accepts; `n`/`no`, an empty line,
/// end of input and Ctrl-C decline; anything else asks again.
/// A question of several lines is shown first, and asked with `[y/N]` alone.
pub(crate) fn ask_yes_no(question: &str, lines: &mut dyn Lines) -> io::Result<bool> {
    let mut prompt = if question.contains('\n') {
        lines.say(question)?;
        "[y/N] ".to_owned()
    } else {
        format!("{question} [y/N] ")
    };
    loop {
        let Some(line) = lines.ask(&prompt)? else {
            lines.say("(declined)")?;
            return Ok(false);
        };
        match line.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" => return Ok(true),
            "" | "n" | "no" => {
                lines.say("(declined)")?;
                return Ok(false);
            }
            _ => prompt = "Please answer y (yes) or n (no) [y/N] ".to_owned(),
        }
    }
}

/// One field of a form.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Field {
    /// The property name.
    pub(crate) name: String,
    /// Its title or description, for a person.
    pub(crate) label: Option<String>,
    /// What it accepts.
    pub(crate) kind: FieldKind,
    /// Whether the schema requires it.
    pub(crate) required: bool,
    /// The schema's default.
    pub(crate) default: Option<Value>,
}

/// What a field accepts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FieldKind {
    /// Any text.
    String,
    /// A number.
    Number,
    /// An integer.
    Integer,
    /// y/n.
    Boolean,
    /// One of these values (with titles to show, when the schema has them).
    Enum(Vec<(String, Option<String>)>),
    /// Several of these values, comma-separated.
    MultiEnum(Vec<(String, Option<String>)>),
}

/// The fields of a flat object schema: required ones first, each group by name (a JSON
/// object's key order is not kept on the way here).
pub(crate) fn form_fields(schema: &Value) -> Result<Vec<Field>, String> {
    let Some(properties) = schema.get("properties") else {
        return Ok(Vec::new());
    };
    let properties = properties
        .as_object()
        .ok_or("`properties` is not an object")?;
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut fields = properties
        .iter()
        .map(|(name, property)| {
            let kind = field_kind(property).ok_or_else(|| {
                format!("property '{name}' is not a string, number, integer, boolean or enum")
            })?;
            let label = ["title", "description"]
                .iter()
                .filter_map(|key| property.get(*key).and_then(Value::as_str))
                .map(str::to_owned)
                .reduce(|title, description| format!("{title} — {description}"));
            Ok(Field {
                name: name.clone(),
                label,
                kind,
                required: required.contains(&name.as_str()),
                default: property.get("default").cloned(),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    fields.sort_by(|a, b| {
        b.required
            .cmp(&a.required)
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(fields)
}

fn field_kind(property: &Value) -> Option<FieldKind> {
    if let Some(options) = enum_options(property) {
        return Some(FieldKind::Enum(options));
    }
    match property.get("type").and_then(Value::as_str)? {
        "string" => Some(FieldKind::String),
        "number" => Some(FieldKind::Number),
        "integer" => Some(FieldKind::Integer),
        "boolean" => Some(FieldKind::Boolean),
        "array" => property
            .get("items")
            .and_then(enum_options)
            .map(FieldKind::MultiEnum),
        _ => None,
    }
}

/// `enum` (+ legacy `enumNames`), or `oneOf`/`anyOf` of `{const, title}`.
fn enum_options(property: &Value) -> Option<Vec<(String, Option<String>)>> {
    if let Some(values) = property.get("enum").and_then(Value::as_array) {
        let names = property.get("enumNames").and_then(Value::as_array);
        return Some(
            values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    let title = names
                        .and_then(|n| n.get(i))
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    v.as_str().map(|v| (v.to_owned(), title))
                })
                .collect(),
        );
    }
    let choices = property
        .get("oneOf")
        .or_else(|| property.get("anyOf"))
        .and_then(Value::as_array)?;
    let options: Vec<_> = choices
        .iter()
        .filter_map(|choice| {
            let value = choice.get("const")?.as_str()?.to_owned();
            let title = choice
                .get("title")
                .and_then(Value::as_str)
                .map(str::to_owned);
            Some((value, title))
        })
        .collect();
    (!options.is_empty()).then_some(options)
}

/// The answer made of the defaults alone, if that covers every required field.
pub(crate) fn defaults_only(fields: &[Field]) -> Option<Map<String, Value>> {
    let mut content = Map::new();
    for field in fields {
        match &field.default {
            Some(default) => {
                content.insert(field.name.clone(), default.clone());
            }
            None if field.required => return None,
            None => {}
        }
    }
    Some(content)
}

/// Parses what was typed for a field: `Ok(None)` leaves it out (empty input, no default).
pub(crate) fn parse_value(field: &Field, text: &str) -> Result<Option<Value>, String> {
    let text = text.trim();
    if text.is_empty() {
        return match (&field.default, field.required) {
            (Some(default), _) => Ok(Some(default.clone())),
            (None, true) => Err("this field is required".into()),
            (None, false) => Ok(None),
        };
    }
    let value = match &field.kind {
        FieldKind::String => Value::String(text.to_owned()),
        FieldKind::Integer => text
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("'{text}' is not an integer"))?,
        FieldKind::Number => text
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("'{text}' is not a number"))?,
        FieldKind::Boolean => match text.to_ascii_lowercase().as_str() {
            "y" | "yes" | "true" => Value::Bool(true),
            "n" | "no" | "false" => Value::Bool(false),
            _ => return Err(format!("'{text}' is not y or n")),
        },
        FieldKind::Enum(options) => Value::String(pick(options, text)?),
        FieldKind::MultiEnum(options) => Value::Array(
            text.split(',')
                .map(|part| pick(options, part.trim()).map(Value::String))
                .collect::<Result<_, _>>()?,
        ),
    };
    Ok(Some(value))
}

/// An option by its value, its title, or its 1-based number in the list.
fn pick(options: &[(String, Option<String>)], text: &str) -> Result<String, String> {
    if let Ok(n) = text.parse::<usize>()
        && let Some((value, _)) = n.checked_sub(1).and_then(|i| options.get(i))
    {
        return Ok(value.clone());
    }
    options
        .iter()
        .find(|(value, title)| value == text || title.as_deref() == Some(text))
        .map(|(value, _)| value.clone())
        .ok_or_else(|| {
            let names: Vec<&str> = options.iter().map(|(v, _)| v.as_str()).collect();
            format!("'{text}' is not one of: {}", names.join(", "))
        })
}

/// Shows the form and reads one answer per field. Typing `:decline` or `:cancel` at any
/// field refuses the request; end of input (or Ctrl-C) cancels it. Invalid answers are
/// asked again.
pub(crate) fn fill_form(
    message: &str,
    fields: &[Field],
    lines: &mut dyn Lines,
) -> io::Result<Answer> {
    lines.say(message)?;
    lines.say("  (* required; Enter keeps the default; :decline or :cancel to refuse)")?;
    let mut content = Map::new();
    for field in fields {
        if let FieldKind::Enum(options) | FieldKind::MultiEnum(options) = &field.kind {
            for (i, (value, title)) in options.iter().enumerate() {
                let title = title
                    .as_deref()
                    .map(|t| format!(" — {t}"))
                    .unwrap_or_default();
                lines.say(&format!("    {}. {value}{title}", i + 1))?;
            }
        }
        loop {
            let Some(line) = lines.ask(&format!("  {} ", field_prompt(field)))? else {
                return Ok(Answer::Cancel);
            };
            match line.trim() {
                ":decline" => return Ok(Answer::Decline),
                ":cancel" => return Ok(Answer::Cancel),
                _ => {}
            }
            match parse_value(field, &line) {
                Ok(Some(value)) => {
                    content.insert(field.name.clone(), value);
                    break;
                }
                Ok(None) => break,
                Err(error) => lines.say(&format!("    {error}"))?,
            }
        }
    }
    Ok(Answer::Accept(content))
}

/// `name* (integer, default 3) — The label:`
fn field_prompt(field: &Field) -> String {
    let kind = match &field.kind {
        FieldKind::String => "text",
        FieldKind::Number => "number",
        FieldKind::Integer => "integer",
        FieldKind::Boolean => "y/n",
        FieldKind::Enum(_) => "choose one",
        FieldKind::MultiEnum(_) => "choose, comma-separated",
    };
    let mut text = field.name.clone();
    if field.required {
        text.push('*');
    }
    text.push_str(&format!(" ({kind}"));
    if let Some(default) = &field.default {
        let shown = match default {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        text.push_str(&format!(", default {shown}"));
    }
    text.push(')');
    if let Some(label) = &field.label {
        text.push_str(&format!(" — {label}"));
    }
    text.push(':');
    text
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "name": {"type": "string", "title": "Your name"},
                "age": {"type": "integer", "default": 30},
                "ratio": {"type": "number"},
                "subscribe": {"type": "boolean", "default": false},
                "colour": {"type": "string", "enum": ["red", "green"], "enumNames": ["Red", "Green"]},
                "size": {"type": "string", "oneOf": [{"const": "s", "title": "Small"}, {"const": "l", "title": "Large"}]},
                "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b", "c"]}}
            },
            "required": ["name", "colour"]
        })
    }

    #[test]
    fn fields_come_from_the_schema() {
        let fields = form_fields(&schema()).expect("fields");
        let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "colour",
                "name",
                "age",
                "ratio",
                "size",
                "subscribe",
                "tags"
            ]
        );
        assert!(fields[0].required && fields[1].required && !fields[2].required);
        assert_eq!(fields[1].label.as_deref(), Some("Your name"));
        assert_eq!(fields[2].default, Some(json!(30)));
        assert_eq!(
            fields[4].kind,
            FieldKind::Enum(vec![
                ("s".into(), Some("Small".into())),
                ("l".into(), Some("Large".into()))
            ])
        );
        assert!(matches!(fields[6].kind, FieldKind::MultiEnum(_)));
        assert_eq!(field_prompt(&fields[2]), "age (integer, default 30):");
        assert_eq!(field_prompt(&fields[1]), "name* (text) — Your name:");
        assert!(form_fields(&json!({"properties": {"x": {"type": "object"}}})).is_err());
    }

    #[test]
    fn a_form_is_filled_from_input() {
        let fields = form_fields(&schema()).expect("fields");
        // colour by number, name (required: empty is asked again), age default, ratio,
        // size by title, subscribe, tags.
        let typed = "2\n\nGrace\n\n0.5\nLarge\ny\na, c\n";
        let mut lines = plain(typed);
        let answer = fill_form("Who are you?", &fields, &mut lines).expect("io");
        let Answer::Accept(content) = answer else {
            panic!("accepted, got {answer:?}")
        };
        assert_eq!(
            Value::Object(content),
            json!({"name": "Grace", "age": 30, "ratio": 0.5, "subscribe": true,
                   "colour": "green", "size": "l", "tags": ["a", "c"]})
        );
        let shown = String::from_utf8(lines.output).expect("utf8");
        assert!(shown.starts_with("Who are you?\n"), "{shown}");
        assert!(shown.contains("this field is required"), "{shown}");
        assert!(shown.contains("1. red — Red"), "{shown}");
    }

    #[test]
    fn a_form_can_be_refused() {
        let fields = form_fields(&schema()).expect("fields");
        let declined = fill_form("?", &fields, &mut plain(":decline\n"));
        assert_eq!(declined.expect("io"), Answer::Decline);
        let ended = fill_form("?", &fields, &mut plain("Grace\n"));
        assert_eq!(ended.expect("io"), Answer::Cancel, "end of input cancels");
    }

    #[test]
    fn bad_answers_are_explained() {
        let fields = form_fields(&schema()).expect("fields");
        assert_eq!(
            parse_value(&fields[2], "x"),
            Err("'x' is not an integer".into())
        );
        assert_eq!(
            parse_value(&fields[5], "maybe"),
            Err("'maybe' is not y or n".into())
        );
        assert_eq!(
            parse_value(&fields[0], "blue"),
            Err("'blue' is not one of: red, green".into())
        );
        assert_eq!(
            parse_value(&fields[3], ""),
            Ok(None),
            "optional, no default"
        );
    }

    fn plain(typed: &str) -> Plain<&[u8], Vec<u8>> {
        Plain {
            input: typed.as_bytes(),
            output: Vec::new(),
        }
    }

    #[test]
    fn yes_or_no() {
        let answered = |typed: &str| ask_yes_no("Go?", &mut plain(typed)).expect("io");
        assert!(answered("y\n"));
        assert!(answered("YES\n"));
        assert!(!answered("n\n"));
        assert!(!answered("\n"), "an empty line declines");
        assert!(!answered(""), "end of input declines");
        assert!(answered("maybe\ny\n"), "anything else asks again");
        assert!(!answered("sure\n"), "asked again, then end of input");
        let mut lines = plain("ok\nno\n");
        assert!(!ask_yes_no("Go?", &mut lines).expect("io"));
        assert_eq!(
            String::from_utf8(lines.output).expect("utf8"),
            "Go? [y/N] Please answer y (yes) or n (no) [y/N] (declined)\n"
        );
    }

    #[test]
    fn empty_and_confirm_forms_are_permission_questions() {
        assert_eq!(
            permission_form(&json!({"type": "object", "properties": {}})),
            Some(None)
        );
        assert_eq!(permission_form(&json!({"type": "object"})), Some(None));
        assert_eq!(
            permission_form(&json!({"type": "object", "properties": {"ok": {"type": "boolean"}}})),
            Some(Some("ok".to_owned()))
        );
        assert_eq!(permission_form(&schema()), None);
        assert_eq!(
            permission_form(&json!({"properties": {"name": {"type": "string"}}})),
            None
        );
    }

    #[test]
    fn a_permission_question_shows_the_arguments() {
        let schema = json!({});
        let question = Query {
            arguments: Some("{\n  \"text\": \"x\"\n}"),
            ..Query::new(QuestionKind::Permission, "Allow?", &schema)
        };
        assert_eq!(
            permission_text(question),
            "Allow?\n  arguments: {\n    \"text\": \"x\"\n  }"
        );
    }

    #[test]
    fn defaults_answer_only_when_enough() {
        let fields = form_fields(&schema()).expect("fields");
        assert_eq!(defaults_only(&fields), None, "name has no default");
        let easy = form_fields(
            &json!({"properties": {"n": {"type": "integer", "default": 1}}, "required": ["n"]}),
        )
        .expect("fields");
        assert_eq!(
            defaults_only(&easy).map(Value::Object),
            Some(json!({"n": 1}))
        );
    }
}
