//! One root call in flight: its scope (what every node working on it may touch), its event
//! queue, and the driver that carries events up to whoever made the call.
//!
//! A backend working on a call pushes [`CallMsg`]s into the call's queue *synchronously*
//! (from inside the transport that receives them), so by the time a node's result arrives,
//! every progress notification it sent before is already queued: the driver drains the queue
//! before it returns the result, which keeps events in order and before the result, without
//! an extra task hop on the hot path.

use std::{
    collections::VecDeque,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    task::Poll,
};

use canopy_topology::NodePath;
use futures::task::AtomicWaker;
use futures::{FutureExt, StreamExt, future::BoxFuture, stream::FuturesUnordered};
use rmcp::{
    ErrorData as McpError,
    model::{CreateMessageRequestParams, CreateMessageResult, RequestMetaObject},
};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::{
    event::{Answer, CallId, Event, EventKind, NodeState, Question},
    upstream::Upstream,
};

/// A message a node sends towards the caller of a root call.
#[derive(Debug)]
pub(crate) enum CallMsg {
    /// An event to pass on (progress, log, prompt, …).
    Event(Event),
    /// A node asks something of the caller (sampling, roots).
    Ask(CallerRequest),
}

/// What a node may ask of the caller besides a question: answered on the caller's session,
/// or, for a stateless caller, raised in the call's `input_required` and answered by its
/// retry.
#[derive(Debug)]
pub(crate) enum CallerRequest {
    /// A completion from the caller's model (MCP sampling).
    Sample {
        path: NodePath,
        params: Box<CreateMessageRequestParams>,
        /// The key a child used for this request in its own `input_required`, reused
        /// upstream when it is free.
        key: Option<String>,
        reply: oneshot::Sender<Result<CreateMessageResult, McpError>>,
    },
    /// The caller's roots (`roots/list`; the answer is the `ListRootsResult` as JSON).
    Roots {
        /// The key a child used for this request in its own `input_required`.
        key: Option<String>,
        reply: oneshot::Sender<Result<serde_json::Value, McpError>>,
    },
}

impl CallerRequest {
    /// The key a child chose for this request.
    fn key(&self) -> Option<&str> {
        match self {
            Self::Sample { key, .. } | Self::Roots { key, .. } => key.as_deref(),
        }
    }

    /// Asks the caller on its session and sends the answer back to the node.
    async fn ask(self, upstream: &Upstream) {
        match self {
            Self::Sample {
                path,
                params,
                reply,
                ..
            } => {
                let _ = reply.send(upstream.sample(&path, *params).await);
            }
            Self::Roots { reply, .. } => {
                let _ = reply.send(upstream.list_roots().await);
            }
        }
    }
}

/// A call's queue of messages for its caller: a mutex-guarded deque and a waker. Cheaper
/// than a channel for the common call that queues nothing (an empty deque allocates
/// nothing); senders never block.
#[derive(Debug, Default)]
pub(crate) struct CallQueue {
    items: Mutex<VecDeque<CallMsg>>,
    waker: AtomicWaker,
}

impl CallQueue {
    /// Queues a message and wakes the driver.
    pub(crate) fn send(&self, msg: CallMsg) {
        self.items
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(msg);
        self.waker.wake();
    }

    fn try_recv(&self) -> Option<CallMsg> {
        self.items
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front()
    }

    /// The next message, when there is one.
    fn recv(&self) -> impl Future<Output = CallMsg> + '_ {
        std::future::poll_fn(move |cx| {
            if let Some(msg) = self.try_recv() {
                return Poll::Ready(msg);
            }
            self.waker.register(cx.waker());
            match self.try_recv() {
                Some(msg) => Poll::Ready(msg),
                None => Poll::Pending,
            }
        })
    }
}

/// What every node working on a call may touch: its id, its event queue, its cancellation
/// token, and the caller's protocol facts. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct CallScope {
    pub(crate) call: Option<CallId>,
    /// Where messages for the caller go; `None` for a quiet call (nobody reads them).
    pub(crate) queue: Option<Arc<CallQueue>>,
    /// Cancels the call; `None` for a quiet call, which only ends by being dropped.
    pub(crate) ct: Option<CancellationToken>,
    pub(crate) caller: Arc<CallerInfo>,
    /// Whether anyone reads the call's events beyond what MCP carries (status events are
    /// only made when someone does).
    pub(crate) listening: bool,
    /// Whether anyone wants the call's progress (a listener, or an MCP client that sent a
    /// progress token): nodes get a progress token only then.
    pub(crate) wants_progress: bool,
    /// Nobody reads the call's events or can answer its prompts (a plain host call): nodes
    /// may serve it without telling its messages apart from other calls'.
    pub(crate) quiet: bool,
    /// The call's budget and deadline, when it has one (shared by every node on the path).
    pub(crate) budget: Option<Arc<crate::budget::Budget>>,
    /// A node is asked what it offers while the tree is built or refreshed: in-process
    /// nodes answer through the tree's shared discovery peer, not a session of their own.
    pub(crate) discovery: bool,
    /// Whether the caller can answer a permission prompt (an MCP client with the
    /// elicitation capability, a host reading the call's events); policies' `ask` rules
    /// fall back to `on_unanswerable` when it cannot.
    pub(crate) can_ask: bool,
}

