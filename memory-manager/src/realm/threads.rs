//! A realm's threads on the kernel: the objects of each thread index, made on the first spawn
//! into it and kept for the next thread in that index until the realm stops, and what the
//! memory manager does to a thread (start it at the program's entry with a reason, stop it).
//!
//! Which thread runs, ended or is joined is `supervisor::threads`' table (`Realm::threads`);
//! this module only carries out what it decides. What thread `t ≥ 1` needs
//! (`memory_manager::thread_index`): its stride of the address space (`ipc::abi::thread`: an
//! unmapped guard page, [`abi::thread::THREAD_STACK_PAGES`] stack pages, an unmapped page, its IPC
//! buffer), a TCB configured like the main thread's (same CSpace, VSpace and priority) with
//! its own fault cap, its inbox endpoint, and a slot for its parked reply. In the realm's own
//! CNode, `ipc::abi::slot::thread(t)`: its broker cap (badged
//! `Badge::for_realm_thread(realm, t)`), its fault cap (`Badge::for_fault_thread(realm, t)`)
//! and its inbox cap (`Badge::for_inbox(t)`, every right, so that its thread receives on it
//! and the others call it). The realm's first spawn also makes the main thread's inbox.
//!
//! Everything is checked before anything is made (the paging plan and its structure limit,
//! then the budget with the placements the objects will take, then the slot range), so a
//! refusal leaves nothing behind and names the limit the realm hit. Should the kernel refuse
//! a step after the checks (the memory manager's failure, not the realm's), what was made
//! stays charged to the realm until it stops, and the index is never tried again.
//!
//! seL4 facts this relies on: `TCB_WriteRegisters` with resume restarts a thread wherever it
//! was (`restart`, `src/kernel/thread.c`: a thread blocked in a call has its IPC cancelled,
//! and on 5.0.0 the reply cap its server held is deleted, `cancelIPC`,
//! `src/object/endpoint.c`), and every register reaches it (`sel4::cap::tcb::UserContext::
//! function_call`); `TCB_Suspend` cancels its IPC the same way.

use ipc::abi::{self, slot};
use ipc::{Badge, ThreadId};
use memory_manager::memory::MemoryError;
use memory_manager::paging_plan::PagingPlan;
use memory_manager::thread_index::IndexObjects;
use sel4::cap::tcb::{IpcBufferFrame, TcbConfig};
use sel4::cap::{CPtr, Cap, Endpoint, ObjectType, Rights, Tcb};
use sel4::kernel::UserContext;

use super::{Realm, RealmError, ThreadSet, realm_cspace_guard, realm_slot};
use crate::address_space::NO_CONTENTS;
use crate::resources::{RootResources, Step, own_slot};

/// The kernel objects of one thread index of a realm.
#[derive(Clone, Copy, Debug)]
pub struct ThreadObjects {
    pub tcb: Tcb,
    /// Where the reply to this thread's `Sleep` or `Join` waits (a slot of the memory
    /// manager's CNode; the main thread's is the realm's `sleep_reply`).
    pub parked: CPtr,
}

impl Realm {
    /// Thread `thread`'s objects, if its index was made (the main thread's exist from the
    /// start of the realm).
    pub fn thread_objects(&self, thread: ThreadId) -> Option<ThreadObjects> {
        if thread == ThreadId::MAIN {
            if !self.built {
                return None;
            }
            let parked = self.sleep_reply?;
            return Some(ThreadObjects { tcb: self.tcb, parked });
        }
        self.thread_index.get(thread.index()).copied().flatten()
    }

    /// Whether index `thread`'s objects exist.
    pub fn index_made(&self, thread: ThreadId) -> bool {
        self.thread_objects(thread).is_some()
    }

