//! Realms on the kernel: building one from its program and budget, serving its requests
//! about itself, and stopping it so that everything it used comes back.
//!
//! Every object of a realm is made from its budget blocks and its caps live in the realm's
//! own range of the memory manager's slots, so stopping a realm is: suspend its thread,
//! revoke its blocks (the kernel destroys every object made from them and every cap to
//! them, wherever it was copied), hand the blocks back to the pool, forget the slot range.

use crate::mm_println;
use ::console::Class;
use heapless::Vec;
use ipc::Badge;
use ipc::abi::{self, PAGE_BYTES, slot};
use memory_manager::memory::{Budget, MemoryError, MemoryPool, Source, budget_blocks};
use memory_manager::program::{Program, ProgramError};
use memory_manager::slots::{SlotAllocator, SlotError};
use sel4::cap::tcb::{IpcBufferFrame, TcbConfig};
use sel4::cap::vspace::VmAttributes;
use sel4::cap::{
    CNode, CNodeGuard, CPtr, CSlot, Cap, Endpoint, Frame, ObjectType, PageDirectory, PageTable,
    RetypeTarget, Rights, Tcb, Untyped, VSpace, init,
};
use sel4::ipc_buffer::IpcBuffer;
use sel4::kernel::UserContext;
use sel4_root_task::scratch::ScratchWindow;
use sel4_root_task::shared::SharedPage;
use system_config::{NameText, RealmId, SystemConfig};

/// Slots of the memory manager's CNode each realm gets for the caps of its objects.
pub const REALM_SLOTS: u64 = 1536;
/// Where the realms' slot ranges start (realm `i` has `i * REALM_SLOTS ..` from here).
pub const REALM_SLOTS_BASE: u64 = (1 << 16) - vocabulary::limits::MAX_REALMS as u64 * REALM_SLOTS;
/// A page whose contents are all zero (fresh frames are).
const NO_CONTENTS: (usize, &[u8]) = (0, &[]);
/// Paging structures one realm may have.
const MAX_TABLES: usize = 64;

/// Why a realm could not be started or served.
#[derive(Clone, Copy, Debug)]
pub enum RealmError {
    Memory(MemoryError),
    Slots(SlotError),
    /// The realm's range of the memory manager's slots is used up.
    RealmSlotsUsedUp,
    /// The realm has used its [`MAX_TABLES`] paging structures.
    TooManyTables,
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
            RealmError::Slots(error) => write!(f, "{error}"),
            RealmError::RealmSlotsUsedUp => write!(
                f,
                "the memory manager's {REALM_SLOTS} capability slots for its objects have no room \
                 for them"
            ),
            RealmError::TooManyTables => write!(f, "it has {MAX_TABLES} paging structures already"),
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
            RealmError::Program(_) => "program",
            RealmError::Kernel { .. } => "kernel-refused",
            RealmError::NotBuilt => "not-built",
            RealmError::HeapWindowFull { .. } => "heap-window",
            RealmError::BudgetTooSmall { .. } => "budget-exhausted",
        }
    }
}

/// Tags a kernel result with the step it belongs to.
trait Step<T> {
    fn step(self, step: &'static str) -> Result<T, RealmError>;
}

impl<T> Step<T> for Result<T, sel4::Error> {
    fn step(self, step: &'static str) -> Result<T, RealmError> {
        self.map_err(|error| RealmError::Kernel { step, error })
    }
}

/// The paging levels below the PML4, with the address bits each entry covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    Pdpt = 39,
    PageDirectory = 30,
    PageTable = 21,
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
    budget: Budget,
    /// Next free slot of the realm's range, and its end.
    next_slot: CPtr,
    end_slot: CPtr,
    vspace: VSpace,
    cnode: CNode,
    tcb: Tcb,
    /// Paging structures made so far: level and the address bits above the level's shift.
    tables: Vec<(Level, u64), MAX_TABLES>,
    /// Where the next pages asked for at run time go.
    heap_next: u64,
    /// Its control page, mapped in the memory manager too (`ipc::abi::control`).
    pub control: Option<SharedPage>,
    /// The slot of the memory manager's CNode where the reply to its `Sleep` waits.
    pub sleep_reply: Option<CPtr>,
    /// Whether its call deadlines are watched (it asked with `WatchDeadlines`).
    pub watch_deadlines: bool,
}

