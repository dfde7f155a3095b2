//! Permission prompts at a real terminal (a pseudo-terminal, through rexpect): an `ask`
//! policy's question waits for an explicit yes in `canopy call`, in `canopy connect`'s
//! one-shot `call` against a served tree (at each protocol revision), and in its REPL. An
//! empty line, end of input (Ctrl-D) and Ctrl-C decline, and the write does not happen;
//! anything but y/yes/n/no is asked again.
//!
//! The timeouts are hang guards only: every step waits for the text it expects.

mod common;

use std::process::Stdio;

use common::{canopy, canopy_binary, leaf_server, stdout, tree, wait_for_url};
use nix::sys::wait::WaitStatus;
use rexpect::session::{PtySession, spawn_command};

/// A hang guard for every expectation (the tree starts leaf processes of a debug build).
const GUARD_MS: u64 = 120_000;

/// A way to refuse the question, and what it is called.
type Refusal = (&'static str, fn(&mut PtySession));

/// Every way of refusing that is not a `no`: each must decline.
const REFUSALS: [Refusal; 3] = [
    ("an empty line", |s| {
        s.send_line("").expect("typed");
    }),
    ("Ctrl-D", |s| s.send_control('d').expect("typed")),
    ("Ctrl-C", |s| s.send_control('c').expect("typed")),
];

fn demo() -> String {
    tree("demo.toml").display().to_string()
}

/// `canopy ARGS` on a pseudo-terminal (stdin, stdout and stderr).
fn on_a_terminal(args: &[&str]) -> PtySession {
    let mut command = std::process::Command::new(canopy_binary());
    command
        .args(args)
        .env("LEAF_SERVER", leaf_server())
        .env("TERM", "xterm")
        .env_remove("RUST_LOG");
    spawn_command(command, Some(GUARD_MS)).expect("canopy starts on a pty")
}

/// Waits for the process to end and returns its exit status.
fn exit_code(mut session: PtySession) -> i32 {
    session.exp_eof().expect("the output ends");
    match session.process_mut().wait().expect("canopy exits") {
        WaitStatus::Exited(_, code) => code,
        other => panic!("canopy did not exit normally: {other:?}"),
    }
}

/// Expects the permission question for `notes/write_note` with its arguments, up to the
/// `[y/N]` that asks for the answer.
fn expect_question(session: &mut PtySession, text: &str) {
    // The tree is named by its name (`hub`), not `(root)`.
    session
        .exp_string(
            "Allow the call to 'notes/write_note'? (the policy of 'hub' asks for 'notes/write_note')",
        )
        .expect("the permission question");
    session
        .exp_string(&format!("\"text\": \"{text}\""))
        .expect("the call's arguments are shown");
    session.exp_string("[y/N] ").expect("asked for y or n");
}

fn write_note_on_a_terminal(text: &str) -> PtySession {
    let args = format!(r#"{{"text":"{text}"}}"#);
    on_a_terminal(&["call", &demo(), "notes__write_note", "--args", &args])
}

#[test]
fn canopy_call_asks_until_yes_and_accepts_it() {
    let mut session = write_note_on_a_terminal("x");
    expect_question(&mut session, "x");
    session.send_line("maybe").expect("typed");
    session
        .exp_string("Please answer y (yes) or n (no) [y/N] ")
        .expect("asked again");
    session.send_line("y").expect("typed");
    session.exp_string("1 notes").expect("the write happened");
    assert_eq!(exit_code(session), 0);
}

#[test]
fn canopy_call_declines_on_an_empty_line_end_of_input_and_ctrl_c() {
    let refusals = REFUSALS;
    for (how, refuse) in refusals {
        let mut session = write_note_on_a_terminal("x");
        expect_question(&mut session, "x");
        refuse(&mut session);
        session
            .exp_string("The user did not allow the call to 'notes/write_note'.")
            .unwrap_or_else(|e| panic!("{how}: the call was refused: {e}"));
        session
            .exp_string("canopy: the call to 'notes__write_note' was declined by the user")
            .unwrap_or_else(|e| panic!("{how}: said as a decline: {e}"));
        assert_eq!(exit_code(session), 1, "{how}");
    }
}

/// `canopy serve demo.toml --http 127.0.0.1:0`, killed when dropped, and its URL.
async fn served_demo() -> (tokio::process::Child, String) {
    let mut server = tokio::process::Command::new(canopy_binary())
        .args(["serve", &demo(), "--http", "127.0.0.1:0"])
        .env("LEAF_SERVER", leaf_server())
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("canopy serve starts");
    let url = wait_for_url(&mut server, "serving tree 'hub' at").await;
    (server, url)
}

/// What `read_notes` prints for these notes.
fn lines(notes: &[&str]) -> String {
    if notes.is_empty() {
        String::new()
    } else {
        format!("{}\n", notes.join("\n"))
    }
}

/// The notes the served tree holds (`read_notes`, without a terminal).
fn notes(url: &str) -> String {
    let output = canopy(&["connect", url, "call", "notes__read_notes"])
        .output()
        .expect("canopy connect runs");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    stdout(&output)
}

#[tokio::test(flavor = "multi_thread")]
async fn canopy_connect_one_shot_waits_for_an_explicit_yes() {
    let (_server, url) = served_demo().await;
    tokio::task::spawn_blocking(move || {
        // The served tree keeps its notes: each revision's accepted write adds one.
        let mut written = Vec::new();
        for protocol in ["2025-11-25", "2026-07-28"] {
            let connect = |text: &str| {
                let args = format!(r#"{{"text":"{text}"}}"#);
                on_a_terminal(&[
                    "connect",
                    &url,
                    "--protocol",
                    protocol,
                    "call",
                    "notes__write_note",
                    "--args",
                    &args,
                ])
            };
            let refusals = REFUSALS;
            for (how, refuse) in refusals {
                let mut session = connect(how);
                expect_question(&mut session, how);
                refuse(&mut session);
                session
                    .exp_string(
                        "canopy connect: the call to 'notes__write_note' was declined by the user",
                    )
                    .unwrap_or_else(|e| panic!("{protocol}, {how}: declined: {e}"));
                assert_eq!(exit_code(session), 1, "{protocol}, {how}");
                assert_eq!(
                    notes(&url),
                    lines(&written),
                    "{protocol}, {how}: nothing was written"
                );
            }
            let mut session = connect(protocol);
            expect_question(&mut session, protocol);
            session.send_line("perhaps").expect("typed");
            session
                .exp_string("Please answer y (yes) or n (no) [y/N] ")
                .expect("asked again");
            session.send_line("yes").expect("typed");
            written.push(protocol);
            session
                .exp_string(&format!("{} notes", written.len()))
                .expect("written once accepted");
            assert_eq!(exit_code(session), 0, "{protocol}");
            assert_eq!(notes(&url), lines(&written), "{protocol}");
        }
    })
    .await
    .expect("the terminal sessions ran");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_repl_waits_for_an_explicit_yes() {
    let (_server, url) = served_demo().await;
    tokio::task::spawn_blocking(move || {
        let mut repl = on_a_terminal(&["connect", &url]);
        repl.exp_string("canopy> ").expect("the REPL's prompt");
        repl.send_line(r#"call notes__write_note {"text":"one"}"#)
            .expect("typed");
        expect_question(&mut repl, "one");
        repl.send_control('c').expect("Ctrl-C");
        repl.exp_string("was declined by the user")
            .expect("Ctrl-C declines");
        repl.exp_string("canopy> ").expect("back at the prompt");
        repl.send_line(r#"call notes__write_note {"text":"two"}"#)
            .expect("typed");
        expect_question(&mut repl, "two");
        repl.send_line("").expect("an empty line");
        repl.exp_string("was declined by the user")
            .expect("an empty line declines");
        repl.exp_string("canopy> ").expect("back at the prompt");
        repl.send_line(r#"call notes__write_note {"text":"three"}"#)
            .expect("typed");
        expect_question(&mut repl, "three");
        repl.send_line("what").expect("typed");
        repl.exp_string("Please answer y (yes) or n (no) [y/N] ")
            .expect("asked again");
        repl.send_line("y").expect("typed");
        repl.exp_string("1 notes")
            .expect("only the accepted write happened");
        repl.exp_string("canopy> ").expect("back at the prompt");
        repl.send_control('d').expect("Ctrl-D leaves");
        assert_eq!(exit_code(repl), 0);
        assert_eq!(notes(&url), "three\n");
    })
    .await
    .expect("the terminal session ran");
}