    /// Makes the objects of index `thread` (≥ 1), and the main thread's inbox if the realm
    /// has none yet, from the realm's budget and slot range (see the module doc). Refusals,
    /// with nothing made: [`RealmError::TooManyTables`] or [`RealmError::AddressSpace`] (the
    /// paging plan), [`RealmError::Memory`] with [`MemoryError::BudgetExhausted`] (the
    /// budget), [`RealmError::RealmSlotsUsedUp`] (the slot range). [`RealmError::NotBuilt`]
    /// for a stopped realm or index 0; [`RealmError::Kernel`] if the kernel refuses a step.
    pub fn make_index(
        &mut self,
        root: &mut RootResources<'_>,
        thread: ThreadId,
    ) -> Result<(), RealmError> {
        if !self.built || thread == ThreadId::MAIN || self.index_made(thread) {
            return Err(RealmError::NotBuilt);
        }
        if self.broken_indices.contains(thread) {
            return Err(RealmError::Kernel {
                step: "a thread index the kernel refused to make before",
                error: sel4::Error::IllegalOperation,
            });
        }
        let stack = self
            .address_space
            .plan(abi::thread::stack_bottom(thread), abi::thread::THREAD_STACK_PAGES)?;
        let needs = IndexObjects {
            tables: stack.new_tables().len() as u64,
            main_inbox: self.main_inbox.is_none(),
        };
        self.objects.budget.fits(needs.object_bits()).map_err(RealmError::Memory)?;
        if (self.objects.slots.free_count() as u64) < needs.slots() {
            return Err(RealmError::RealmSlotsUsedUp);
        }

        // The checks passed: from here on only the kernel can refuse. If it does, what was
        // made stays charged to the realm until it stops, and the index is never tried again
        // (a second try would find half of it made).
        let made = self.make_checked_index(root, thread, &stack);
        if made.is_err() {
            self.broken_indices.insert(thread);
        }
        made
    }

    /// The kernel's part of [`Realm::make_index`], once the checks passed.
    fn make_checked_index(
        &mut self,
        root: &mut RootResources<'_>,
        thread: ThreadId,
        stack: &PagingPlan,
    ) -> Result<(), RealmError> {
        let objects = &mut self.objects;
        self.address_space.map_zeroed(root, objects, stack, Rights::READ_WRITE, |_| {})?;
        let buffer_address = abi::thread::ipc_buffer(thread);
        let buffer = self.address_space.map_page(
            root,
            objects,
            buffer_address,
            Rights::READ_WRITE,
            NO_CONTENTS,
        )?;
        let tcb: Tcb = objects.make(root, ObjectType::Tcb)?.cast();
        let inbox: Endpoint = objects.make(root, ObjectType::Endpoint)?.cast();
        if self.main_inbox.is_none() {
            let main: Endpoint = objects.make(root, ObjectType::Endpoint)?.cast();
            self.mint_thread_caps(root, ThreadId::MAIN, main, false)?;
            self.main_inbox = Some(main);
        }
        let parked = self.objects.next_slot()?;
        self.mint_thread_caps(root, thread, inbox, true)?;

        let guard = realm_cspace_guard()?;
        let config = TcbConfig {
            fault_endpoint: Some(Cap::from_cptr(slot::thread(thread).fault)),
            priority: self.priority,
            max_controlled_priority: self.priority,
            cspace_root: self.cnode,
            cspace_root_guard: Some(guard),
            vspace_root: self.address_space.vspace(),
            ipc_buffer: Some(IpcBufferFrame { address: buffer_address, frame: buffer }),
        };
        tcb.configure(root.ipc, &config).step("configuring a thread of the realm")?;
        if let Some(entry) = self.thread_index.get_mut(thread.index()) {
            *entry = Some(ThreadObjects { tcb, parked });
        }
        Ok(())
    }

