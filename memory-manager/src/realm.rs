//! A realm on the kernel: starting it from its program and budget, serving its requests
//! about itself (pages at run time, its control page, its threads, abort), and stopping it
//! so that everything it used comes back. Its spawned threads' objects are `threads.rs`'s.
//!
//! Every object of a realm is made from its budget blocks and its caps live in the realm's
//! own range of the memory manager's slots ([`RealmObjects`]), so stopping a realm is:
//! suspend every thread, revoke its blocks (the kernel destroys every object made from them
//! and every cap to them, wherever it was copied), hand the blocks back to the pool, free the
//! slot range. Its address space is built by `address_space.rs`; what the memory manager
//! lends to all of this is `resources.rs`'s `RootResources`.

use crate::address_space::{AddressSpace, NO_CONTENTS};
use crate::mm_println;
use crate::resources::{RootResources, Step, own_slot, retype_from, take_block};
use ::console::Class;
use heapless::Vec;
use ipc::abi::notification::TIMER;
use ipc::abi::{self, PAGE_BYTES, slot};
use ipc::{Badge, ThreadId};
use memory_manager::memory::{Budget, MemoryError, budget_blocks, object_bits};
use memory_manager::paging_plan::{MAX_PAGING_STRUCTURES, PlanError};
use memory_manager::program::{Program, ProgramError};
use sel4::cap::tcb::{IpcBufferFrame, TcbConfig};
use sel4::cap::{
    CNode, CNodeGuard, CPtr, CSlot, Cap, Endpoint, Notification, ObjectType, Rights, Tcb,
};
use sel4::kernel::UserContext;
use sel4_root_task::shared::SharedPage;
use slots::{RealmObjectSlots, SlotError, SlotRange};
use supervisor::threads::{ThreadSet, ThreadTable};
use system_config::{NameText, RealmId, SystemConfig};

use vocabulary::limits::{MAX_THREADS_PER_REALM, REALM_OBJECT_SLOTS};

mod threads;
pub use threads::{ThreadObjects, spawn_resource};
/// Where the realms' slot ranges start (realm `i` has `i * REALM_OBJECT_SLOTS ..` from here).
pub const REALM_SLOTS_BASE: u64 =
    (1 << 16) - vocabulary::limits::MAX_REALMS as u64 * REALM_OBJECT_SLOTS;
const _: () = assert!(REALM_OBJECT_SLOTS as usize <= RealmObjectSlots::CAPACITY);

/// The size of a notification object, as a power of two (32 bytes on x86_64).
const NOTIFICATION_BITS: u8 = ObjectType::Notification.size_bits() as u8;

/// Why a realm could not be started or served.
#[derive(Clone, Copy, Debug)]
pub enum RealmError {
    Memory(MemoryError),
    /// The memory manager's own slots (the free range of its root CNode).
    Slots(SlotError),
    /// The realm's range of the memory manager's slots is used up.
    RealmSlotsUsedUp,
    /// The realm has used its [`MAX_PAGING_STRUCTURES`] paging structures.
    TooManyTables,
    /// Pages outside the realm's address space, or not page-aligned.
    AddressSpace(PlanError),
    Program(ProgramError),
    /// The kernel refused a step.
    Kernel {
        step: &'static str,
        error: sel4::Error,
    },
    /// The realm's kernel objects do not exist (it was never built, or it is stopped).
    NotBuilt,
    /// `asked` more pages do not fit the realm's address range for run-time pages, which has
    /// room for `left`.
    HeapWindowFull {
        asked: u64,
        left: u64,
    },
    /// The realm's budget has no room for `pages` more 4 KiB objects (pages and the page
    /// tables they need); `free_bytes` of it are free, possibly in pieces.
    BudgetTooSmall {
        pages: u64,
        free_bytes: u64,
    },
}

impl RealmError {
    /// The limit this error hit, as the protocol names it to the realm.
    pub fn resource(&self) -> Option<ipc::Resource> {
        match self {
            RealmError::Memory(MemoryError::BudgetExhausted { .. })
            | RealmError::BudgetTooSmall { .. } => Some(ipc::Resource::RealmMemory),
            RealmError::HeapWindowFull { .. } => Some(ipc::Resource::RealmHeapWindow),
            RealmError::RealmSlotsUsedUp => Some(ipc::Resource::RealmObjectSlots),
            RealmError::TooManyTables => Some(ipc::Resource::RealmPagingStructures),
            _ => None,
        }
    }
}