/// Question ids, unique within the process (so also within a call).
static PROMPT_IDS: AtomicU64 = AtomicU64::new(1);

/// Facts about the caller that travel down with a call.
#[derive(Debug, Default)]
pub(crate) struct CallerInfo {
    /// `_meta` entries to pass on to every node (trace context, the caller's claims and
    /// the like).
    pub(crate) meta: Option<RequestMetaObject>,
    /// Who is calling, when the server face authenticated the request.
    pub(crate) identity: Option<crate::Caller>,
}

impl CallScope {
    pub(crate) fn new(
        call: Option<CallId>,
        ct: CancellationToken,
        caller: Arc<CallerInfo>,
        listening: bool,
    ) -> (Self, Arc<CallQueue>) {
        let queue = Arc::new(CallQueue::default());
        let scope = Self {
            call,
            queue: Some(Arc::clone(&queue)),
            ct: Some(ct),
            caller,
            listening,
            wants_progress: listening,
            quiet: false,
            budget: None,
            discovery: false,
            can_ask: true,
        };
        (scope, queue)
    }

    /// The scope of a quiet call: nobody reads its events or can answer its prompts, and
    /// only dropping it ends it early, so it needs no queue and no token of its own.
    pub(crate) fn quiet(call: Option<CallId>, caller: Arc<CallerInfo>) -> Self {
        Self {
            call,
            queue: None,
            ct: None,
            caller,
            listening: false,
            wants_progress: false,
            quiet: true,
            budget: None,
            discovery: false,
            can_ask: false,
        }
    }

    /// The scopes the caller holds (none for a caller without an identity).
    pub(crate) fn granted(&self) -> &[String] {
        self.caller
            .identity
            .as_ref()
            .map_or(&[][..], crate::Caller::scopes)
    }

    /// Queues an event from the node at `path`.
    pub(crate) fn emit(&self, path: &NodePath, kind: EventKind) {
        if let Some(queue) = &self.queue {
            queue.send(CallMsg::Event(Event::new(kind, path.clone(), self.call)));
        }
    }

    /// A fresh prompt id, unique within the call.
    pub(crate) fn next_prompt_id(&self) -> String {
        format!("p{}", PROMPT_IDS.fetch_add(1, Ordering::Relaxed))
    }

    /// Raises a prompt from the node at `path` and waits for the answer. A prompt nobody
    /// can answer (the caller went away) reads as `Cancel`.
    pub(crate) async fn ask(
        &self,
        path: &NodePath,
        prompt: Question,
        answer: oneshot::Receiver<Answer>,
    ) -> Answer {
        let (Some(_), Some(ct)) = (&self.queue, &self.ct) else {
            return Answer::Cancel;
        };
        self.emit(path, EventKind::Question(prompt));
        tokio::select! {
            answer = answer => answer.unwrap_or(Answer::Cancel),
            () = ct.cancelled() => Answer::Cancel,
        }
    }
}

/// How long the nodes of a cancelled call may go on running to notice the cancellation
/// and clean up before their work is dropped.
pub(crate) const CANCEL_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// The result of a node's work, with panics caught.
type Work<T> = BoxFuture<'static, std::thread::Result<Result<T, McpError>>>;

/// A call's work plus the queue of what its nodes send upstream. Driving it carries every
/// message to the caller, in order, and yields the result only after every message queued
/// before it was passed on. A caller that cannot be asked anything mid-call (MCP 2026-07-28)
/// gets [`Step::NeedsInput`] instead, and the driver can be resumed later with the answers.
pub(crate) struct Driver<T> {
    work: Work<T>,
    queue: Arc<CallQueue>,
    /// Prompts and sampling requests being answered (made on first use: most calls have none).
    waiting: Option<FuturesUnordered<BoxFuture<'static, ()>>>,
    /// Cancels every node working on the call.
    pub(crate) ct: CancellationToken,
}

impl<T> std::fmt::Debug for Driver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver").finish_non_exhaustive()
    }
}

/// What driving a call gave.
#[derive(Debug)]
pub(crate) enum Step<T> {
    /// The call finished.
    Done(Result<T, McpError>),
    /// The call waits for answers only the (stateless) caller can give.
    NeedsInput(Vec<PendingInput>),
}

