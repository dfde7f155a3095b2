//! What this crate accepts in a tree file's `[agent]` table ([`schema`], registered with the
//! tree-file loader) and how it turns such a declaration into an [`Agent`] ([`factory`],
//! registered with [`TreeBuilder::agents`](canopy_node::TreeBuilder::agents)). The keys are
//! named once, here, for both.

use std::sync::Arc;

use canopy_node::{
    AgentDecl, AgentError, NodeService,
    treefile::{AgentSchema, KeyKind},
};
use canopy_topology::{NodePath, Policy};

#[cfg(feature = "anthropic")]
use crate::providers::anthropic::{Anthropic, AnthropicConfig};
#[cfg(feature = "openai")]
use crate::providers::openai::{OpenAi, OpenAiConfig};
use crate::{
    agent::{Agent, AgentConfig, Pricing},
    providers::{sampling::SamplingOptions, scripted::Scripted},
};

/// The providers an `[agent]` table may name, whether or not this build has them (a provider
/// left out by the crate's features fails the build of the tree with a message that says so).
pub const PROVIDERS: &[&str] = &["openai", "anthropic", "sampling", "scripted"];

/// What an `[agent]` table may hold, for
/// [`treefile::Loader::agents`](canopy_node::treefile::Loader::agents).
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use canopy_node::{Tree, treefile::Loader};
///
/// let root = Loader::new().agents(canopy_agent::schema()).load("team.toml".as_ref())?;
/// let tree = Tree::builder(root).agents(canopy_agent::factory()).build().await?;
/// # Ok(()) }
/// ```
pub fn schema() -> AgentSchema {
    let schema = PROVIDERS.iter().fold(AgentSchema::new(), |schema, &name| {
        let needs: &[&str] = match name {
            "openai" | "anthropic" => &["model"],
            "scripted" => &["script"],
            _ => &[],
        };
        schema.provider(name, needs)
    });
    schema
        .key("model", KeyKind::Text, "the model's name")
        .key("base_url", KeyKind::Url, "the provider's base URL")
        .key("api_key_env", KeyKind::Secret, "the API key")
        .key_for("script", KeyKind::File, "a JSON script file", &["scripted"])
        .key("system", KeyKind::Text, "the system prompt")
        .key(
            "max_turns",
            KeyKind::Integer { min: 1, max: 1000 },
            "the most model turns per run",
        )
        .key(
            "max_tokens",
            KeyKind::Integer {
                min: 1,
                max: 1_000_000,
            },
            "the most tokens per model answer",
        )
        .key(
            "temperature",
            KeyKind::Number { min: 0.0, max: 2.0 },
            "the sampling temperature",
        )
        .key(
            "tool",
            KeyKind::ToolName,
            "the name of the tool the agent exposes",
        )
        .key("tool_description", KeyKind::Text, "the tool's description")
        .key(
            "tools",
            KeyKind::Globs,
            "which of its subtree's tools the model sees",
        )
        .key(
            "concurrency",
            KeyKind::Integer { min: 1, max: 256 },
            "the most tool calls run at once within one turn",
        )
        .key("budget", KeyKind::Limits, "the limits of each run")
        .key(
            "pricing",
            KeyKind::Numbers {
                keys: vec!["input".into(), "output".into()],
                min: 0.0,
                max: 1e6,
            },
            "prices in US dollars per million tokens",
        )
}

/// The factory that makes every provider this build supports from a declaration read
/// against [`schema`].
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let loader = canopy_node::treefile::Loader::new().agents(canopy_agent::schema());
/// let root = loader.load(std::path::Path::new("team.toml"))?;
/// let tree = canopy_node::Tree::builder(root).agents(canopy_agent::factory()).build().await?;
/// # Ok(()) }
/// ```
pub fn factory()
-> impl Fn(&NodePath, &AgentDecl) -> Result<Arc<dyn NodeService>, AgentError> + Send + Sync + 'static
{
    |_path: &NodePath, decl: &AgentDecl| {
        let config = config(decl);
        let model = decl.text("model").map(str::to_owned);
        let agent = match decl.provider() {
            "sampling" => Agent::with_host_model(
                SamplingOptions {
                    model_hint: model,
                    max_tokens: max_tokens(decl),
                },
                config,
            ),
            "scripted" => {
                let path = decl
                    .path("script")
                    .ok_or("provider 'scripted' needs a script")?;
                Agent::new(Scripted::from_file(path)?, config)
            }
            #[cfg(feature = "openai")]
            "openai" => {
                let mut model = OpenAiConfig::new(model.unwrap_or_default());
                if let Some(url) = decl.text("base_url") {
                    model = model.base_url(url);
                }
                if let Some(key) = decl.secret("api_key_env") {
                    model = model.api_key(key);
                }
                Agent::new(OpenAi::new(model)?, config)
            }
            #[cfg(feature = "anthropic")]
            "anthropic" => {
                let mut model = AnthropicConfig::new(model.unwrap_or_default());
                if let Some(url) = decl.text("base_url") {
                    model = model.base_url(url);
                }
                if let Some(key) = decl.secret("api_key_env") {
                    model = model.api_key(key);
                }
                if let Some(max_tokens) = max_tokens(decl) {
                    model = model.max_tokens(max_tokens);
                }
                Agent::new(Anthropic::new(model)?, config)
            }
            other => {
                return Err(format!(
                    "provider '{other}' is not built into this program (see the canopy-agent \
                     crate's features)"
                )
                .into());
            }
        };
        Ok(Arc::new(agent) as Arc<dyn NodeService>)
    }
}

/// `max_tokens`, which the schema bounds to fit a `u32`.
fn max_tokens(decl: &AgentDecl) -> Option<u32> {
    decl.integer("max_tokens")
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
}

/// The agent's configuration from its declaration.
fn config(decl: &AgentDecl) -> AgentConfig {
    let mut config = AgentConfig::default();
    if let Some(tool) = decl.text("tool") {
        tool.clone_into(&mut config.tool_name);
    }
    if let Some(description) = decl.text("tool_description") {
        description.clone_into(&mut config.description);
    }
    config.system = decl.text("system").map(str::to_owned);
    if let Some(turns) = decl.integer("max_turns") {
        config = config.max_turns(u32::try_from(turns).unwrap_or(u32::MAX));
    }
    config.max_tokens = max_tokens(decl);
    config.temperature = decl.number("temperature").map(|t| t as f32);
    if let Some(limits) = decl.limits("budget") {
        config.limits = limits;
    }
    if let Some((allow, deny)) = decl.globs("tools") {
        let tools = allow.iter().fold(Policy::new(), |p, g| p.allow(g));
        config.tools = deny.iter().fold(tools, |p, g| p.deny(g));
    }
    if let Some(concurrency) = decl.integer("concurrency") {
        config.concurrency = usize::try_from(concurrency).unwrap_or(usize::MAX);
    }
    config.pricing = decl.numbers("pricing").map(|prices| Pricing {
        input_per_mtok: prices.get("input").copied().unwrap_or(0.0),
        output_per_mtok: prices.get("output").copied().unwrap_or(0.0),
    });
    config
}