impl From<MemoryError> for RealmError {
    fn from(error: MemoryError) -> Self {
        RealmError::Memory(error)
    }
}

impl From<SlotError> for RealmError {
    fn from(error: SlotError) -> Self {
        RealmError::Slots(error)
    }
}

impl core::fmt::Display for RealmError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RealmError::Memory(error) => write!(f, "{error}"),
            RealmError::Slots(error) => write!(f, "the memory manager's own slots: {error}"),
            RealmError::RealmSlotsUsedUp => write!(
                f,
                "the memory manager's {REALM_OBJECT_SLOTS} capability slots for its objects have no room \
                 for them"
            ),
            RealmError::TooManyTables => {
                write!(f, "it has {MAX_PAGING_STRUCTURES} paging structures already")
            }
            RealmError::AddressSpace(error) => write!(f, "its address space: {error}"),
            RealmError::Program(error) => write!(f, "its program: {error}"),
            RealmError::Kernel { step, error } => write!(f, "{step}: {error}"),
            RealmError::NotBuilt => write!(f, "the realm has no thread or address space"),
            RealmError::HeapWindowFull { asked, left } => write!(
                f,
                "{asked} pages do not fit its address range for run-time pages, which has room \
                 for {left} more"
            ),
            RealmError::BudgetTooSmall { pages, free_bytes } => write!(
                f,
                "its memory budget has no room for {pages} more pages and page tables \
                 ({free_bytes} bytes free)"
            ),
        }
    }
}

impl RealmError {
    /// The error's stable kebab-case name for event lines (`reason=out-of-memory`).
    pub fn code(&self) -> &'static str {
        match self {
            RealmError::Memory(MemoryError::OutOfMemory { .. }) => "out-of-memory",
            RealmError::Memory(MemoryError::BudgetExhausted { .. }) => "budget-exhausted",
            RealmError::Memory(_) => "memory-blocks",
            RealmError::Slots(_) => "memory-manager-slots",
            RealmError::RealmSlotsUsedUp => "realm-slots",
            RealmError::TooManyTables => "paging-structures",
            RealmError::AddressSpace(_) => "address-space",
            RealmError::Program(_) => "program",
            RealmError::Kernel { .. } => "kernel-refused",
            RealmError::NotBuilt => "not-built",
            RealmError::HeapWindowFull { .. } => "heap-window",
            RealmError::BudgetTooSmall { .. } => "budget-exhausted",
        }
    }
}

/// A realm's objects: its budget (every kernel object of the realm is made from it) and its
/// range of the memory manager's slots, where their caps go (`REALM_OBJECT_SLOTS` slots from
/// `REALM_SLOTS_BASE + id * REALM_OBJECT_SLOTS`).
pub struct RealmObjects {
    budget: Budget,
    slots: RealmObjectSlots,
}

impl RealmObjects {
    /// Realm `id`'s range, every slot free, and no budget yet.
    fn new(id: RealmId) -> Self {
        let range = SlotRange {
            start: REALM_SLOTS_BASE + u64::from(id.0) * REALM_OBJECT_SLOTS,
            count: REALM_OBJECT_SLOTS as u16,
        };
        // The range has REALM_OBJECT_SLOTS slots, which `RealmObjectSlots` holds: it is refused
        // only if that changes, and then the realm has no slots (every make fails).
        let slots = RealmObjectSlots::new(range).unwrap_or(RealmObjectSlots::EMPTY);
        Self { budget: Budget::default(), slots }
    }

    /// The lowest free slot of the realm's range.
    fn next_slot(&mut self) -> Result<CPtr, RealmError> {
        self.slots.allocate().map_err(|_| RealmError::RealmSlotsUsedUp)
    }