/// A question a node asked that must go back to a stateless caller as `input_required`.
#[derive(Debug)]
pub(crate) enum PendingInput {
    /// A permission prompt or an elicitation.
    Question { path: NodePath, prompt: Question },
    /// A sampling or `roots/list` request.
    Request(CallerRequest),
}

impl PendingInput {
    /// The key a child chose for this request, to ask the caller under the same one.
    pub(crate) fn child_key(&self) -> Option<&str> {
        match self {
            Self::Question { prompt, .. } => prompt.input_key.as_deref(),
            Self::Request(request) => request.key(),
        }
    }
}

impl<T: Send + 'static> Driver<T> {
    pub(crate) fn new(
        work: impl Future<Output = Result<T, McpError>> + Send + 'static,
        queue: Arc<CallQueue>,
        ct: CancellationToken,
    ) -> Self {
        Self {
            work: Box::pin(std::panic::AssertUnwindSafe(work).catch_unwind()),
            queue,
            waiting: None,
            ct,
        }
    }

    /// Drives the call until it finishes, or until it needs answers the stateless caller
    /// must give. `request_ct` is the cancellation token of the caller's current request.
    pub(crate) async fn run(
        &mut self,
        upstream: &Arc<Upstream>,
        request_ct: &CancellationToken,
    ) -> Step<T> {
        let mut inputs = Vec::new();
        // Fast path: most in-process calls finish on their first poll with nothing queued.
        if let Some(outcome) = (&mut self.work).now_or_never() {
            if self
                .queue
                .items
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_empty()
            {
                return Step::Done(unwind(outcome));
            }
            self.work = Box::pin(futures::future::ready(outcome));
        }
        let outcome = loop {
            tokio::select! {
                biased;
                msg = self.queue.recv() => {
                    self.handle(msg, upstream, &mut inputs).await;
                    if !inputs.is_empty() {
                        while let Some(msg) = self.queue.try_recv() {
                            self.handle(msg, upstream, &mut inputs).await;
                        }
                        return Step::NeedsInput(inputs);
                    }
                }
                Some(()) = next_waiting(&mut self.waiting), if self.waiting.as_ref().is_some_and(|w| !w.is_empty()) => {}
                // Before the work: once cancelled, a call reports so even if a node
                // answered at the same moment.
                () = request_ct.cancelled() => {
                    self.ct.cancel();
                    // Let the nodes see the cancellation and clean up, off the caller's path.
                    let work = std::mem::replace(&mut self.work, Box::pin(futures::future::pending()));
                    tokio::spawn(tokio::time::timeout(CANCEL_GRACE, work));
                    return Step::Done(Err(McpError::internal_error("the call was cancelled", None)));
                }
                outcome = &mut self.work => break outcome,
            }
        };
        while let Some(msg) = self.queue.try_recv() {
            self.handle(msg, upstream, &mut inputs).await;
        }
        Step::Done(unwind(outcome))
    }

    async fn handle(
        &mut self,
        msg: CallMsg,
        upstream: &Arc<Upstream>,
        inputs: &mut Vec<PendingInput>,
    ) {
        match msg {
            CallMsg::Event(event) => {
                let EventKind::Question(prompt) = &event.kind else {
                    upstream.forward(event).await;
                    return;
                };
                upstream.publish(&event);
                let (prompt, path) = (prompt.clone(), event.path.clone());
                if upstream.is_stateless() {
                    inputs.push(PendingInput::Question { path, prompt });
                    return;
                }
                let upstream = Arc::clone(upstream);
                self.waiting
                    .get_or_insert_with(FuturesUnordered::new)
                    .push(Box::pin(async move {
                        if let Some(answer) = upstream.answer_prompt(&path, &prompt).await {
                            prompt.respond(answer);
                        }
                    }));
            }
            CallMsg::Ask(request) => {
                if upstream.is_stateless() {
                    inputs.push(PendingInput::Request(request));
                    return;
                }
                let upstream = Arc::clone(upstream);
                self.waiting
                    .get_or_insert_with(FuturesUnordered::new)
                    .push(Box::pin(async move { request.ask(&upstream).await }));
            }
        }
    }
}

/// A result with a caught panic turned into an error.
fn unwind<T>(outcome: std::thread::Result<Result<T, McpError>>) -> Result<T, McpError> {
    outcome.unwrap_or_else(|panic| {
        Err(McpError::internal_error(
            format!(
                "a node panicked while handling the call: {}",
                panic_message(&*panic)
            ),
            None,
        ))
    })
}

async fn next_waiting(
    waiting: &mut Option<FuturesUnordered<BoxFuture<'static, ()>>>,
) -> Option<()> {
    match waiting {
        Some(waiting) => waiting.next().await,
        None => None,
    }
}

