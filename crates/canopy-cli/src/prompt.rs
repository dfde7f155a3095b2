//! Prompts at the terminal: y/N permission questions, and small forms built from the JSON
//! schema of an information request (MCP elicitation: a flat object of string, number,
//! integer, boolean and enum properties).
//!
//! The questions are written to stderr (stdout carries results and JSON lines) and the
//! answers read from stdin. Reading and writing go through `BufRead`/`Write` so the forms
//! can be tested with in-memory input.

use std::io::{self, BufRead, IsTerminal, Write};

use canopy_node::{PromptAnswer, PromptKind};
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
        let terminal = io::stdin().is_terminal() && io::stderr().is_terminal();
        match (yes, no) {
            (true, _) => Self::Yes,
            (_, true) => Self::No,
            _ if terminal => Self::Terminal,
            _ => Self::Nobody,
        }
    }

    fn terminal(self) -> bool {
        match self {
            Self::Terminal => true,
            Self::Yes => io::stdin().is_terminal() && io::stderr().is_terminal(),
            Self::No | Self::Nobody => false,
        }
    }
}

/// Answers one prompt according to `answering`; the bars of `view` are hidden while the
/// terminal is asked.
pub(crate) fn answer(
    answering: Answering,
    kind: PromptKind,
    message: &str,
    schema: &Value,
    view: &LiveView,
) -> PromptAnswer {
    match (kind, answering) {
        (_, Answering::No) => PromptAnswer::Decline,
        (PromptKind::Permission, Answering::Yes) => PromptAnswer::accept(),
        (PromptKind::Permission, Answering::Terminal) => {
            let accepted = at_terminal(view, |input, output| ask_yes_no(message, input, output))
                .unwrap_or(false);
            if accepted {
                PromptAnswer::accept()
            } else {
                PromptAnswer::Decline
            }
        }
        (PromptKind::Input, _) if answering.terminal() => match form_fields(schema) {
            Ok(fields) => at_terminal(view, |input, output| {
                fill_form(message, &fields, input, output)
            })
            .unwrap_or(PromptAnswer::Cancel),
            Err(error) => {
                view.line(&format!(
                    "canopy: cannot show the form ({error}); cancelled: {message}"
                ));
                PromptAnswer::Cancel
            }
        },
        (PromptKind::Input, Answering::Yes) => {
            match form_fields(schema)
                .ok()
                .and_then(|fields| defaults_only(&fields))
            {
                Some(content) => PromptAnswer::Accept(content),
                None => {
                    view.line(&format!(
                        "canopy: no terminal to answer an information request, so it was \
                         cancelled: {message}"
                    ));
                    PromptAnswer::Cancel
                }
            }
        }
        (PromptKind::Permission, _) => {
            view.line(&format!(
                "canopy: no terminal to ask, so the permission prompt was declined (pass --yes \
                 to accept): {message}"
            ));
            PromptAnswer::Decline
        }
        _ => {
            view.line(&format!(
                "canopy: no terminal to answer an information request, so it was cancelled: \
                 {message}"
            ));
            PromptAnswer::Cancel
        }
    }
}

/// Runs a terminal dialogue on stdin/stderr with the bars hidden, off the async workers.
fn at_terminal<R>(
    view: &LiveView,
    dialogue: impl FnOnce(&mut dyn BufRead, &mut dyn Write) -> io::Result<R>,
) -> io::Result<R> {
    tokio::task::block_in_place(|| {
        view.suspend(|| {
            let stdin = io::stdin();
            let mut input = stdin.lock();
            let mut output = io::stderr();
            dialogue(&mut input, &mut output)
        })
    })
}

/// Asks a y/N question; only `y` or `yes` accepts. End of input declines.
pub(crate) fn ask_yes_no(
    question: &str,
    input: &mut dyn BufRead,
    output: &mut dyn Write,
) -> io::Result<bool> {
    write!(output, "{question} [y/N] ")?;
    output.flush()?;
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        writeln!(output)?;
        return Ok(false);
    }
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
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
/// field refuses the request; end of input cancels it. Invalid answers are asked again.
pub(crate) fn fill_form(
    message: &str,
    fields: &[Field],
    input: &mut dyn BufRead,
    output: &mut dyn Write,
) -> io::Result<PromptAnswer> {
    writeln!(output, "{message}")?;
    writeln!(
        output,
        "  (* required; Enter keeps the default; :decline or :cancel to refuse)"
    )?;
    let mut content = Map::new();
    for field in fields {
        if let FieldKind::Enum(options) | FieldKind::MultiEnum(options) = &field.kind {
            for (i, (value, title)) in options.iter().enumerate() {
                let title = title
                    .as_deref()
                    .map(|t| format!(" — {t}"))
                    .unwrap_or_default();
                writeln!(output, "    {}. {value}{title}", i + 1)?;
            }
        }
        loop {
            write!(output, "  {} ", field_prompt(field))?;
            output.flush()?;
            let mut line = String::new();
            if input.read_line(&mut line)? == 0 {
                writeln!(output)?;
                return Ok(PromptAnswer::Cancel);
            }
            match line.trim() {
                ":decline" => return Ok(PromptAnswer::Decline),
                ":cancel" => return Ok(PromptAnswer::Cancel),
                _ => {}
            }
            match parse_value(field, &line) {
                Ok(Some(value)) => {
                    content.insert(field.name.clone(), value);
                    break;
                }
                Ok(None) => break,
                Err(error) => writeln!(output, "    {error}")?,
            }
        }
    }
    Ok(PromptAnswer::Accept(content))
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
        let mut output = Vec::new();
        let answer =
            fill_form("Who are you?", &fields, &mut typed.as_bytes(), &mut output).expect("io");
        let PromptAnswer::Accept(content) = answer else {
            panic!("accepted, got {answer:?}")
        };
        assert_eq!(
            Value::Object(content),
            json!({"name": "Grace", "age": 30, "ratio": 0.5, "subscribe": true,
                   "colour": "green", "size": "l", "tags": ["a", "c"]})
        );
        let shown = String::from_utf8(output).expect("utf8");
        assert!(shown.starts_with("Who are you?\n"), "{shown}");
        assert!(shown.contains("this field is required"), "{shown}");
        assert!(shown.contains("1. red — Red"), "{shown}");
    }

    #[test]
    fn a_form_can_be_refused() {
        let fields = form_fields(&schema()).expect("fields");
        let mut sink = Vec::new();
        let declined = fill_form("?", &fields, &mut ":decline\n".as_bytes(), &mut sink);
        assert_eq!(declined.expect("io"), PromptAnswer::Decline);
        let ended = fill_form("?", &fields, &mut "Grace\n".as_bytes(), &mut sink);
        assert_eq!(
            ended.expect("io"),
            PromptAnswer::Cancel,
            "end of input cancels"
        );
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

    #[test]
    fn yes_or_no() {
        let mut sink = Vec::new();
        assert!(ask_yes_no("Go?", &mut "y\n".as_bytes(), &mut sink).expect("io"));
        assert!(!ask_yes_no("Go?", &mut "\n".as_bytes(), &mut sink).expect("io"));
        assert!(!ask_yes_no("Go?", &mut "".as_bytes(), &mut sink).expect("io"));
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