    /// Whether `objects` more 4 KiB objects (pages and paging structures) fit the budget and
    /// the slot range: the budget is checked first, as it is the limit a realm chose in its
    /// system description.
    pub fn fit(&self, objects: u64) -> Result<(), RealmError> {
        if self.budget.room_for(object_bits(ObjectType::Frame)) < objects {
            return Err(RealmError::BudgetTooSmall {
                pages: objects,
                free_bytes: self.budget.free_bytes(),
            });
        }
        if (self.slots.free_count() as u64) < objects {
            return Err(RealmError::RealmSlotsUsedUp);
        }
        Ok(())
    }

    /// Makes one object from the budget; its cap goes into the realm's slot range.
    pub fn make(
        &mut self,
        root: &mut RootResources<'_>,
        object: ObjectType,
    ) -> Result<Cap<sel4::cap::kind::Null>, RealmError> {
        let slot = self.next_slot()?;
        self.make_into(root, object, slot)?;
        Ok(Cap::from_cptr(slot))
    }

    /// Makes one object from the budget into slot `slot` of the memory manager's CNode.
    fn make_into(
        &mut self,
        root: &mut RootResources<'_>,
        object: ObjectType,
        slot: CPtr,
    ) -> Result<(), RealmError> {
        retype_from(
            root.ipc,
            &mut self.budget,
            object,
            slot,
            "making an object from the realm's budget",
        )
    }
}

/// A realm the memory manager started.
pub struct Realm {
    pub id: RealmId,
    pub name: NameText,
    /// Whether its kernel objects exist (from a successful start until it is stopped). Its
    /// lifecycle state (running, serving, aborting, stopped and why) is the supervisor's.
    pub built: bool,
    /// The panic message so far (it arrives in parts).
    pub panic_text: Vec<u8, { ipc::realm::MAX_TEXT_BYTES }>,
    /// The program's entry point.
    entry: u64,
    /// Its budget and its slot range.
    objects: RealmObjects,
    address_space: AddressSpace,
    cnode: CNode,
    tcb: Tcb,
    /// Where the next pages asked for at run time go.
    heap_next: u64,
    /// Its control page, mapped in the memory manager too (`ipc::abi::control`).
    pub control: Option<SharedPage>,
    /// The slot of the memory manager's CNode where the reply to its `Sleep` waits.
    pub sleep_reply: Option<CPtr>,
    /// Whether its call deadlines are watched (it asked with `WatchDeadlines`).
    pub watch_deadlines: bool,
    /// Its notification, once it asked for one (`BindNotification`).
    notification: Option<RealmNotification>,
    /// When its timed signal is due (ns of the realm clock), if one is pending
    /// (`SignalAfter`; the tick that finds it due signals, see `deadline::TimedSignals`).
    pub timed_signal: Option<u64>,
    /// Its priority, which every thread it spawns runs at.
    priority: u8,
    /// The objects of its thread indices 1 to 15, once made (`threads.rs`); entry 0 stays
    /// empty (the main thread's are `tcb` and `sleep_reply`).
    thread_index: [Option<ThreadObjects>; MAX_THREADS_PER_REALM],
    /// The main thread's inbox endpoint, made with the realm's first spawn (the original cap,
    /// in its slot range; the realm's CNode holds a badged copy).
    main_inbox: Option<Endpoint>,
    /// Its threads' states (`supervisor::threads`: which runs, ended, joins, aborts).
    pub threads: ThreadTable,
    /// Which thread the panic message so far is from.
    pub panic_thread: ThreadId,
    /// Thread indices whose objects the kernel refused to make after the checks passed
    /// (`threads.rs`): never tried again until the realm stops.
    broken_indices: ThreadSet,
    /// Its threads whose reply the memory manager keeps (asleep or joining,
    /// `deadline::park`).
    pub parked: ThreadSet,
    /// While its threads are sent back to answer their callers (`Realm::abort`): when the
    /// memory manager stops waiting for those that have not reported (ns of the realm
    /// clock, [`ABORT_TIMEOUT_NS`] after the abort began; `Server::on_tick`).
    pub abort_due: Option<u64>,
}

/// How long an aborting realm's threads have to answer their callers and report, in
/// nanoseconds (1 s of the realm clock). An abort path is a few non-blocking replies, so a
/// thread that has not reported by then spins, waits in a blocking call, or faulted where
/// no one hears it: the memory manager stops it as if it had reported (event
/// `realm-abort-timeout`), and the realm's stop goes on. The clients such a thread owed a
/// reply are not woken (seL4 5.0.0 non-MCS: deleting a server's reply capability does not
/// wake its caller); their own call deadlines end their wait.
pub const ABORT_TIMEOUT_NS: u64 = 1_000_000_000;