    /// Mints thread `thread`'s caps into the realm's CNode (`slot::thread`): its inbox cap
    /// (badged with its id, every right) and, for a spawned thread, its broker and fault caps
    /// (badged with the realm and the thread). The slots are emptied first: the realm may
    /// have put something there (`ipc::abi::slot::CNODE`).
    fn mint_thread_caps(
        &mut self,
        root: &mut RootResources<'_>,
        thread: ThreadId,
        inbox: Endpoint,
        broker_and_fault: bool,
    ) -> Result<(), RealmError> {
        let slots = slot::thread(thread);
        let badge = |badge: Badge| Ok::<_, RealmError>(sel4::cap::Badge::from(badge));
        let inbox_slot = realm_slot(self.cnode, slots.inbox);
        let _ = inbox_slot.delete();
        inbox_slot
            .mint_from(
                root.ipc,
                own_slot(inbox.cptr()),
                Rights::ALL,
                badge(Badge::for_inbox(thread))?,
            )
            .step("minting a thread's inbox")?;
        if broker_and_fault {
            let caps = [
                (
                    slots.broker,
                    Badge::for_realm_thread(self.id, thread),
                    "minting a thread's broker endpoint",
                ),
                (
                    slots.fault,
                    Badge::for_fault_thread(self.id, thread),
                    "minting a thread's fault endpoint",
                ),
            ];
            for (index, minted, step) in caps {
                let target = realm_slot(self.cnode, index);
                let _ = target.delete();
                target
                    .mint_from(
                        root.ipc,
                        own_slot(root.endpoint.cptr()),
                        Rights::WRITE.with_grant(),
                        badge(minted)?,
                    )
                    .step(step)?;
            }
        }
        Ok(())
    }

    /// Starts thread `thread` at the program's entry with `reason` (`ipc::abi::start`) and
    /// `argument`: `rdi` its IPC buffer, `rsi` the reason, `rdx` its id, `rcx` the argument,
    /// on its own stack. It runs from wherever it was (suspended, blocked, running): see the
    /// module doc.
    pub fn start_thread(
        &self,
        root: &mut RootResources<'_>,
        thread: ThreadId,
        reason: u64,
        argument: u64,
    ) -> Result<(), RealmError> {
        let objects = self.thread_objects(thread).ok_or(RealmError::NotBuilt)?;
        let registers = UserContext::function_call(
            self.entry,
            abi::thread::stack_top(thread),
            [abi::thread::ipc_buffer(thread), reason, u64::from(thread.get()), argument],
        );
        objects.tcb.write_registers(root.ipc, true, &registers).step("starting a thread")
    }

    /// Suspends thread `thread` (it ended; its index waits for the next spawn). Its IPC is
    /// cancelled: a reply the memory manager held for it is deleted.
    pub fn suspend_thread(&self, thread: ThreadId) {
        if let Some(objects) = self.thread_objects(thread) {
            let _ = objects.tcb.suspend();
        }
    }

    /// Suspends every thread of the realm, the main one last (before its blocks are revoked).
    pub(super) fn suspend_all_threads(&self) {
        for objects in self.thread_index.iter().flatten() {
            let _ = objects.tcb.suspend();
        }
        if self.tcb.cptr() != 0 {
            let _ = self.tcb.suspend();
        }
    }

    /// Deletes the parked replies of the spawned threads (saved reply caps live in slots of
    /// the realm's range, but are not made from its budget: revoking the blocks would not
    /// empty those slots) and forgets the indices.
    pub(super) fn forget_threads(&mut self) {
        for objects in self.thread_index.iter_mut().filter_map(Option::take) {
            let _ = own_slot(objects.parked).delete();
        }
        self.main_inbox = None;
        self.broken_indices = ThreadSet::EMPTY;
    }
}

/// The limit a failed first spawn into an index hit, as the protocol names it.
pub fn spawn_resource(error: &RealmError) -> ipc::Resource {
    match error {
        RealmError::TooManyTables | RealmError::AddressSpace(_) => {
            ipc::Resource::RealmPagingStructures
        }
        RealmError::RealmSlotsUsedUp => ipc::Resource::RealmObjectSlots,
        RealmError::Memory(MemoryError::BudgetExhausted { .. }) => ipc::Resource::RealmMemory,
        _ => ipc::Resource::RealmMemory,
    }
}
