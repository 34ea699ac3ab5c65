//! The memory manager's event loop: every message on its endpoint is a realm thread's
//! request (about itself, or to the broker) or a realm thread's fault, told apart by the
//! badge the kernel delivered (which names the realm and the thread), never by what the
//! message says.
//!
//! What a thread's `ExitThread`, `Exit`, fault or panic leads to is the thread table's
//! decision (`supervisor::threads`, one per realm): a spawned thread ends (its joiner is
//! answered) or, under `on_thread_fault = "stop-thread"`, is sent alone to answer the client
//! it owes (`start::ABORT_THREAD`); otherwise the realm ends. What happens to a realm that
//! ends is the supervisor's decision (`supervisor` crate), carried out by
//! [`crate::lifecycle`]: the broker first withdraws its services and connections (so no
//! client waits on a dead service), a realm that may owe a reply has every live thread sent
//! back to answer (`start::ABORT`), and once each has reported, its memory comes back, and a
//! restartable realm is started again. With `run = "until-idle"`, once every realm has stopped or only serves,
//! nothing can start new work: the servers are stopped the same way and the run ends.

use crate::mm_println;
use ::console::Class;
use broker::{Broker, Request};
use heapless::Vec;
use ipc::abi;
use ipc::realm::{RealmReply, RealmRequest, RealmResponse, encode_realm_reply};
use ipc::{Badge, BadgeKind, Message, ThreadEnding, ThreadId};
use sel4::MessageInfo;
use sel4::fault::Fault;
use service_registry::ConnectionLookup;
use supervisor::Ending;
use supervisor::threads::{Join, Next, Spawn, ThreadEvent};
use system_config::image::BootImage;
use system_config::{RunPolicy, SystemConfig};
use vocabulary::limits::MAX_REALMS;

use crate::brokering::{BROKER_SLOTS, Executor};
use crate::console::Refusal;
use crate::deadline::{self, SignalError, Sleepers, TimedSignals};
use crate::lifecycle::{Lifecycle, PendingRestarts, Realms};
use crate::realm::{self, Realm};
use crate::resources::RootResources;
use crate::timer::Timer;

/// The realms and the broker, served from one endpoint.
pub struct Server<'r> {
    /// The realms' kernel objects.
    pub realms: &'r mut Vec<Realm, MAX_REALMS>,
    /// The realms' states.
    pub supervisor: &'r mut Realms,
    pub broker: &'r mut Broker<'static>,
    /// For restarting realms.
    pub config: &'r SystemConfig,
    pub image: &'r BootImage<'r>,
    /// The timer, whose ticks arrive on the endpoint with the timer badge.
    pub timer: &'r mut Timer,
    /// The realms asleep.
    pub sleepers: &'r mut Sleepers,
    /// The realms' timed signals.
    pub timed_signals: &'r mut TimedSignals,
    /// The realms waiting for their restart.
    pub restarts: &'r mut PendingRestarts,
}