/// A realm's notification (`ipc::realm`, `BindNotification`): the object, made from the
/// realm's budget and bound to its thread, and the memory manager's cap to signal it, badged
/// `Badge::for_notification(TIMER)`. Both caps are in the realm's slot range of the memory
/// manager's CNode, so they go with the realm's budget like every other object of the realm;
/// the realm itself holds no cap to it (a bound notification needs none to be received).
#[derive(Clone, Copy, Debug)]
struct RealmNotification {
    object: Notification,
    timer: Notification,
}

impl Realm {
    /// Builds realm `id` of `config` from `elf` and starts its thread.
    pub fn start(
        root: &mut RootResources<'_>,
        config: &SystemConfig,
        id: RealmId,
        elf: &[u8],
    ) -> Result<Realm, RealmError> {
        let spec = config.realm(id).ok_or(RealmError::Program(ProgramError::NotElf))?;
        let program = Program::parse(elf).map_err(RealmError::Program)?;
        let mut realm = Realm {
            id,
            name: spec.name.clone(),
            built: false,
            panic_text: Vec::new(),
            entry: program.entry,
            objects: RealmObjects::new(id),
            address_space: AddressSpace::none(),
            cnode: Cap::from_cptr(0),
            tcb: Cap::from_cptr(0),
            heap_next: abi::HEAP_START,
            control: None,
            sleep_reply: None,
            watch_deadlines: false,
            notification: None,
            timed_signal: None,
            abort_due: None,
            priority: spec.priority,
            thread_index: [None; MAX_THREADS_PER_REALM],
            main_inbox: None,
            threads: ThreadTable::new(spec.max_threads, spec.on_thread_fault),
            panic_thread: ThreadId::MAIN,
            parked: ThreadSet::EMPTY,
            broken_indices: ThreadSet::EMPTY,
        };
        // From here on, a failure must give back what was taken: `stop` does.
        match realm.build(root, spec, &program) {
            Ok(()) => {
                realm.built = true;
                Ok(realm)
            }
            Err(error) => {
                realm.reclaim(root);
                Err(error)
            }
        }
    }

    fn build(
        &mut self,
        root: &mut RootResources<'_>,
        spec: &system_config::Realm,
        program: &Program<'_>,
    ) -> Result<(), RealmError> {
        for size_bits in budget_blocks(spec.memory_bytes) {
            let block = take_block(root, size_bits)?;
            self.objects.budget.add_block(block)?;
        }
        let objects = &mut self.objects;
        self.cnode =
            objects.make(root, ObjectType::CNode { slot_bits: abi::REALM_CNODE_BITS })?.cast();
        self.address_space = AddressSpace::make(root, objects)?;
        let space = &mut self.address_space;

        for segment in &program.segments {
            let rights = if segment.writable { Rights::READ_WRITE } else { Rights::READ };
            for page in segment.pages().step_by(PAGE_BYTES as usize) {
                space.map_page(root, objects, page, rights, segment.bytes_on_page(page))?;
            }
        }
        for page in (abi::STACK_BOTTOM..abi::STACK_TOP).step_by(PAGE_BYTES as usize) {
            space.map_page(root, objects, page, Rights::READ_WRITE, NO_CONTENTS)?;
        }
        let ipc_buffer =
            space.map_page(root, objects, abi::IPC_BUFFER, Rights::READ_WRITE, NO_CONTENTS)?;
        self.map_control_page(root)?;
        // The slot for the reply to a `Sleep`, taken now, so that sleeping takes nothing.
        self.sleep_reply = Some(root.slots.allocate()?);

        let broker = realm_slot(self.cnode, slot::BROKER);
        broker
            .mint_from(
                root.ipc,
                own_slot(root.endpoint.cptr()),
                Rights::WRITE.with_grant(),
                sel4::cap::Badge::from(Badge::for_realm(self.id)),
            )
            .step("minting the broker endpoint")?;
        let fault = realm_slot(self.cnode, slot::FAULT);
        fault
            .mint_from(
                root.ipc,
                own_slot(root.endpoint.cptr()),
                Rights::WRITE.with_grant(),
                sel4::cap::Badge::from(Badge::for_fault(self.id)),
            )
            .step("minting the fault endpoint")?;
        // A cap to the realm's own CNode, for `CNode_SaveCaller` (deferred replies). Guarded
        // as the thread's CSpace root is, so the realm names a slot of it as it names any cap:
        // its CPtr, resolved over the whole word (depth 64). Why the broker does not rely on
        // the realm leaving its slots alone: `ipc::abi::slot::CNODE`.
        let guard = realm_cspace_guard()?;
        realm_slot(self.cnode, slot::CNODE)
            .mint_from(root.ipc, own_slot(self.cnode.cptr()), Rights::ALL, guard)
            .step("copying the realm's CNode into its slot")?;

        self.tcb = self.objects.make(root, ObjectType::Tcb)?.cast();
        let config = TcbConfig {
            fault_endpoint: Some(Cap::from_cptr(slot::FAULT)),
            priority: spec.priority,
            max_controlled_priority: spec.priority,
            cspace_root: self.cnode,
            cspace_root_guard: Some(guard),
            vspace_root: self.address_space.vspace(),
            ipc_buffer: Some(IpcBufferFrame { address: abi::IPC_BUFFER, frame: ipc_buffer }),
        };
        self.tcb.configure(root.ipc, &config).step("configuring the thread")?;
        let registers = UserContext::function_call(
            program.entry,
            abi::STACK_TOP,
            [abi::IPC_BUFFER, abi::start::RUN],
        );
        self.tcb.write_registers(root.ipc, true, &registers).step("starting the thread")?;
        Ok(())
    }

