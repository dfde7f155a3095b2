//! Your first leaf: an rmcp server written with the tool macros, mounted in a tree twice —
//! in-process and as a stdio child — and called through the tree's root, answering the
//! permission prompt an `ask` policy raises. `docs/first-leaf.md` walks through it.
//!
//! Run: `cargo run --example first_leaf`. `first_leaf --serve` serves the leaf alone over
//! stdio: that is how the tree launches its stdio child (and how any MCP client could).

use std::sync::{
    Arc,
    atomic::{AtomicU32, Ordering},
};

// Everything MCP comes from the facade's re-export: no rmcp version to match.
use canopy::rmcp::{
    self, ServerHandler, ServiceExt,
    handler::server::{router::tool::ToolRouter, wrapper::Parameters},
    model::{ServerCapabilities, ServerConfig},
    schemars, serde,
    serde_json::json,
    tool, tool_handler, tool_router,
};
use canopy::{
    node::{Answer, EventKind, Node, StdioSpec, Tree},
    topology::Policy,
};

const USAGE: &str = "\
usage: first_leaf [--serve]

Builds a tree with the Greeter leaf mounted in-process (`local`) and as a stdio child
(`remote`, this program run with --serve), and calls both through the root.

  --serve     serve the Greeter leaf alone over stdin/stdout
  -h, --help  print this help";

/// The arguments of `greet`. The derives come from rmcp's re-exports, so the crate needs no
/// serde or schemars dependency of its own.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(crate = "rmcp::serde")]
#[schemars(crate = "rmcp::schemars")]
struct GreetArgs {
    /// Who to greet.
    name: String,
}

/// The arguments of `add`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(crate = "rmcp::serde")]
#[schemars(crate = "rmcp::schemars")]
struct AddArgs {
    /// The first number.
    a: i64,
    /// The second number.
    b: i64,
}

/// The leaf: an ordinary rmcp server with two tools.
#[derive(Clone)]
struct Greeter {
    tool_router: ToolRouter<Self>,
    greetings: Arc<AtomicU32>,
}

#[tool_router]
impl Greeter {
    fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
            greetings: Arc::default(),
        }
    }

    #[tool(description = "Greet someone by name")]
    async fn greet(&self, Parameters(args): Parameters<GreetArgs>) -> String {
        let count = self.greetings.fetch_add(1, Ordering::Relaxed) + 1;
        format!("Hello, {}! (greeting #{count})", args.name)
    }

    #[tool(description = "Add two integers")]
    async fn add(&self, Parameters(AddArgs { a, b }): Parameters<AddArgs>) -> String {
        (a + b).to_string()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Greeter {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    match std::env::args().nth(1).as_deref() {
        None => {}
        Some("-h" | "--help") => {
            println!("{USAGE}");
            return Ok(());
        }
        Some("--serve") => {
            // The leaf alone, over stdio: what the tree's `remote` child runs.
            let running = Greeter::new().serve(rmcp::transport::stdio()).await?;
            running.waiting().await?;
            return Ok(());
        }
        Some(other) => return Err(format!("unknown argument '{other}'\n\n{USAGE}").into()),
    }

    // The same leaf twice: in-process (called directly, no JSON) and as a stdio child (a
    // process Canopy launches: this program with --serve). `ask` makes the tree ask before
    // any call to the remote greet.
    let me = std::env::current_exe()?;
    let tree = Tree::builder(
        Node::new("hub")
            .policy(Policy::new().ask("remote/greet"))
            .child(Node::server("local", Greeter::new()))
            .child(Node::stdio(
                "remote",
                StdioSpec::new(me.display().to_string()).args(["--serve"]),
            )),
    )
    .build()
    .await?;

    println!("exposed tools:");
    for tool in tree.tools() {
        println!("  {}", tool.name);
    }

    // A call that needs no answer: `call_tool` waits for the result.
    let sum = tree
        .call_tool("local__add", json!({ "a": 2, "b": 3 }))
        .await?;
    println!("local__add 2 + 3 = {}", text(&sum));
    let hello = tree
        .call_tool("local__greet", json!({ "name": "Ada" }))
        .await?;
    println!("local__greet: {}", text(&hello));

    // A call that raises a permission prompt: `start_call` streams its events, and the
    // prompt waits until it is answered.
    let mut call = tree.start_call("remote__greet", json!({ "name": "Grace" }));
    while let Some(event) = call.next_event().await {
        if let EventKind::Question(prompt) = &event.kind {
            println!("permission prompt: {}", prompt.message);
            println!("  -> allowed");
            prompt.respond(Answer::accept());
        }
    }
    let hello = call.result().await?;
    println!("remote__greet: {}", text(&hello));

    // Arguments that are not a JSON object are refused before anything runs.
    let refused = tree.call_tool("local__add", json!([2, 3])).await;
    if let Err(error) = refused {
        println!("local__add [2, 3]: {}", error.message());
    }

    // Ask the stdio child to exit.
    tree.shutdown().await;
    Ok(())
}

/// The text of a result's first content block.
fn text(result: &rmcp::model::CallToolResult) -> String {
    result
        .content
        .first()
        .and_then(|content| content.as_text())
        .map(|text| text.text.clone())
        .unwrap_or_default()
}