impl Server<'_> {
    /// Serves the realms. With `run = "forever"` this never returns. With `run =
    /// "until-idle"` it returns once every realm has stopped or only serves, after stopping
    /// the servers.
    pub fn run(&mut self, root: &mut RootResources<'_>) {
        let forever = self.config.settings.run == RunPolicy::Forever;
        let mut said_all_stopped = false;
        while forever || !self.supervisor.is_idle() {
            let all_stopped = self.supervisor.realms().all(|(_, state)| state.is_stopped());
            if forever && all_stopped && !said_all_stopped {
                mm_println!(
                    Class::System,
                    "memory manager: no realm is running; the system stays up, with nothing to serve, until the machine is switched off"
                );
                crate::console::event(Class::System, "all-realms-stopped", &[]);
            }
            said_all_stopped = all_stopped;
            self.serve_one(root);
        }
        self.lifecycle(root, |supervisor, sink| supervisor.shutdown(sink));
    }

    /// Receives one message on the memory manager's endpoint and handles it.
    fn serve_one(&mut self, root: &mut RootResources<'_>) {
        let received = root.endpoint.recv(root.ipc);
        match Badge::decode(received.badge) {
            Ok(BadgeKind::Realm { realm: id, thread }) => match self.running(id) {
                Some(index) => self.handle_request(root, index, thread, received.info),
                None => mm_println!(
                    Class::System,
                    "memory manager: a message from realm {} that is not running; ignored",
                    id.0
                ),
            },
            Ok(BadgeKind::Fault { realm: id, thread }) => match self.running(id) {
                Some(index) => self.handle_fault(root, index, thread, received.info),
                None => mm_println!(
                    Class::System,
                    "memory manager: a fault of realm {} that is not running; ignored",
                    id.0
                ),
            },
            Ok(BadgeKind::Timer) => self.tick(root),
            Ok(BadgeKind::Connection { connection, .. }) => {
                mm_println!(
                    Class::System,
                    "memory manager: a message with the badge of {connection}, not of a realm; ignored"
                )
            }
            Ok(BadgeKind::Inbox { thread }) => {
                mm_println!(
                    Class::System,
                    "memory manager: a message with the badge of thread {}'s inbox, not of a realm; ignored",
                    thread
                )
            }
            Ok(BadgeKind::Notification { bits }) => {
                mm_println!(
                    Class::System,
                    "memory manager: a signal meant for a realm's notification (bits {bits:#x}); ignored"
                )
            }
            Err(error) => {
                mm_println!(
                    Class::System,
                    "memory manager: a message with a bad badge ({error}); ignored"
                )
            }
        }
    }

    /// A tick of the timer: acknowledged (so that the next one arrives), then the sleeps,
    /// call deadlines and restarts it makes due (`on_tick`).
    fn tick(&mut self, root: &mut RootResources<'_>) {
        if let Err(error) = self.timer.ack() {
            mm_println!(Class::System, "memory manager: the timer: {error}");
        }
        if self.needs_ticks() {
            self.on_tick(root);
        }
    }

    /// Runs one step of the supervisor and carries out what it decides.
    fn lifecycle(
        &mut self,
        root: &mut RootResources<'_>,
        step: impl FnOnce(&mut Realms, &mut dyn supervisor::Sink) -> Result<(), supervisor::Error>,
    ) {
        Lifecycle::new(root, self.realms, self.broker, self.config, self.image, self.restarts)
            .drive(self.supervisor, step);
    }

    /// Realm `index`, an index that [`Server::running`] found in `realms` by position.
    /// `realms` never shrinks (a stopped realm keeps its entry, a restarted one replaces it),
    /// so such an index stays in bounds: this is the one place the server indexes it.
    #[allow(clippy::indexing_slicing)]
    fn realm(&self, index: usize) -> &Realm {
        &self.realms[index]
    }

    /// Realm `index`, to change; in bounds for the reason [`Server::realm`] gives.
    #[allow(clippy::indexing_slicing)]
    fn realm_mut(&mut self, index: usize) -> &mut Realm {
        &mut self.realms[index]
    }

    /// The index of running realm `id` in `realms`.
    fn running(&self, id: ipc::RealmId) -> Option<usize> {
        if !self.supervisor.is_running(id) {
            return None;
        }
        self.realms.iter().position(|realm| realm.built && realm.id.0 == id.0)
    }

    fn handle_fault(
        &mut self,
        root: &mut RootResources<'_>,
        index: usize,
        thread: ThreadId,
        info: MessageInfo,
    ) {
        let name = self.realm(index).name.clone();
        match Fault::decode(info, root.ipc.message(info)) {
            Ok(fault) => {
                mm_println!(
                    Class::Fault,
                    "memory manager: realm {name} thread {} faulted: {}",
                    thread,
                    describe(&fault)
                );
                fault_event(&name, thread, &fault);
                self.thread_event(root, index, thread, ThreadEvent::Faulted);
            }
            // Not a fault the kernel sends: the realm wrote to its own fault endpoint.
            Err(error) => {
                let refusal = Refusal {
                    realm: self.id(index),
                    kind: "malformed-request",
                    subject: "not-a-fault",
                    rule: 0,
                };
                if crate::console::refusal(
                    refusal,
                    format_args!("a message on its fault endpoint that is not a fault"),
                ) {
                    mm_println!(
                        Class::Denial,
                        "memory manager: realm {name} sent a message that is not a fault on its fault endpoint ({error}); ignored"
                    );
                    crate::console::event(
                        Class::Denial,
                        "malformed-request",
                        &[("realm", &name), ("reason", &"not-a-fault")],
                    );
                }
                reply(
                    root,
                    &ipc::encode_reply(&Err(ipc::Error::MalformedRequest {
                        reason: ipc::Malformed::UnknownLabel { label: info.label() },
                    })),
                );
            }
        }
    }

    /// Handles one request of thread `thread` of realm `index`, replying unless the realm is
    /// gone or the thread waits (parked, or ended).
    fn handle_request(
        &mut self,
        root: &mut RootResources<'_>,
        index: usize,
        thread: ThreadId,
        info: MessageInfo,
    ) {
        let realm_request = RealmRequest::decode(info.label(), root.ipc.message(info));
        let name = self.realm(index).name.clone();
        let answer: RealmReply = match realm_request {
            Ok(None) => return self.handle_broker_request(root, index, info),
            Ok(Some(RealmRequest::WhoAmI)) => match ipc::Name::new(&name) {
                Ok(name) => Ok(RealmResponse::Identity { name }),
                Err(_) => Err(ipc::Error::NotFound { what: ipc::Missing::Realm }),
            },
            Ok(Some(RealmRequest::AllocatePages { pages })) => {
                match self.realm_mut(index).allocate_pages(root, pages) {
                    Ok(address) => Ok(RealmResponse::Pages { address, pages }),
                    Err(error) => {
                        let what = error.resource().unwrap_or(ipc::Resource::RealmMemory);
                        let refusal = Refusal {
                            realm: self.id(index),
                            kind: "quota-refused",
                            subject: what.name(),
                            rule: 0,
                        };
                        if crate::console::refusal(
                            refusal,
                            format_args!("pages refused ({})", what.name()),
                        ) {
                            mm_println!(
                                Class::Denial,
                                "memory manager: realm {name} asked for {pages} pages: refused, {error}"
                            );
                            crate::console::event(
                                Class::Denial,
                                "quota-refused",
                                &[("realm", &name), ("resource", &what.name()), ("pages", &pages)],
                            );
                        }
                        match error.resource() {
                            Some(what) => Err(ipc::Error::QuotaExceeded { what }),
                            // Not a limit of the realm's: the memory manager itself failed.
                            None => {
                                Err(ipc::Error::QuotaExceeded { what: ipc::Resource::RealmMemory })
                            }
                        }
                    }
                }
            }
            Ok(Some(RealmRequest::Exit)) => {
                return self.thread_event(root, index, thread, ThreadEvent::Exit);
            }
            Ok(Some(RealmRequest::ExitThread)) => {
                return self.thread_event(root, index, thread, ThreadEvent::ExitThread);
            }
            Ok(Some(RealmRequest::Spawn { argument })) => self.spawn(root, index, argument),
            Ok(Some(RealmRequest::Join { thread: target })) => {
                match self.realm_mut(index).threads.join(thread, target) {
                    Ok(Join::Now(ending)) => Ok(RealmResponse::Joined { thread: target, ending }),
                    Ok(Join::Parked) => match deadline::park(self.realm_mut(index), thread) {
                        // Answered when `target` ends (`thread_event`, `Next::Ended`).
                        Ok(()) => return,
                        Err(error) => {
                            mm_println!(
                                Class::System,
                                "memory manager: realm {name} thread {thread} cannot wait to join: {error}"
                            );
                            Err(ipc::Error::QuotaExceeded { what: ipc::Resource::BrokerSlots })
                        }
                    },
                    Err(refused) => Err(refused.into()),
                }
            }
            Ok(Some(RealmRequest::Detach { thread: target })) => {
                match self.realm_mut(index).threads.detach(thread, target) {
                    Ok(_) => Ok(RealmResponse::Done),
                    Err(refused) => Err(refused.into()),
                }
            }
            Ok(Some(RealmRequest::Usage)) => {
                let realm = self.realm(index);
                Ok(RealmResponse::Usage {
                    budget_free_bytes: realm.budget_free_bytes(),
                    object_slots_free: realm.object_slots_free(),
                    threads: realm.threads.threads(),
                })
            }
            Ok(Some(RealmRequest::Panicked { part })) => {
                let realm = self.realm_mut(index);
                if realm.panic_thread != thread {
                    // Parts of another thread's panic: this one's message starts afresh.
                    realm.panic_text.clear();
                    realm.panic_thread = thread;
                }
                let text = &mut realm.panic_text;
                let room = text.capacity() - text.len();
                let _ =
                    text.extend_from_slice(part.as_bytes().get(..room).unwrap_or(part.as_bytes()));
                if !part.last {
                    Ok(RealmResponse::Done)
                } else {
                    let message = ipc::realm::Text::truncated(text);
                    mm_println!(
                        Class::Fault,
                        "memory manager: realm {name} thread {} panicked at {message}",
                        thread
                    );
                    crate::console::event(
                        Class::Fault,
                        "realm-panicked",
                        &[("realm", &name), ("thread", &thread), ("message", &message)],
                    );
                    text.clear();
                    return self.thread_event(root, index, thread, ThreadEvent::Panicked);
                }
            }
            Ok(Some(RealmRequest::Resources)) => {
                let free_slots = root.slots.free_count()
                    + root.pool.spare_blocks()
                    + usize::from(BROKER_SLOTS).saturating_sub(self.broker.broker_slots_in_use());
                Ok(RealmResponse::Resources {
                    free_bytes: root.pool.free_bytes(),
                    free_slots: free_slots as u64,
                })
            }
            Ok(Some(RealmRequest::Serving)) => {
                match self.supervisor.serving(self.realm(index).id) {
                    Ok(()) => Ok(RealmResponse::Done),
                    Err(error) => {
                        mm_println!(Class::System, "memory manager: {error}");
                        Ok(RealmResponse::Done)
                    }
                }
            }
            Ok(Some(RealmRequest::Peer { connection })) => self.peer(index, connection),
            Ok(Some(RealmRequest::Sleep { until_ns })) => {
                let now = deadline::now_ns(root);
                if until_ns <= now {
                    // A sleep ends after every timed signal due by its end, as on a tick.
                    self.timed_signals.signal_due(self.realms, now);
                    Ok(RealmResponse::Done)
                } else {
                    // Split borrows of two fields; `index` is in bounds as `realm` says.
                    #[allow(clippy::indexing_slicing)]
                    let realm = &mut self.realms[index];
                    match self.sleepers.sleep(realm, index, thread, until_ns) {
                        // Answered by the tick that finds it due.
                        Ok(()) => return,
                        Err(error) => {
                            mm_println!(
                                Class::System,
                                "memory manager: realm {name} cannot sleep: {error}"
                            );
                            Err(ipc::Error::QuotaExceeded { what: ipc::Resource::BrokerSlots })
                        }
                    }
                }
            }
            Ok(Some(RealmRequest::WatchDeadlines)) => {
                self.realm_mut(index).watch_deadlines = true;
                Ok(RealmResponse::Done)
            }
            Ok(Some(RealmRequest::BindNotification)) => self.bind_notification(root, index),
            Ok(Some(RealmRequest::SignalAfter { nanoseconds })) => {
                let now = deadline::now_ns(root);
                // Split borrows of two fields; `index` is in bounds as `realm` says.
                #[allow(clippy::indexing_slicing)]
                let realm = &mut self.realms[index];
                match self.timed_signals.signal_after(realm, now, nanoseconds) {
                    Ok(()) => Ok(RealmResponse::Done),
                    Err(SignalError::NotBound) => {
                        let refusal = Refusal {
                            realm: self.id(index),
                            kind: "signal-refused",
                            subject: "not-bound",
                            rule: 0,
                        };
                        if crate::console::refusal(
                            refusal,
                            format_args!("a timed signal refused (no bound notification)"),
                        ) {
                            mm_println!(
                                Class::Denial,
                                "memory manager: realm {name} asked for a timed signal without a bound notification: refused"
                            );
                            crate::console::event(
                                Class::Denial,
                                "signal-refused",
                                &[("realm", &name), ("reason", &"not-bound")],
                            );
                        }
                        Err(ipc::Error::NotFound { what: ipc::Missing::Notification })
                    }
                    // As a sleep the memory manager cannot arrange: its own table is full.
                    Err(SignalError::TableFull) => {
                        mm_println!(
                            Class::System,
                            "memory manager: realm {name} cannot have a timed signal: the table is full"
                        );
                        Err(ipc::Error::QuotaExceeded { what: ipc::Resource::BrokerSlots })
                    }
                }
            }
            Ok(Some(RealmRequest::Print { line })) => {
                let mut text = [0u8; ipc::console::MAX_LINE_BYTES];
                let text = ipc::console::line_text(root.ipc.message(info), line, &mut text);
                crate::console::realm_line(self.realm(index).id, text, line.cut);
                Ok(RealmResponse::Done)
            }
            Err(reason) => {
                let refusal = Refusal {
                    realm: self.id(index),
                    kind: "malformed-request",
                    subject: reason.name(),
                    rule: 0,
                };
                if crate::console::refusal(refusal, format_args!("a malformed request ({reason})"))
                {
                    mm_println!(
                        Class::Denial,
                        "memory manager: realm {name} sent a malformed request: {reason}"
                    );
                    crate::console::event(
                        Class::Denial,
                        "malformed-request",
                        &[("realm", &name), ("reason", &reason.name()), ("detail", &reason)],
                    );
                }
                Err(ipc::Error::MalformedRequest { reason })
            }
        };
        reply(root, &encode_realm_reply(&answer));
    }

    /// Realm `index` asks for its notification: made and bound once (an event says so), then
    /// answered `Done` again and again; a budget or slot range with no room for it is
    /// refused with the limit it hit (`quota-refused`).
    fn bind_notification(&mut self, root: &mut RootResources<'_>, index: usize) -> RealmReply {
        let name = self.realm(index).name.clone();
        match self.realm_mut(index).bind_notification(root) {
            Ok(true) => {
                mm_println!(
                    Class::Decision,
                    "memory manager: realm {name} has its notification, made from its budget and bound to its thread"
                );
                crate::console::event(Class::Decision, "notification-bound", &[("realm", &name)]);
                Ok(RealmResponse::Done)
            }
            Ok(false) => Ok(RealmResponse::Done),
            Err(error) => {
                let what = error.resource().unwrap_or(ipc::Resource::RealmMemory);
                // Told apart from refused pages (same kind, same resource) by its subject.
                let refusal = Refusal {
                    realm: self.id(index),
                    kind: "quota-refused",
                    subject: "notification",
                    rule: what.code() as u8,
                };
                if crate::console::refusal(
                    refusal,
                    format_args!("a notification refused ({})", what.name()),
                ) {
                    mm_println!(
                        Class::Denial,
                        "memory manager: realm {name} asked for a notification: refused, {error}"
                    );
                    crate::console::event(
                        Class::Denial,
                        "quota-refused",
                        &[
                            ("realm", &name),
                            ("resource", &what.name()),
                            ("object", &"notification"),
                        ],
                    );
                }
                Err(ipc::Error::QuotaExceeded { what })
            }
        }
    }

    /// Which realm is the client of `connection`, asked by the owner of its service.
    fn peer(&self, index: usize, connection: ipc::ConnectionId) -> RealmReply {
        let registry = self.broker.registry();
        let ConnectionLookup::Open(open) = registry.connection(connection) else {
            return Err(ipc::Error::NotFound { what: ipc::Missing::Connection });
        };
        let owner = registry.service(&open.service).map(|service| service.owner);
        if owner != Some(self.realm(index).id) {
            // The answer a connection that never existed gets: no way to map the table.
            return Err(ipc::Error::NotFound { what: ipc::Missing::Connection });
        }
        // The configuration's names passed the same rule (`vocabulary::Name`) at boot.
        match self.broker.realm_name(open.client).and_then(|name| ipc::Name::new(name).ok()) {
            Some(name) => Ok(RealmResponse::Identity { name }),
            None => Err(ipc::Error::NotFound { what: ipc::Missing::Realm }),
        }
    }

    fn handle_broker_request(
        &mut self,
        root: &mut RootResources<'_>,
        index: usize,
        info: MessageInfo,
    ) {
        let caller = self.realm(index).id;
        let request = Request::decode(info.label(), root.ipc.message(info));
        let mut executor = Executor::new(root, self.realms, Some(index));
        let mut answer = self.broker.handle_decoded(caller, request, &mut executor);
        let (failure, endpoint_failed) = (executor.failure, executor.endpoint_failed);
        if let Some(error) = failure {
            mm_println!(
                Class::System,
                "memory manager: carrying out realm {}'s request: {error}",
                self.realm(index).name
            );
        }
        // A service whose endpoint could not be made (its realm's budget is spent) must not
        // stay registered: the broker withdraws it and the realm hears why.
        if let (true, Ok(Request::Register { service, .. })) = (endpoint_failed, request) {
            let mut executor = Executor::new(root, self.realms, Some(index));
            self.broker.withdraw_service(&service, &mut executor);
            answer = Err(ipc::Error::QuotaExceeded { what: ipc::Resource::RealmMemory });
        }
        if let Err(ipc::Error::QuotaExceeded { what }) = answer {
            let refusal = Refusal {
                realm: self.id(index),
                kind: "quota-refused",
                subject: what.name(),
                rule: 0,
            };
            let name = &self.realm(index).name;
            if crate::console::refusal(refusal, format_args!("a request refused ({})", what.name()))
            {
                mm_println!(
                    Class::Denial,
                    "memory manager: realm {name} refused: quota exceeded: {what}"
                );
                crate::console::event(
                    Class::Denial,
                    "quota-refused",
                    &[("realm", name), ("resource", &what.name())],
                );
            }
        }
        reply(root, &ipc::encode_reply(&answer));
    }

    /// One tick of the timer: wakes the realms whose sleep is due and cancels the calls past
    /// their deadline (`deadline.rs`).
    pub fn on_tick(&mut self, root: &mut RootResources<'_>) {
        let now = deadline::now_ns(root);
        self.sleepers.wake_due(root, self.realms, now);
        self.timed_signals.signal_due(self.realms, now);
        let instant = supervisor::Instant::from_nanos(now);
        while let Some((_, realm)) = self.restarts.pop_expired(instant) {
            self.lifecycle(root, |supervisor, sink| supervisor.restart_due(realm, instant, sink));
        }
        for index in 0..self.realms.len() {
            let realm = self.realm(index);
            if !realm.built {
                self.sleepers.forget(index);
                continue;
            }
            if realm.abort_due.is_some_and(|due| due <= now) {
                self.abort_timed_out(root, index);
                continue;
            }
            if realm.watch_deadlines && self.supervisor.is_running(self.id(index)) {
                let waiting = realm.threads.live().iter().filter(|&t| !realm.parked.contains(t));
                for thread in waiting {
                    deadline::cancel_if_overdue(root, realm, thread, sel4::timestamp::now());
                }
            }
        }
    }

    /// Realm `index`'s abort is past its due time (`realm::ABORT_TIMEOUT_NS`): each thread
    /// that has not reported is stopped and counted as reported, so the realm's stop goes on
    /// (the supervisor stops it with the ending that began the abort, whatever is passed
    /// here). Logged as `realm-abort-timeout realm=NAME threads=N`, N the threads stopped.
    fn abort_timed_out(&mut self, root: &mut RootResources<'_>, index: usize) {
        let realm = self.realm_mut(index);
        realm.abort_due = None;
        let Some(remaining) = realm.threads.aborting() else { return };
        let threads = remaining.len();
        mm_println!(
            Class::Fault,
            "memory manager: realm {} did not finish answering its callers within {} ms: the {} of its threads still answering {} stopped, and the realm stops",
            realm.name,
            crate::realm::ABORT_TIMEOUT_NS / 1_000_000,
            threads,
            if threads == 1 { "is" } else { "are" }
        );
        crate::console::event(
            Class::Fault,
            "realm-abort-timeout",
            &[("realm", &realm.name), ("threads", &threads)],
        );
        for thread in remaining.iter() {
            self.stop_waiting(index, thread);
            let realm = self.realm_mut(index);
            realm.suspend_thread(thread);
            match realm.threads.abort_reported(thread) {
                Ok(true) => self.end(root, index, Ending::Exited),
                Ok(false) => {}
                Err(error) => {
                    mm_println!(Class::System, "memory manager: the thread table: {error}")
                }
            }
        }
    }

    /// Whether the timer has work: a realm asleep, a restart waiting, a realm whose call
    /// deadlines are watched, whose timed signal is pending or whose abort has a due time.
    pub fn needs_ticks(&self) -> bool {
        !self.sleepers.is_empty()
            || !self.restarts.is_empty()
            || self.realms.iter().any(|realm| {
                realm.built
                    && (realm.watch_deadlines
                        || realm.timed_signal.is_some()
                        || realm.abort_due.is_some())
            })
    }

    /// The broker's id of realm `index`.
    fn id(&self, index: usize) -> ipc::RealmId {
        self.realm(index).id
    }

    /// Thread `thread` of realm `index` did `event` (asked to end itself or the realm,
    /// faulted, or panicked): the thread table (`supervisor::threads`) says what follows, and
    /// this carries it out. An event of a thread that is not live (a message sent through the
    /// cap of an ended thread by another thread of the realm, which shares the CSpace) is
    /// ignored, as is its sender, which then waits for ever: it harms only its own realm.
    fn thread_event(
        &mut self,
        root: &mut RootResources<'_>,
        index: usize,
        thread: ThreadId,
        event: ThreadEvent,
    ) {
        let next = self.realm_mut(index).threads.ended(thread, event);
        let next = match next {
            Ok(next) => next,
            Err(error) => {
                mm_println!(
                    Class::System,
                    "memory manager: realm {} thread {thread}: {error}; ignored",
                    self.realm(index).name
                );
                return;
            }
        };
        match next {
            Next::EndRealm(ending) => self.end(root, index, ending),
            Next::AbortThread { ending } => {
                self.stop_waiting(index, thread);
                let realm = self.realm_mut(index);
                if let Err(error) = realm.start_thread(root, thread, abi::start::ABORT_THREAD, 0) {
                    mm_println!(
                        Class::Fault,
                        "memory manager: cannot let realm {} thread {thread} answer its caller ({ending}): {error}",
                        realm.name
                    );
                    // As the table says: reported again, so it ends.
                    self.thread_event(root, index, thread, ThreadEvent::Faulted);
                }
            }
            Next::Ended { ending, joiner, freed: _ } => {
                self.stop_waiting(index, thread);
                let realm = self.realm_mut(index);
                realm.suspend_thread(thread);
                if ending != ThreadEnding::Exited {
                    mm_println!(
                        Class::Fault,
                        "memory manager: realm {} thread {thread} {ending} and is stopped; the realm goes on",
                        realm.name
                    );
                    crate::console::event(
                        Class::Fault,
                        "thread-stopped",
                        &[("realm", &realm.name), ("thread", &thread), ("reason", &ending.name())],
                    );
                }
                if let Some(joiner) = joiner {
                    let joined = encode_realm_reply(&Ok(RealmResponse::Joined { thread, ending }));
                    deadline::unpark(root, realm, joiner, &joined);
                }
            }
            Next::AbortReported { complete } => {
                self.stop_waiting(index, thread);
                self.realm_mut(index).suspend_thread(thread);
                if complete {
                    // The supervisor stops the realm with the ending that began the abort.
                    let ending = match event {
                        ThreadEvent::Faulted => Ending::Faulted,
                        ThreadEvent::Panicked => Ending::Panicked,
                        ThreadEvent::Exit | ThreadEvent::ExitThread => Ending::Exited,
                    };
                    self.end(root, index, ending);
                }
            }
        }
    }

    /// Thread `thread` of realm `index` no longer waits for the memory manager: its sleep is
    /// forgotten and its parked reply dropped (it is sent elsewhere, or stops).
    fn stop_waiting(&mut self, index: usize, thread: ThreadId) {
        self.sleepers.forget_thread(index, thread);
        self.realm_mut(index).parked.remove(thread);
    }

    /// Thread `caller`'s `Spawn { argument }` for realm `index`: the thread table's index
    /// (the lowest free one), its objects made first if it never had a thread
    /// (`Realm::make_index`), then its thread started at the program's entry with
    /// `start::THREAD` and `argument`. Refused, with a `quota-refused` event, when
    /// `max_threads` threads exist (`Resource::Threads`) or the objects do not fit (the limit
    /// they hit); nothing is left behind.
    fn spawn(&mut self, root: &mut RootResources<'_>, index: usize, argument: u64) -> RealmReply {
        let realm = self.realm_mut(index);
        let (what, error) = match realm.threads.spawn() {
            Err(refused) => (ipc::Resource::Threads, Err(refused)),
            Ok(Spawn { thread, make }) => {
                let made = if make { realm.make_index(root, thread) } else { Ok(()) };
                let started = made
                    .and_then(|()| realm.start_thread(root, thread, abi::start::THREAD, argument));
                match started {
                    Ok(()) => return Ok(RealmResponse::Spawned { thread }),
                    Err(error) => {
                        let objects_exist = realm.index_made(thread);
                        if let Err(table) = realm.threads.spawn_failed(thread, objects_exist) {
                            mm_println!(Class::System, "memory manager: the thread table: {table}");
                        }
                        (realm::spawn_resource(&error), Ok(error))
                    }
                }
            }
        };
        let refusal = Refusal {
            realm: self.id(index),
            kind: "quota-refused",
            subject: "thread",
            rule: what.code() as u8,
        };
        if crate::console::refusal(refusal, format_args!("a thread refused ({})", what.name())) {
            let name = &self.realm(index).name;
            match error {
                Ok(error) => mm_println!(
                    Class::Denial,
                    "memory manager: realm {name} asked for a thread: refused, {error}"
                ),
                Err(_) => mm_println!(
                    Class::Denial,
                    "memory manager: realm {name} asked for a thread: refused, it has max_threads threads (or is stopping)"
                ),
            }
            crate::console::event(
                Class::Denial,
                "quota-refused",
                &[("realm", name), ("resource", &what.name()), ("object", &"thread")],
            );
        }
        Err(ipc::Error::QuotaExceeded { what })
    }

    /// Realm `index` exited, faulted or panicked: the supervisor decides what follows (see
    /// the `supervisor` crate's rules), given whether the broker says it owns a service.
    fn end(&mut self, root: &mut RootResources<'_>, index: usize, ending: Ending) {
        let id = self.realm(index).id;
        let owns_services = self.broker.registry().services_owned_by(id) > 0;
        let now = supervisor::Instant::from_nanos(deadline::now_ns(root));
        self.lifecycle(root, |supervisor, sink| {
            supervisor.ended(id, ending, owns_services, now, sink)
        });
    }
}