    /// Makes the realm's notification from its budget, binds it to its thread and keeps a
    /// cap badged for [`TIMER`] to signal it (`ipc::realm`, `BindNotification`). Returns
    /// whether it was made now: a realm that has one already keeps it, and nothing changes.
    ///
    /// The budget and the slot range are checked before anything is made: a refusal leaves
    /// nothing behind ([`MemoryError::BudgetExhausted`] or [`RealmError::RealmSlotsUsedUp`]:
    /// it needs 2^[`NOTIFICATION_BITS`] bytes and two slots). Should the kernel refuse the
    /// mint or the binding, the caps made are deleted and their slots freed; the 32 bytes of
    /// the budget come back when the realm stops, as all of it does.
    pub fn bind_notification(&mut self, root: &mut RootResources<'_>) -> Result<bool, RealmError> {
        if self.notification.is_some() {
            return Ok(false);
        }
        if !self.built {
            return Err(RealmError::NotBuilt);
        }
        let objects = &mut self.objects;
        if objects.budget.room_for(NOTIFICATION_BITS) == 0 {
            return Err(RealmError::Memory(MemoryError::BudgetExhausted {
                size_bits: NOTIFICATION_BITS,
                free_bytes: objects.budget.free_bytes(),
            }));
        }
        if objects.slots.free_count() < 2 {
            return Err(RealmError::RealmSlotsUsedUp);
        }
        let object: Notification = objects.make(root, ObjectType::Notification)?.cast();
        let made = objects.next_slot().and_then(|slot| {
            let timer: Notification = Cap::from_cptr(slot);
            let badge = Badge::for_notification(TIMER).map(sel4::cap::Badge::from).ok_or(
                RealmError::Kernel {
                    step: "the timer's notification badge",
                    error: sel4::Error::InvalidArgument,
                },
            );
            let minted = badge.and_then(|badge| {
                own_slot(slot)
                    .mint_from(root.ipc, own_slot(object.cptr()), Rights::WRITE, badge)
                    .step("minting the realm's notification for the timer")
            });
            let bound = minted.and_then(|()| {
                self.tcb
                    .bind_notification(root.ipc, object)
                    .step("binding the notification to the realm's thread")
            });
            if bound.is_err() {
                let _ = own_slot(slot).delete();
                let _ = objects.slots.free(slot);
            }
            bound.map(|()| timer)
        });
        match made {
            Ok(timer) => {
                self.notification = Some(RealmNotification { object, timer });
                Ok(true)
            }
            Err(error) => {
                let _ = own_slot(object.cptr()).delete();
                let _ = objects.slots.free(object.cptr());
                Err(error)
            }
        }
    }