/// What building and serving realms needs from the memory manager.
pub struct Kernel<'a> {
    pub ipc: &'a mut IpcBuffer,
    /// Memory for the memory manager's own objects (its endpoint, the scratch window's
    /// tables, service endpoints).
    pub own: Budget,
    pub pool: &'a mut MemoryPool,
    pub slots: &'a mut SlotAllocator,
    pub window: &'a mut ScratchWindow,
    /// The memory manager's endpoint (the original, unbadged cap).
    pub endpoint: Endpoint,
    /// The time-stamp counter's frequency in MHz (seL4's boot info: the kernel measured it
    /// against the PIT at boot).
    pub tsc_mhz: u64,
}

impl Realm {
    /// Builds realm `id` of `config` from `elf` and starts its thread.
    pub fn start(
        kernel: &mut Kernel<'_>,
        config: &SystemConfig,
        id: RealmId,
        elf: &[u8],
    ) -> Result<Realm, RealmError> {
        let spec = config.realm(id).ok_or(RealmError::Program(ProgramError::NotElf))?;
        let program = Program::parse(elf).map_err(RealmError::Program)?;
        let first_slot = REALM_SLOTS_BASE + u64::from(id.0) * REALM_SLOTS;
        let mut realm = Realm {
            id,
            name: spec.name.clone(),
            built: false,
            panic_text: Vec::new(),
            entry: program.entry,
            budget: Budget::default(),
            next_slot: first_slot,
            end_slot: first_slot + REALM_SLOTS,
            vspace: Cap::from_cptr(0),
            cnode: Cap::from_cptr(0),
            tcb: Cap::from_cptr(0),
            tables: Vec::new(),
            heap_next: abi::HEAP_START,
            control: None,
            sleep_reply: None,
            watch_deadlines: false,
        };
        // From here on, a failure must give back what was taken: `stop` does.
        match realm.build(kernel, spec, &program) {
            Ok(()) => {
                realm.built = true;
                Ok(realm)
            }
            Err(error) => {
                realm.reclaim(kernel);
                Err(error)
            }
        }
    }

    fn build(
        &mut self,
        kernel: &mut Kernel<'_>,
        spec: &system_config::Realm,
        program: &Program<'_>,
    ) -> Result<(), RealmError> {
        for size_bits in budget_blocks(spec.memory_bytes) {
            let block = take_block(kernel, size_bits)?;
            self.budget.add_block(block)?;
        }
        self.cnode =
            self.make(kernel, ObjectType::CNode { slot_bits: abi::REALM_CNODE_BITS })?.cast();
        self.vspace = self.make(kernel, ObjectType::Pml4)?.cast();
        init::ASID_POOL.assign(kernel.ipc, self.vspace).step("assigning an ASID")?;

        for segment in &program.segments {
            let rights = if segment.writable { Rights::READ_WRITE } else { Rights::READ };
            for page in segment.pages().step_by(PAGE_BYTES as usize) {
                self.page(kernel, page, rights, segment.bytes_on_page(page))?;
            }
        }
        for page in (abi::STACK_BOTTOM..abi::STACK_TOP).step_by(PAGE_BYTES as usize) {
            self.page(kernel, page, Rights::READ_WRITE, NO_CONTENTS)?;
        }
        let ipc_buffer = self.page(kernel, abi::IPC_BUFFER, Rights::READ_WRITE, NO_CONTENTS)?;
        self.map_control_page(kernel)?;
        // The slot for the reply to a `Sleep`, taken now, so that sleeping takes nothing.
        self.sleep_reply = Some(kernel.slots.allocate()?);

        let broker = realm_slot(self.cnode, slot::BROKER);
        broker
            .mint_from(
                kernel.ipc,
                own_slot(kernel.endpoint.cptr()),
                Rights::WRITE.with_grant(),
                sel4::cap::Badge::from(Badge::for_realm(self.id)),
            )
            .step("minting the broker endpoint")?;
        let fault = realm_slot(self.cnode, slot::FAULT);
        fault
            .mint_from(
                kernel.ipc,
                own_slot(kernel.endpoint.cptr()),
                Rights::WRITE.with_grant(),
                sel4::cap::Badge::from(Badge::for_fault(self.id)),
            )
            .step("minting the fault endpoint")?;

        self.tcb = self.make(kernel, ObjectType::Tcb)?.cast();
        // The CNode resolves a whole 64-bit CPtr: a zero guard covers the bits above its index.
        let guard = CNodeGuard::new(0, 64 - abi::REALM_CNODE_BITS).map_err(|_| {
            RealmError::Kernel { step: "the CSpace guard", error: sel4::Error::InvalidArgument }
        })?;
        let config = TcbConfig {
            fault_endpoint: Some(Cap::from_cptr(slot::FAULT)),
            priority: spec.priority,
            max_controlled_priority: spec.priority,
            cspace_root: self.cnode,
            cspace_root_guard: Some(guard),
            vspace_root: self.vspace,
            ipc_buffer: Some(IpcBufferFrame { address: abi::IPC_BUFFER, frame: ipc_buffer }),
        };
        self.tcb.configure(kernel.ipc, &config).step("configuring the thread")?;
        let registers = UserContext::function_call(
            program.entry,
            abi::STACK_TOP,
            [abi::IPC_BUFFER, abi::start::RUN],
        );
        self.tcb.write_registers(kernel.ipc, true, &registers).step("starting the thread")?;
        Ok(())
    }