/// Replies to the message being handled.
fn reply(root: &mut RootResources<'_>, message: &Message) {
    match root.ipc.set_message(message.label(), message.words(), &[]) {
        Ok(info) => sel4::ipc::reply(root.ipc, info),
        Err(error) => {
            mm_println!(Class::System, "memory manager: cannot encode a reply: {error}")
        }
    }
}

/// The machine-readable line of a realm thread's fault: `realm-faulted realm=... thread=N
/// fault=vm-fault|cap-fault|unknown-syscall|user-exception` with the fault's own figures
/// (thread 0 is the main thread).
fn fault_event(name: &str, thread: ThreadId, fault: &Fault) {
    let fields: &[(&str, &dyn core::fmt::Display)] = match fault {
        Fault::VmFault { ip, address, .. } => &[
            ("realm", &name),
            ("thread", &thread),
            ("fault", &"vm-fault"),
            ("address", &Hex(*address)),
            ("ip", &Hex(*ip)),
        ],
        Fault::CapFault { ip, address, .. } => &[
            ("realm", &name),
            ("thread", &thread),
            ("fault", &"cap-fault"),
            ("cptr", &Hex(*address)),
            ("ip", &Hex(*ip)),
        ],
        Fault::UnknownSyscall { ip, syscall, .. } => &[
            ("realm", &name),
            ("thread", &thread),
            ("fault", &"unknown-syscall"),
            ("syscall", &(*syscall as i64)),
            ("ip", &Hex(*ip)),
        ],
        Fault::UserException { ip, number, .. } => &[
            ("realm", &name),
            ("thread", &thread),
            ("fault", &"user-exception"),
            ("number", number),
            ("ip", &Hex(*ip)),
        ],
    };
    crate::console::event(Class::Fault, "realm-faulted", fields);
}