    /// Whether the realm has its notification (it asked with `BindNotification`).
    pub fn has_notification(&self) -> bool {
        self.notification.is_some()
    }

    /// Signals the realm's notification with [`TIMER`] (nothing if it has none).
    pub fn signal_timer(&self) {
        if let Some(notification) = self.notification {
            notification.timer.signal();
        }
    }

    /// Makes the control page (`ipc::abi::CONTROL`), maps a copy of its cap in the memory
    /// manager's shared window at the realm's index, and writes the clock's frequency there.
    fn map_control_page(&mut self, root: &mut RootResources<'_>) -> Result<(), RealmError> {
        let objects = &mut self.objects;
        let frame = self.address_space.map_page(
            root,
            objects,
            abi::CONTROL,
            Rights::READ_WRITE,
            NO_CONTENTS,
        )?;
        let copy = objects.next_slot()?;
        own_slot(copy)
            .copy_from(root.ipc, own_slot(frame.cptr()), Rights::READ_WRITE)
            .step("copying the control page's cap")?;
        let page = SharedPage::map(root.ipc, Cap::from_cptr(copy), usize::from(self.id.0))
            .step("mapping the control page in the memory manager")?;
        if let Some(word) = page.word(abi::control::TSC_MHZ) {
            word.store(root.tsc_mhz, core::sync::atomic::Ordering::Relaxed);
        }
        self.control = Some(page);
        Ok(())
    }

    /// Word `index` of the realm's control page, as the memory manager sees it (0 when it
    /// has none).
    pub fn control_word(&self, index: usize) -> u64 {
        self.control
            .as_ref()
            .and_then(|page| page.word(index))
            .map_or(0, |word| word.load(core::sync::atomic::Ordering::Relaxed))
    }

    /// Writes word `index` of the realm's control page.
    pub fn set_control_word(&self, index: usize, value: u64) {
        if let Some(word) = self.control.as_ref().and_then(|page| page.word(index)) {
            word.store(value, core::sync::atomic::Ordering::Relaxed);
        }
    }

    /// The free bytes of the realm's budget (possibly in pieces).
    pub fn budget_free_bytes(&self) -> u64 {
        self.objects.budget.free_bytes()
    }

    /// The free slots of the realm's range of the memory manager's slots.
    pub fn object_slots_free(&self) -> u64 {
        self.objects.slots.free_count() as u64
    }

    /// Slot `index` of the realm's CNode.
    pub fn slot(&self, index: CPtr) -> CSlot {
        realm_slot(self.cnode, index)
    }

    /// Makes one object from the realm's budget into slot `slot` of the memory manager's
    /// CNode (a service endpoint the broker keeps: charged to the realm, destroyed with it).
    pub fn make_into(
        &mut self,
        root: &mut RootResources<'_>,
        object: ObjectType,
        slot: CPtr,
    ) -> Result<(), RealmError> {
        self.objects.make_into(root, object, slot)
    }

    /// Sends each of `threads` (the realm's live threads, running or blocked:
    /// `ThreadTable::begin_abort`) back to the program's entry to answer the client it may
    /// owe a reply (see `ipc::abi::start::ABORT`); each then reports (`ExitThread`). Its
    /// services and connections must already be withdrawn. Returns the threads the kernel
    /// would not send, with the last error (to be reported as if they had reported).
    pub fn abort(
        &mut self,
        root: &mut RootResources<'_>,
        threads: ThreadSet,
    ) -> (ThreadSet, Option<RealmError>) {
        let mut failed = ThreadSet::EMPTY;
        let mut error = None;
        for thread in threads.iter() {
            if let Err(refused) = self.start_thread(root, thread, abi::start::ABORT, 0) {
                failed.insert(thread);
                error = Some(refused);
            }
        }
        (failed, error)
    }

