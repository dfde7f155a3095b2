//! Property tests of the namespace codec and route planning: determinism, validity of every
//! exposed name, stability when nodes are added or removed, collision-freedom and URI round
//! trips, over hostile names.

use std::collections::{HashMap, HashSet};

use canopy_topology::{
    CapabilityEntry, CapabilityKind, CodecOptions, LinkKind, MountPath, NameStyle, NamespaceCodec,
    NodeId, NodeInfo, NodeName, NodePath, RoutePlan, Topology, plan_routes,
};
use proptest::prelude::*;

const KINDS: [CapabilityKind; 4] = [
    CapabilityKind::Tool,
    CapabilityKind::Prompt,
    CapabilityKind::Resource,
    CapabilityKind::ResourceTemplate,
];

fn is_llm_safe(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn is_mcp_safe(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

fn codec_for(style: NameStyle) -> NamespaceCodec {
    NamespaceCodec::new(CodecOptions {
        style,
        ..CodecOptions::default()
    })
}

fn style() -> impl Strategy<Value = NameStyle> {
    prop_oneof![Just(NameStyle::LlmSafe), Just(NameStyle::Mcp)]
}

/// Capability names meant to break a naive codec.
fn hostile_name() -> impl Strategy<Value = String> {
    let fixed = [
        "",
        " ",
        " \t\n",
        "_",
        "__",
        "___",
        "a__b",
        "a___b",
        "_a",
        "a_",
        "/",
        "a/b",
        ":",
        "a:b",
        "a.b",
        "a_b",
        "a b",
        "a-b",
        "fetch",
        "web__fetch",
        "research__web__fetch",
        "web",
        "🚀",
        "ünïcødé",
        "x___0123456789",
        "x",
        "X",
        "..",
        "-",
    ];
    prop_oneof![
        3 => proptest::sample::select(fixed.to_vec()).prop_map(str::to_owned),
        2 => "[a-z_.]{0,8}",
        1 => "\\PC{0,24}",
        1 => any::<String>(),
        1 => "[a-z]{150,220}",
        1 => "[a-z:/._]{0,80}",
    ]
}

fn node_name() -> impl Strategy<Value = String> {
    let fixed = [
        "a", "b", "web", "research", "a_b", "a__b", "x_", "fetch", "c-1", "conf",
    ];
    prop_oneof![
        3 => proptest::sample::select(fixed.to_vec()).prop_map(str::to_owned),
        1 => "[a-z][a-z0-9_-]{0,31}",
    ]
}

fn kind() -> impl Strategy<Value = CapabilityKind> {
    proptest::sample::select(KINDS.to_vec())
}

fn mount() -> impl Strategy<Value = MountPath> {
    proptest::collection::vec((node_name(), any::<bool>()), 0..4).prop_map(|segments| {
        segments.into_iter().fold(
            MountPath::root(),
            |mount, (name, inline)| match NodeName::new(&name) {
                Ok(name) => mount.child(name, inline),
                Err(_) => mount,
            },
        )
    })
}

#[derive(Clone, Debug)]
struct NodeSpec {
    parent: usize,
    name: String,
    inline: bool,
    caps: Vec<(CapabilityKind, String)>,
}

fn caps() -> impl Strategy<Value = Vec<(CapabilityKind, String)>> {
    proptest::collection::vec((kind(), hostile_name()), 0..5)
}

fn node_spec() -> impl Strategy<Value = NodeSpec> {
    (any::<usize>(), node_name(), any::<bool>(), caps()).prop_map(|(parent, name, inline, caps)| {
        NodeSpec {
            parent,
            name,
            inline,
            caps,
        }
    })
}

#[derive(Clone, Debug)]
struct TreeSpec {
    root_caps: Vec<(CapabilityKind, String)>,
    nodes: Vec<NodeSpec>,
}

fn tree_spec() -> impl Strategy<Value = TreeSpec> {
    (caps(), proptest::collection::vec(node_spec(), 0..8))
        .prop_map(|(root_caps, nodes)| TreeSpec { root_caps, nodes })
}

struct Built {
    topology: Topology,
    caps: HashMap<NodeId, Vec<CapabilityEntry>>,
}

impl Built {
    fn plan(&self, codec: &NamespaceCodec) -> RoutePlan {
        let caps = |id: NodeId| self.caps.get(&id).cloned().unwrap_or_default();
        match plan_routes(&self.topology, codec, &caps) {
            Ok(plan) => plan,
            Err(err) => panic!("planning failed: {err}"),
        }
    }
}

fn entries(caps: &[(CapabilityKind, String)]) -> Vec<CapabilityEntry> {
    caps.iter()
        .map(|(kind, name)| CapabilityEntry {
            kind: *kind,
            name: name.as_str().into(),
        })
        .collect()
}

/// Builds the tree, mounting nodes in spec order; a spec whose name is taken is skipped.
fn build(spec: &TreeSpec) -> Built {
    let root = NodeInfo::new(
        NodePath::root(),
        MountPath::root(),
        "router",
        LinkKind::Root,
    );
    let mut topology = Topology::new(root);
    let mut caps = HashMap::from([(topology.root(), entries(&spec.root_caps))]);
    let mut nodes = vec![topology.root()];
    for node in &spec.nodes {
        let parent = nodes[node.parent % nodes.len()];
        let Ok(name) = NodeName::new(&node.name) else {
            continue;
        };
        let parent_info = topology.node(parent);
        let mut info = NodeInfo::new(
            parent_info.path.child(name.clone()),
            parent_info.mount.child(name, node.inline),
            "server",
            LinkKind::InProcess,
        );
        info.inline = node.inline;
        if let Ok(id) = topology.add_child(parent, info) {
            caps.insert(id, entries(&node.caps));
            nodes.push(id);
        }
    }
    Built { topology, caps }
}

fn names(plan: &RoutePlan, kind: CapabilityKind) -> Vec<String> {
    plan.routes(kind)
        .iter()
        .map(|route| route.exposed.to_string())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn encoding_is_deterministic(mount in mount(), name in hostile_name(), style in style()) {
        let codec = codec_for(style);
        prop_assert_eq!(codec.encode_name(&mount, &name), codec.encode_name(&mount, &name));
        prop_assert_eq!(
            codec.encode_name_disambiguated(&mount, &name),
            codec_for(style).encode_name_disambiguated(&mount, &name)
        );
        prop_assert_eq!(codec.encode_uri(&mount, &name), codec.encode_uri(&mount, &name));
    }

    #[test]
    fn planning_is_deterministic(spec in tree_spec(), style in style()) {
        let codec = codec_for(style);
        let (first, second) = (build(&spec).plan(&codec), build(&spec).plan(&codec));
        for kind in KINDS {
            prop_assert_eq!(names(&first, kind), names(&second, kind));
        }
    }

    #[test]
    fn encoded_names_are_valid(mount in mount(), name in hostile_name()) {
        let llm = codec_for(NameStyle::LlmSafe);
        let encoded = llm.encode_name(&mount, &name);
        prop_assert!(is_llm_safe(&encoded), "{:?} -> {:?}", name, encoded);
        let encoded = llm.encode_name_disambiguated(&mount, &name);
        prop_assert!(is_llm_safe(&encoded), "{:?} -> {:?}", name, encoded);
        let mcp = codec_for(NameStyle::Mcp);
        let encoded = mcp.encode_name(&mount, &name);
        prop_assert!(is_mcp_safe(&encoded), "{:?} -> {:?}", name, encoded);
        let encoded = mcp.encode_name_disambiguated(&mount, &name);
        prop_assert!(is_mcp_safe(&encoded), "{:?} -> {:?}", name, encoded);
    }

    #[test]
    fn planned_names_are_valid(spec in tree_spec(), style in style()) {
        let valid = match style {
            NameStyle::LlmSafe => is_llm_safe,
            NameStyle::Mcp => is_mcp_safe,
        };
        let plan = build(&spec).plan(&codec_for(style));
        for kind in [CapabilityKind::Tool, CapabilityKind::Prompt] {
            for name in names(&plan, kind) {
                prop_assert!(valid(&name), "{:?}", name);
            }
        }
    }

    #[test]
    fn mounting_a_later_node_renames_nothing(
        spec in tree_spec(),
        extra in node_spec(),
        style in style(),
    ) {
        let codec = codec_for(style);
        let mut grown = spec.clone();
        grown.nodes.push(extra);
        let (small, big) = (build(&spec).plan(&codec), build(&grown).plan(&codec));
        for kind in KINDS {
            // Adding: every existing capability keeps its name.
            for route in small.routes(kind) {
                let after = big.by_id(&route.id).map(|r| r.exposed.clone());
                prop_assert_eq!(after, Some(route.exposed.clone()), "{}", route.id);
            }
            // Removing the later node: every remaining capability keeps its name.
            for route in big.routes(kind) {
                if let Some(before) = small.by_id(&route.id) {
                    prop_assert_eq!(&before.exposed, &route.exposed, "{}", route.id);
                }
            }
        }
    }

    #[test]
    fn exposed_names_are_unique_and_resolve(spec in tree_spec(), style in style()) {
        let plan = build(&spec).plan(&codec_for(style));
        for kind in KINDS {
            let routes = plan.routes(kind);
            let unique: HashSet<&str> = routes.iter().map(|r| &*r.exposed).collect();
            prop_assert_eq!(unique.len(), routes.len());
            for route in routes {
                let found = plan.lookup(kind, &route.exposed).map(|r| &r.id);
                prop_assert_eq!(found, Some(&route.id));
                let by_id = plan.by_id(&route.id).map(|r| &r.exposed);
                prop_assert_eq!(by_id, Some(&route.exposed));
            }
        }
    }

    #[test]
    fn resource_uris_round_trip(spec in tree_spec(), style in style()) {
        let plan = build(&spec).plan(&codec_for(style));
        for route in plan.routes(CapabilityKind::Resource) {
            let resolved = plan.resolve_uri(&route.exposed);
            prop_assert_eq!(resolved, Some((route.node, route.id.name.to_string())));
        }
    }
}

/// The near-duplicates named in the design, planned together.
#[test]
fn hostile_near_duplicates_plan_cleanly() {
    let caps = |names: &[&str]| {
        names
            .iter()
            .map(|n| (CapabilityKind::Tool, (*n).to_owned()))
            .collect::<Vec<_>>()
    };
    let node = |parent: usize, name: &str, inline: bool, tools: &[&str]| NodeSpec {
        parent,
        name: name.to_owned(),
        inline,
        caps: caps(tools),
    };
    let spec = TreeSpec {
        root_caps: caps(&["a.b", "a_b", "fetch", "research__web__fetch"]),
        nodes: vec![
            node(0, "research", false, &["web__fetch", "fetch"]),
            node(1, "web", false, &["fetch"]),
            node(0, "conf", true, &["a.b", "a_b", "fetch"]),
            node(1, "inl", true, &["fetch", "web__fetch"]),
        ],
    };
    for style in [NameStyle::LlmSafe, NameStyle::Mcp] {
        let plan = build(&spec).plan(&codec_for(style));
        let tools = names(&plan, CapabilityKind::Tool);
        let unique: HashSet<&String> = tools.iter().collect();
        assert_eq!(tools.len(), 12);
        assert_eq!(unique.len(), 12, "{tools:?}");
        assert_eq!(plan.collisions().len(), 5, "{:?}", plan.collisions());
        let web_fetch = plan.lookup(CapabilityKind::Tool, "research__web__fetch");
        assert_eq!(
            web_fetch.map(|r| r.id.to_string()).as_deref(),
            Some("research/web/fetch")
        );
    }
}
