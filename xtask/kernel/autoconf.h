/*
 * Switchboard's seL4 5.0.0 kernel configuration for x86_64 / pc99 under QEMU.
 *
 * The build tool (`cargo xtask`) copies this file over include/plat/pc99/autoconf.h in its
 * copy of the kernel source: the kernel Makefile searches that folder before the build
 * folder, so the verification configuration shipped there would otherwise always win.
 *
 * Two kernels come from this one file (xtask/src/kernel.rs, `Variant`):
 *   debug    this file as it is, built with DEBUG=1.
 *   release  (the default) this file without the four debug-only parts below, built without
 *            DEBUG=1: CONFIG_DEBUG_BUILD, CONFIG_PRINTING, CONFIG_IRQ_REPORTING and the
 *            CONFIG_USER_STACK_TRACE_LENGTH block. The tool removes exactly those lines
 *            (`DEBUG_ONLY_LINES`) and refuses to build if one is missing or repeated, so keep
 *            them as they are written here. A release kernel has no debug system calls and
 *            prints nothing after the bootloader.
 *
 * Off on purpose (each measured under QEMU software emulation):
 *   X2APIC        refused by the emulated CPU
 *   FSGSBASE_INST hangs on QEMU's default CPU (we use the MSR variant)
 *   SUPPORT_PCID  hangs
 *   IOMMU         QEMU's default machine has no VT-d
 *   HUGE_PAGE     needs pdpe1gb, and shifts the x86 object type numbers by one
 *
 * ROOT_CNODE_SIZE_BITS is 16 (65536 slots, 2 MiB): the memory manager keeps a cap to every
 * frame and paging structure it maps into a realm (on seL4 the mapping lives in the frame
 * cap), so it needs far more than the usual 4096 slots.
 */
#define AUTOCONF_INCLUDED
#define CONFIG_KERNEL_MASTER 1
#define CONFIG_ARCH_X86 1
#define CONFIG_ARCH_X86_64 1
#define CONFIG_PLAT_PC99 1
#define CONFIG_WORD_SIZE 64
#define CONFIG_HAVE_FPU 1
#define CONFIG_FASTPATH 1
#define CONFIG_DEBUG_BUILD 1
#define CONFIG_PRINTING 1
#define CONFIG_IRQ_REPORTING 1
#define CONFIG_OPTIMISATION_O2 1
#define CONFIG_NO_BENCHMARKS 1
#define CONFIG_IRQ_IOAPIC 1
#define CONFIG_MAX_NUM_IOAPIC 1
#define CONFIG_XAPIC 1
#define CONFIG_SYSCALL 1
#define CONFIG_FXSAVE 1
#define CONFIG_XSAVE_SIZE 512
#define CONFIG_FSGSBASE_MSR 1
#define CONFIG_MULTIBOOT_GRAPHICS_MODE_NONE 1
#define CONFIG_ROOT_CNODE_SIZE_BITS 16
#define CONFIG_TIMER_TICK_MS 2
#define CONFIG_TIME_SLICE 5
#define CONFIG_RETYPE_FAN_OUT_LIMIT 256
#define CONFIG_MAX_NUM_WORK_UNITS_PER_PREEMPTION 100
#define CONFIG_MAX_NUM_BOOTINFO_UNTYPED_CAPS 230
#define CONFIG_NUM_DOMAINS 1
#define CONFIG_NUM_PRIORITIES 256
#define CONFIG_MAX_NUM_NODES 1
#define CONFIG_CACHE_LN_SZ 64
#define CONFIG_KERNEL_STACK_BITS 12
#define CONFIG_FPU_MAX_RESTORES_SINCE_SWITCH 64
#ifndef CONFIG_USER_STACK_TRACE_LENGTH
#define CONFIG_USER_STACK_TRACE_LENGTH 16
#endif
#define CONFIG_KERNEL_COMPILER ""
#define CONFIG_KERNEL_CFLAGS ""
#define CONFIG_KERNEL_EXTRA_CPPFLAGS ""
#define CONFIG_DOMAIN_SCHEDULE ""