    /// Maps `pages` more pages for the realm, read-write, and returns where they start.
    ///
    /// Everything is checked before anything is made, so a refusal leaves nothing behind:
    /// the budget for the pages, the address range for run-time pages, the paging plan (the
    /// structures the pages need, within the realm's table limit), then the budget and the
    /// slot range for the pages and those structures together.
    pub fn allocate_pages(
        &mut self,
        root: &mut RootResources<'_>,
        pages: u64,
    ) -> Result<u64, RealmError> {
        let bytes = pages.saturating_mul(PAGE_BYTES);
        let start = self.heap_next;
        let end = start.saturating_add(bytes);
        // The budget first: it is the limit a realm chose in its system description.
        let free_bytes = self.objects.budget.free_bytes();
        if bytes > free_bytes {
            return Err(RealmError::BudgetTooSmall { pages, free_bytes });
        }
        if end > abi::HEAP_START + abi::HEAP_MAX_PAGES * PAGE_BYTES {
            let used = (start - abi::HEAP_START) / PAGE_BYTES;
            return Err(RealmError::HeapWindowFull {
                asked: pages,
                left: abi::HEAP_MAX_PAGES.saturating_sub(used),
            });
        }
        let plan = self.address_space.plan(start, pages)?;
        self.objects.fit(plan.objects())?;
        let heap_next = &mut self.heap_next;
        self.address_space.map_zeroed(
            root,
            &mut self.objects,
            &plan,
            Rights::READ_WRITE,
            |end| {
                *heap_next = end;
            },
        )?;
        Ok(start)
    }

    /// Stops the realm and takes back everything it used.
    pub fn stop(&mut self, root: &mut RootResources<'_>) {
        // Every thread stops before the blocks go: none runs while its objects are destroyed.
        self.suspend_all_threads();
        self.reclaim(root);
        self.built = false;
    }

    /// Revokes the budget blocks (destroying every object made from them and every cap to
    /// them) and gives them back to the pool.
    fn reclaim(&mut self, root: &mut RootResources<'_>) {
        // The notification is unbound from the thread and its caps deleted before the blocks
        // go (revoking them would destroy both anyway: this says so in the order of events).
        if let Some(notification) = self.notification.take() {
            if self.tcb.cptr() != 0 {
                let _ = self.tcb.unbind_notification();
            }
            let _ = own_slot(notification.timer.cptr()).delete();
            let _ = own_slot(notification.object.cptr()).delete();
        }
        self.timed_signal = None;
        // The memory manager's mapping of the control page goes before the frame does.
        if let Some(page) = self.control.take() {
            let _ = page.unmap();
        }
        if let Some(slot) = self.sleep_reply.take() {
            let _ = own_slot(slot).delete();
            let _ = root.slots.free(slot);
        }
        self.watch_deadlines = false;
        self.abort_due = None;
        self.parked = ThreadSet::EMPTY;
        self.forget_threads();
        self.threads.reset();
        let budget = core::mem::take(&mut self.objects.budget);
        for block in budget.into_blocks() {
            if let Err(error) = own_slot(block.cptr).revoke() {
                mm_println!(
                    Class::System,
                    "memory manager: revoking a block of realm {}: {error}",
                    self.name
                );
                continue;
            }
            if root.pool.add_spare(block).is_err() {
                mm_println!(
                    Class::System,
                    "memory manager: the spare list is full; a block of realm {} is lost",
                    self.name
                );
            }
        }
        // Revoking the blocks emptied every slot of the realm's range.
        self.objects.slots.reset();
        self.address_space.forget();
        self.tcb = Cap::from_cptr(0);
    }
}

/// The guard of a realm's CSpace root: the CNode resolves a whole 64-bit CPtr, a zero guard
/// covering the bits above its index.
fn realm_cspace_guard() -> Result<CNodeGuard, RealmError> {
    CNodeGuard::new(0, 64 - abi::REALM_CNODE_BITS).map_err(|_| RealmError::Kernel {
        step: "the CSpace guard",
        error: sel4::Error::InvalidArgument,
    })
}

/// Slot `index` of a realm's CNode, as the memory manager addresses it (its cap to the
/// CNode has no guard, so the index is `REALM_CNODE_BITS` deep).
fn realm_slot(cnode: CNode, index: CPtr) -> CSlot {
    CSlot::new(cnode, index, abi::REALM_CNODE_BITS)
}