    /// Makes the control page (`ipc::abi::CONTROL`), maps a copy of its cap in the memory
    /// manager's shared window at the realm's index, and writes the clock's frequency there.
    fn map_control_page(&mut self, kernel: &mut Kernel<'_>) -> Result<(), RealmError> {
        let frame = self.page(kernel, abi::CONTROL, Rights::READ_WRITE, NO_CONTENTS)?;
        let copy = self.next_slot()?;
        own_slot(copy)
            .copy_from(kernel.ipc, own_slot(frame.cptr()), Rights::READ_WRITE)
            .step("copying the control page's cap")?;
        let page = SharedPage::map(kernel.ipc, Cap::from_cptr(copy), usize::from(self.id.0))
            .step("mapping the control page in the memory manager")?;
        if let Some(word) = page.word(abi::control::TSC_MHZ) {
            word.store(kernel.tsc_mhz, core::sync::atomic::Ordering::Relaxed);
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

    /// The realm's thread.
    pub fn tcb(&self) -> Tcb {
        self.tcb
    }

    /// Slot `index` of the realm's CNode.
    pub fn slot(&self, index: CPtr) -> CSlot {
        realm_slot(self.cnode, index)
    }

    /// The next slot of the realm's range.
    fn next_slot(&mut self) -> Result<CPtr, RealmError> {
        if self.next_slot >= self.end_slot {
            return Err(RealmError::RealmSlotsUsedUp);
        }
        self.next_slot += 1;
        Ok(self.next_slot - 1)
    }

    /// Makes one object from the budget; its cap goes into the realm's slot range.
    fn make(
        &mut self,
        kernel: &mut Kernel<'_>,
        object: ObjectType,
    ) -> Result<Cap<sel4::cap::kind::Null>, RealmError> {
        let slot = self.next_slot()?;
        self.make_into(kernel, object, slot)?;
        Ok(Cap::from_cptr(slot))
    }

    /// Makes one object from the realm's budget into slot `slot` of the memory manager's
    /// CNode (a service endpoint the broker keeps: charged to the realm, destroyed with it).
    pub fn make_into(
        &mut self,
        kernel: &mut Kernel<'_>,
        object: ObjectType,
        slot: CPtr,
    ) -> Result<(), RealmError> {
        retype_from(
            kernel.ipc,
            &mut self.budget,
            object,
            slot,
            "making an object from the realm's budget",
        )
    }

    /// Makes a frame, writes `contents` (bytes at an offset) into it, and maps it at
    /// `address` with `rights`, making the paging structures above it first if they do not
    /// exist yet. (A frame cap maps once: the contents go in through the scratch window
    /// before the frame is mapped into the realm.)
    fn page(
        &mut self,
        kernel: &mut Kernel<'_>,
        address: u64,
        rights: Rights,
        (offset, bytes): (usize, &[u8]),
    ) -> Result<Frame, RealmError> {
        for level in [Level::Pdpt, Level::PageDirectory, Level::PageTable] {
            let key = (level, address >> level as u64);
            if self.tables.contains(&key) {
                continue;
            }
            if self.tables.is_full() {
                return Err(RealmError::TooManyTables);
            }
            let (object, step) = match level {
                Level::Pdpt => (ObjectType::Pdpt, "mapping a PDPT"),
                Level::PageDirectory => (ObjectType::PageDirectory, "mapping a page directory"),
                Level::PageTable => (ObjectType::PageTable, "mapping a page table"),
            };
            let table = self.make(kernel, object)?;
            let result = match level {
                Level::Pdpt => table.cast::<sel4::cap::kind::Pdpt>().map(
                    kernel.ipc,
                    self.vspace,
                    address,
                    VmAttributes::DEFAULT,
                ),
                Level::PageDirectory => table.cast::<sel4::cap::kind::PageDirectory>().map(
                    kernel.ipc,
                    self.vspace,
                    address,
                    VmAttributes::DEFAULT,
                ),
                Level::PageTable => table.cast::<sel4::cap::kind::PageTable>().map(
                    kernel.ipc,
                    self.vspace,
                    address,
                    VmAttributes::DEFAULT,
                ),
            };
            result.step(step)?;
            let _ = self.tables.push(key);
        }
        let frame: Frame = self.make(kernel, ObjectType::Frame)?.cast();
        if !bytes.is_empty() {
            kernel
                .window
                .with_frame(kernel.ipc, frame, |page| {
                    if let Some(target) = page.get_mut(offset..offset + bytes.len()) {
                        target.copy_from_slice(bytes);
                    }
                })
                .step("loading the program")?;
        }
        frame
            .map(kernel.ipc, self.vspace, address, rights, VmAttributes::DEFAULT)
            .step("mapping a page")?;
        Ok(frame)
    }

    /// Sends the realm's thread back to its entry point to answer the client it may owe a
    /// reply (see `ipc::abi::start::ABORT`); it then asks to exit. Its services and
    /// connections must already be withdrawn.
    pub fn abort(&mut self, kernel: &mut Kernel<'_>) -> Result<(), RealmError> {
        let registers = UserContext::function_call(
            self.entry,
            abi::STACK_TOP,
            [abi::IPC_BUFFER, abi::start::ABORT],
        );
        self.tcb
            .write_registers(kernel.ipc, true, &registers)
            .step("sending the thread to abort")?;
        Ok(())
    }

    /// Maps `pages` more pages for the realm, read-write, and returns where they start.
    pub fn allocate_pages(
        &mut self,
        kernel: &mut Kernel<'_>,
        pages: u64,
    ) -> Result<u64, RealmError> {
        let bytes = pages.saturating_mul(PAGE_BYTES);
        let start = self.heap_next;
        let end = start.saturating_add(bytes);
        // The budget first: it is the limit a realm chose in its system description.
        if bytes > self.budget.free_bytes() {
            return Err(RealmError::BudgetTooSmall { pages, free_bytes: self.budget.free_bytes() });
        }
        if end > abi::HEAP_START + abi::HEAP_MAX_PAGES * PAGE_BYTES {
            let used = (start - abi::HEAP_START) / PAGE_BYTES;
            return Err(RealmError::HeapWindowFull {
                asked: pages,
                left: abi::HEAP_MAX_PAGES.saturating_sub(used),
            });
        }
        // Everything is checked before anything is mapped, so a refusal leaves nothing
        // behind: the pages, the page tables they need (one per 2 MiB; the directory above
        // the heap exists since the start), and a slot for each.
        if pages == 0 {
            return Ok(start);
        }
        let regions = (start >> Level::PageTable as u64)..=((end - 1) >> Level::PageTable as u64);
        let new_tables = regions
            .filter(|&region| !self.tables.contains(&(Level::PageTable, region)))
            .count() as u64;
        let objects = pages + new_tables;
        if self.budget.room_for(object_bits(ObjectType::Frame)) < objects {
            return Err(RealmError::BudgetTooSmall {
                pages: objects,
                free_bytes: self.budget.free_bytes(),
            });
        }
        if self.end_slot - self.next_slot < objects {
            return Err(RealmError::RealmSlotsUsedUp);
        }
        if self.tables.len() as u64 + new_tables > MAX_TABLES as u64 {
            return Err(RealmError::TooManyTables);
        }
        for page in (start..end).step_by(PAGE_BYTES as usize) {
            self.page(kernel, page, Rights::READ_WRITE, NO_CONTENTS)?;
            self.heap_next = page + PAGE_BYTES;
        }
        Ok(start)
    }

    /// Stops the realm and takes back everything it used.
    pub fn stop(&mut self, kernel: &mut Kernel<'_>) {
        if self.tcb.cptr() != 0 {
            let _ = self.tcb.suspend();
        }
        self.reclaim(kernel);
        self.built = false;
    }

    /// Revokes the budget blocks (destroying every object made from them and every cap to
    /// them) and gives them back to the pool.
    fn reclaim(&mut self, kernel: &mut Kernel<'_>) {
        // The memory manager's mapping of the control page goes before the frame does.
        if let Some(page) = self.control.take() {
            let _ = page.unmap();
        }
        if let Some(slot) = self.sleep_reply.take() {
            let _ = own_slot(slot).delete();
            let _ = kernel.slots.free(slot);
        }
        self.watch_deadlines = false;
        let budget = core::mem::take(&mut self.budget);
        for block in budget.into_blocks() {
            if let Err(error) = own_slot(block.cptr).revoke() {
                mm_println!(
                    Class::System,
                    "memory manager: revoking a block of realm {}: {error}",
                    self.name
                );
                continue;
            }
            if kernel.pool.add_spare(block).is_err() {
                mm_println!(
                    Class::System,
                    "memory manager: the spare list is full; a block of realm {} is lost",
                    self.name
                );
            }
        }
        self.next_slot = self.end_slot - REALM_SLOTS;
        self.tables.clear();
        self.tcb = Cap::from_cptr(0);
    }
}

/// Slot `index` of a realm's CNode, as the memory manager addresses it (its cap to the
/// CNode has no guard, so the index is `REALM_CNODE_BITS` deep).
fn realm_slot(cnode: CNode, index: CPtr) -> CSlot {
    CSlot::new(cnode, index, abi::REALM_CNODE_BITS)
}

/// The size of `object` as a power of two (every object type we make is at most 2^47 bytes).
fn object_bits(object: ObjectType) -> u8 {
    u8::try_from(object.size_bits()).unwrap_or(u8::MAX)
}

/// Slot `cptr` of the memory manager's own CNode.
pub fn own_slot(cptr: CPtr) -> CSlot {
    init::CNODE.slot(cptr)
}

/// Obtains a block of `2^size_bits` bytes from the pool, carving it if needed.
pub fn take_block(
    kernel: &mut Kernel<'_>,
    size_bits: u8,
) -> Result<memory_manager::memory::Block, RealmError> {
    match kernel.pool.take(size_bits)? {
        Source::Spare(block) => Ok(block),
        Source::Carve { parent, blocks } => {
            let parent: Untyped = Cap::from_cptr(parent);
            let mut last = None;
            for (index, &bits) in blocks.iter().enumerate() {
                let slot = kernel.slots.allocate()?;
                parent
                    .retype(
                        kernel.ipc,
                        ObjectType::Untyped { size_bits: bits },
                        RetypeTarget::slots_of(init::CNODE, slot),
                        1,
                    )
                    .step("carving untyped memory")?;
                let block = memory_manager::memory::Block { cptr: slot, size_bits: bits };
                if index + 1 == blocks.len() {
                    last = Some(block);
                } else {
                    kernel.pool.add_spare(block)?;
                }
            }
            last.ok_or(RealmError::Memory(MemoryError::OutOfMemory { size_bits }))
        }
    }
}

/// Makes one object from `budget` into slot `slot` of the memory manager's CNode; `step`
/// names it if the kernel refuses.
fn retype_from(
    ipc: &mut IpcBuffer,
    budget: &mut Budget,
    object: ObjectType,
    slot: CPtr,
    step: &'static str,
) -> Result<(), RealmError> {
    let untyped: Untyped = Cap::from_cptr(budget.allocate(object_bits(object))?);
    untyped.retype(ipc, object, RetypeTarget::slots_of(init::CNODE, slot), 1).step(step)
}

/// Makes one object for the memory manager itself into a new slot, and returns the slot.
pub fn make_own_in_new_slot(
    kernel: &mut Kernel<'_>,
    object: ObjectType,
) -> Result<CPtr, RealmError> {
    let slot = kernel.slots.allocate()?;
    retype_from(
        kernel.ipc,
        &mut kernel.own,
        object,
        slot,
        "making an object for the memory manager",
    )?;
    Ok(slot)
}

/// Maps the paging structures that cover the scratch window in the memory manager's own
/// address space (its image sits in the first 2 MiB region of the first GiB; the window is
/// at 2 GiB and needs a page directory and a page table).
pub fn map_scratch_tables(kernel: &mut Kernel<'_>) -> Result<(), RealmError> {
    let address = ScratchWindow::ADDRESS;
    let directory: PageDirectory =
        Cap::from_cptr(make_own_in_new_slot(kernel, ObjectType::PageDirectory)?);
    directory
        .map(kernel.ipc, init::VSPACE, address, VmAttributes::DEFAULT)
        .step("mapping the scratch page directory")?;
    let table: PageTable = Cap::from_cptr(make_own_in_new_slot(kernel, ObjectType::PageTable)?);
    table
        .map(kernel.ipc, init::VSPACE, address, VmAttributes::DEFAULT)
        .step("mapping the scratch page table")?;
    Ok(())
}
