//! A small document library served as an MCP server: `search` (keywords → ids, titles and
//! snippets, ranked) and `read` (a whole document), over the markdown files shipped in
//! `examples/corpus/`.
#![allow(dead_code, missing_docs, unreachable_pub)]

use rmcp::{
    ErrorData as McpError, ServerHandler,
    handler::server::{router::tool::ToolRouter, wrapper::Parameters},
    model::{ServerCapabilities, ServerConfig},
    tool, tool_handler, tool_router,
};
use schemars::JsonSchema;
use serde::Deserialize;

/// The documents: (id, markdown).
const DOCUMENTS: &[(&str, &str)] = &[
    ("mycorrhiza", include_str!("../corpus/mycorrhiza.md")),
    ("carbon", include_str!("../corpus/carbon.md")),
    ("mother-trees", include_str!("../corpus/mother-trees.md")),
    (
        "warning-signals",
        include_str!("../corpus/warning-signals.md"),
    ),
    (
        "forest-management",
        include_str!("../corpus/forest-management.md"),
    ),
    ("measuring", include_str!("../corpus/measuring.md")),
];

fn title(text: &str) -> &str {
    text.lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("# ")
}

/// The words of `text`, lower-cased, longer than three letters.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 3)
        .map(str::to_lowercase)
        .collect()
}

/// The library server.
#[derive(Clone)]
pub struct Corpus {
    tool_router: ToolRouter<Self>,
}

#[derive(Deserialize, JsonSchema)]
pub struct SearchArgs {
    /// Keywords to look for.
    pub query: String,
}

#[derive(Deserialize, JsonSchema)]
pub struct ReadArgs {
    /// A document id, as `search` gives it.
    pub id: String,
}

#[tool_router]
impl Corpus {
    pub fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
        }
    }

    /// Ranks the documents by how often they use the query's words.
    pub fn rank(query: &str) -> Vec<(&'static str, usize)> {
        let wanted = words(query);
        let mut hits: Vec<(&str, usize)> = DOCUMENTS
            .iter()
            .map(|(id, text)| {
                let found = words(text).iter().filter(|w| wanted.contains(w)).count();
                (*id, found)
            })
            .filter(|(_, found)| *found > 0)
            .collect();
        hits.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        hits
    }

    #[tool(
        description = "Search the forest-ecology library; one line per hit: `id: title — snippet`, best first"
    )]
    async fn search(&self, Parameters(args): Parameters<SearchArgs>) -> String {
        let hits = Self::rank(&args.query);
        if hits.is_empty() {
            return format!("no documents match '{}'", args.query);
        }
        hits.iter()
            .take(3)
            .filter_map(|(id, _)| DOCUMENTS.iter().find(|(d, _)| d == id))
            .map(|(id, text)| {
                let body = text.lines().skip(2).collect::<Vec<_>>().join(" ");
                let snippet: String = body.chars().take(80).collect();
                format!("{id}: {} — {snippet}…", title(text))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[tool(description = "Read a document of the library by id")]
    async fn read(&self, Parameters(args): Parameters<ReadArgs>) -> Result<String, McpError> {
        DOCUMENTS
            .iter()
            .find(|(id, _)| *id == args.id)
            .map(|(_, text)| (*text).to_owned())
            .ok_or_else(|| {
                McpError::invalid_params(format!("no document '{}' in the library", args.id), None)
            })
    }
}

#[tool_handler]
impl ServerHandler for Corpus {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}