/// Emits the status event for a node on a call, if anyone listens.
pub(crate) fn status(scope: &CallScope, path: &NodePath, state: NodeState, capability: &str) {
    status_with_usage(scope, path, state, capability, None);
}

/// A status event that also reports the usage a node's result carried.
pub(crate) fn status_with_usage(
    scope: &CallScope,
    path: &NodePath,
    state: NodeState,
    capability: &str,
    usage: Option<serde_json::Value>,
) {
    scope.emit(
        path,
        EventKind::Status {
            state,
            capability: Some(capability.to_owned()),
            usage,
        },
    );
}

pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(message) = panic.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = panic.downcast_ref::<String>() {
        message.clone()
    } else {
        "(no message)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::mpsc;

    use super::*;
    use crate::event::QuestionKind;

    fn host() -> (Arc<Upstream>, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Arc::new(Upstream::host(
                Some(tx),
                Arc::new(crate::event::EventHub::new(4)),
                None,
            )),
            rx,
        )
    }

    #[tokio::test]
    async fn events_queued_before_the_result_are_delivered_first() {
        let (upstream, mut events) = host();
        let ct = CancellationToken::new();
        let (scope, queue) = CallScope::new(Some(CallId(1)), ct.clone(), Arc::default(), true);
        let path = NodePath::parse("a/b").expect("path");
        let work = Box::pin(async move {
            for i in 1..=3 {
                scope.emit(
                    &path,
                    EventKind::Progress {
                        progress: f64::from(i),
                        total: None,
                        message: None,
                    },
                );
            }
            Ok::<_, McpError>("done")
        });
        let mut driver = Driver::new(work, queue, ct.clone());
        let Step::Done(result) = driver.run(&upstream, &ct).await else {
            panic!("finished")
        };
        assert_eq!(result.expect("ok"), "done");
        let mut seen = Vec::new();
        while let Ok(event) = events.try_recv() {
            if let EventKind::Progress { progress, .. } = event.kind {
                seen.push(progress);
            }
        }
        assert_eq!(seen, [1.0, 2.0, 3.0]);
    }

    #[tokio::test]
    async fn a_panic_in_the_work_is_an_error_naming_the_panic() {
        let (upstream, _events) = host();
        let ct = CancellationToken::new();
        let (_scope, queue) = CallScope::new(None, ct.clone(), Arc::default(), true);
        let work: BoxFuture<'static, Result<(), McpError>> = Box::pin(async { panic!("boom") });
        let Step::Done(result) = Driver::new(work, queue, ct.clone())
            .run(&upstream, &ct)
            .await
        else {
            panic!("finished")
        };
        assert_eq!(
            result.expect_err("panicked").message,
            "a node panicked while handling the call: boom"
        );
    }

    #[tokio::test]
    async fn a_stateless_caller_gets_the_prompts_back_and_the_call_resumes() {
        let upstream = Arc::new(Upstream::stateless_for_tests(Arc::new(
            crate::event::EventHub::new(4),
        )));
        let ct = CancellationToken::new();
        let (scope, queue) = CallScope::new(Some(CallId(9)), ct.clone(), Arc::default(), true);
        let work = Box::pin(async move {
            let (prompt, answer) = Question::new(
                scope.next_prompt_id(),
                QuestionKind::Permission,
                "ok?".into(),
                serde_json::json!({}),
            );
            Ok::<_, McpError>(scope.ask(&NodePath::root(), prompt, answer).await)
        });
        let mut driver = Driver::new(work, queue, ct.clone());
        let step = driver.run(&upstream, &ct).await;
        let Step::NeedsInput(inputs) = step else {
            panic!("needs input, got {step:?}")
        };
        let [PendingInput::Question { prompt, .. }] = inputs.as_slice() else {
            panic!("one prompt")
        };
        assert_eq!(prompt.message, "ok?");
        assert!(prompt.respond(Answer::accept()));
        let Step::Done(result) = driver.run(&upstream, &ct).await else {
            panic!("finished")
        };
        assert_eq!(result.expect("ok"), Answer::accept());
    }

    #[tokio::test]
    async fn cancelling_the_request_cancels_the_call() {
        let (upstream, _events) = host();
        let call_ct = CancellationToken::new();
        let request_ct = CancellationToken::new();
        let (scope, queue) = CallScope::new(None, call_ct.clone(), Arc::default(), true);
        let work = Box::pin(async move {
            scope.ct.clone().expect("a token").cancelled().await;
            Ok::<_, McpError>(())
        });
        request_ct.cancel();
        let Step::Done(result) = Driver::new(work, queue, call_ct.clone())
            .run(&upstream, &request_ct)
            .await
        else {
            panic!("finished")
        };
        assert_eq!(
            result.expect_err("cancelled").message,
            "the call was cancelled"
        );
        assert!(call_ct.is_cancelled());
    }
}