/// The name of seL4 5.0.0's debug system call `number` (`include/api/syscall.xml`, the
/// `CONFIG_DEBUG_BUILD` block), if it is one.
fn debug_syscall_name(number: i64) -> Option<&'static str> {
    use sel4::kernel::syscall_number as n;
    Some(match number {
        n::DEBUG_PUT_CHAR => "DebugPutChar",
        n::DEBUG_HALT => "DebugHalt",
        n::DEBUG_CAP_IDENTIFY => "DebugCapIdentify",
        n::DEBUG_SNAPSHOT => "DebugSnapshot",
        n::DEBUG_NAME_THREAD => "DebugNameThread",
        _ => return None,
    })
}

/// A word in hexadecimal, `0x` first.
struct Hex(u64);

impl core::fmt::Display for Hex {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// One line about a fault, for the log.
fn describe(fault: &Fault) -> DescribeFault<'_> {
    DescribeFault(fault)
}

struct DescribeFault<'a>(&'a Fault);

impl core::fmt::Display for DescribeFault<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self.0 {
            Fault::VmFault { ip, address, prefetch, fsr } => write!(
                f,
                "{} at address {address:#x} (instruction {ip:#x}, status {fsr:#x})",
                if prefetch { "bad instruction fetch" } else { "bad memory access" }
            ),
            Fault::CapFault { ip, address, in_receive_phase, lookup_failure } => write!(
                f,
                "capability fault on cptr {address:#x}{} (instruction {ip:#x}): {lookup_failure}",
                if in_receive_phase { " while receiving" } else { "" }
            ),
            Fault::UnknownSyscall { ip, syscall, .. } => {
                let number = syscall as i64;
                write!(f, "unknown system call {number} (instruction {ip:#x})")?;
                match debug_syscall_name(number) {
                    Some(name) => write!(
                        f,
                        ": {name}, a debug system call, which this release kernel does not have"
                    ),
                    None => Ok(()),
                }
            }
            Fault::UserException { ip, number, code, .. } => {
                write!(f, "processor exception {number} code {code:#x} (instruction {ip:#x})")
            }
        }
    }
}
