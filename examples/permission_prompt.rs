//! An `ask` policy two levels down, answered at the terminal.
//!
//! ```text
//! hub
//! └─ office                 policy: ask "desk/notes/write_note"
//!    └─ desk
//!       └─ notes            write_note, read_notes
//! ```
//!
//! The call to `office__desk__notes__write_note` pauses at `office`'s policy: the prompt
//! travels up the event stream to this program, which asks you (y/n) on the terminal; the
//! answer travels back down and the call resumes or is refused.
//!
//! Run: `cargo run --example permission_prompt` (answer `y` or `n`; with no terminal input,
//! e.g. `< /dev/null`, the prompt is declined).

use canopy::{
    node::{Answer, EventKind, Node, Tree},
    topology::Policy,
};
use canopy_fixtures::servers;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const USAGE: &str = "\
usage: permission_prompt

Calls office__desk__notes__write_note through a tree whose `office` node asks first, and
asks you (y/n) on the terminal; anything but y declines.

Options:
  -h, --help  print this help";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().skip(1).any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let tree = Tree::builder(
        Node::new("hub").child(
            Node::new("office")
                .policy(Policy::new().ask("desk/notes/write_note"))
                .child(Node::new("desk").child(Node::server("notes", servers::Notes::new()))),
        ),
    )
    .build()
    .await?;

    let text = "Canopy routes permission prompts from any depth";
    let args = serde_json::json!({ "text": text });
    let mut call = tree.start_call("office__desk__notes__write_note", args.as_object().cloned());
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    while let Some(event) = call.next_event().await {
        match &event.kind {
            EventKind::Question(prompt) => {
                let mut stdout = tokio::io::stdout();
                stdout
                    .write_all(format!("[{}] {} [y/N] ", event.path, prompt.message).as_bytes())
                    .await?;
                stdout.flush().await?;
                let line = stdin.next_line().await?.unwrap_or_default();
                let answer = if line.trim().eq_ignore_ascii_case("y") {
                    Answer::accept()
                } else {
                    Answer::Decline
                };
                println!(
                    "  -> {}",
                    if answer == Answer::Decline {
                        "declined"
                    } else {
                        "allowed"
                    }
                );
                prompt.respond(answer);
            }
            EventKind::Result { result } => println!("result: {result}"),
            _ => {}
        }
    }
    let result = call.result().await?;
    let notes = tree
        .call_tool("office__desk__notes__read_notes", None)
        .await?;
    let notes = notes
        .content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| t.text.clone())
        .unwrap_or_default();
    println!(
        "the call {}; notes now: {:?}",
        if result.is_error == Some(true) {
            "was refused"
        } else {
            "went ahead"
        },
        notes
    );
    Ok(())
}
