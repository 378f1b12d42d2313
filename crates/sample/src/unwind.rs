//! A cached DWARF-CFI unwinder for x86_64 Linux, for allocation-site capture.
//!
//! The platform unwinder (`_Unwind_Backtrace`) finds and interprets the call-frame information of
//! every frame on every call: about 1,200 instructions per frame here. Almost all allocation stacks
//! pass through the same few hundred return addresses, so this unwinder evaluates the CFI of an
//! address once (with `gimli`, on the stack, no heap), reduces it to the three numbers x86_64 code
//! needs (where the CFA is: `rsp` or `rbp` plus an offset; where the caller's `rbp` was saved; the
//! return address sits at CFA - 8), and caches them in a static lock-free table keyed by address.
//! A cached frame then costs a table probe and two loads.
//!
//! Safety: every stack read is bounds-checked against the current thread's stack (from
//! `pthread_getattr_np`, cached per thread), so wrong or unusual CFI (signal frames, hand-written
//! assembly, JIT code without CFI) ends the walk early instead of faulting; when the stack pointer is
//! not inside that stack at all (a coroutine's stack, an alternate signal stack), the platform
//! unwinder is used instead. Code unloaded with
//! `dlclose` and replaced at the same address can leave stale rules (wrong frames, never a fault).

use core::cell::Cell;
use core::sync::atomic::{AtomicU64, Ordering::*};

use gimli::{
    BaseAddresses, CfaRule, EhFrame, EhFrameHdr, EndianSlice, NativeEndian, ParsedEhFrameHdr,
    Pointer, ReaderOffset, Register, RegisterRule, UnwindContext, UnwindContextStorage,
    UnwindSection, UnwindTableRow, X86_64,
};

const TABLE_BITS: u32 = 14;
const TABLE_SIZE: usize = 1 << TABLE_BITS;
const PROBES: usize = 16;

static KEYS: [AtomicU64; TABLE_SIZE] = [const { AtomicU64::new(0) }; TABLE_SIZE];
static RULES: [AtomicU64; TABLE_SIZE] = [const { AtomicU64::new(0) }; TABLE_SIZE];

// Packed rule: bit 63 present; bit 62 stop here; bit 61 CFA is rbp-based (else rsp-based); bit 60
// the caller's rbp is saved at CFA + bits 32..48 (i16); bits 0..32 the CFA offset (i32).
const PRESENT: u64 = 1 << 63;
const STOP: u64 = 1 << 62;
const CFA_RBP: u64 = 1 << 61;
const RBP_SAVED: u64 = 1 << 60;

thread_local! {
    /// This thread's stack as `[low, top)` (`(0, 0)` = not yet known). No destructor.
    static STACK: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

struct StoreOnStack;

impl<T: ReaderOffset> UnwindContextStorage<T> for StoreOnStack {
    type Rules = [(Register, RegisterRule<T>); 32];
    type Stack = [UnwindTableRow<T, Self>; 2];
}

/// Walks the caller's stack into `out` (return addresses, innermost first, starting with the
/// return address into this function's caller). Returns the number written, or `None` when the
/// stack pointer is not inside this thread's known stack (a coroutine or alternate signal stack):
/// the caller then uses the platform unwinder.
#[inline(never)]
pub(crate) fn unwind(out: &mut [u64]) -> Option<usize> {
    let (mut ip, mut sp, mut bp): (u64, u64, u64);
    // SAFETY: reads the current instruction pointer, stack pointer and frame pointer into
    // registers; no memory is touched and no flags or stack are changed.
    unsafe {
        core::arch::asm!(
            "lea {ip}, [rip]",
            "mov {sp}, rsp",
            "mov {bp}, rbp",
            ip = out(reg) ip,
            sp = out(reg) sp,
            bp = out(reg) bp,
            options(nomem, nostack, preserves_flags)
        );
    }
    let top = stack_top(sp)?;
    let mut n = 0usize;
    let mut first = true;
    while n < out.len() {
        // A return address points after the call: look up the call instruction's rule.
        let lookup = if first { ip } else { ip.wrapping_sub(1) };
        first = false;
        let rule = rule_for(lookup);
        if rule & STOP != 0 {
            break;
        }
        let base = if rule & CFA_RBP != 0 { bp } else { sp };
        let cfa = base.wrapping_add(rule as u32 as i32 as i64 as u64);
        if cfa <= sp || cfa > top {
            break;
        }
        let Some(ra) = read_stack(cfa.wrapping_sub(8), sp, top) else {
            break;
        };
        if rule & RBP_SAVED != 0 {
            let off = (rule >> 32) as u16 as i16 as i64 as u64;
            match read_stack(cfa.wrapping_add(off), sp, top) {
                Some(v) => bp = v,
                None => break,
            }
        }
        if ra == 0 {
            break;
        }
        sp = cfa;
        ip = ra;
        out[n] = ra;
        n += 1;
    }
    Some(n)
}

fn read_stack(addr: u64, sp: u64, top: u64) -> Option<u64> {
    if addr < sp || addr.checked_add(8)? > top || addr % 8 != 0 {
        return None;
    }
    // SAFETY: `addr` lies within [sp, top): the live part of this thread's stack, which is mapped
    // and readable; it is 8-aligned.
    Some(unsafe { core::ptr::read_volatile(addr as *const u64) })
}

/// Top of this thread's stack, if `sp` lies inside it (bounds from `pthread_getattr_np`, cached).
fn stack_top(sp: u64) -> Option<u64> {
    let (low, top) = STACK.with(Cell::get);
    if low <= sp && sp < top {
        return Some(top);
    }
    if top != 0 {
        return None; // known stack, and `sp` is elsewhere
    }
    let (mut low, mut top) = (0u64, 0u64);
    // SAFETY: `attr` is initialized by pthread_getattr_np before use and destroyed after; the
    // out-pointers are valid locals. glibc may allocate here, through its own malloc (never through
    // Rust's global allocator).
    unsafe {
        let mut attr: libc::pthread_attr_t = core::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) == 0 {
            let mut addr: *mut libc::c_void = core::ptr::null_mut();
            let mut size: libc::size_t = 0;
            if libc::pthread_attr_getstack(&attr, &mut addr, &mut size) == 0 {
                low = addr as u64;
                top = low.wrapping_add(size as u64);
            }
            libc::pthread_attr_destroy(&mut attr);
        }
    }
    if top <= low {
        return None;
    }
    STACK.with(|c| c.set((low, top)));
    (low <= sp && sp < top).then_some(top)
}

fn slot(ip: u64) -> usize {
    (ip.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - TABLE_BITS)) as usize
}

fn rule_for(ip: u64) -> u64 {
    if ip == 0 {
        return PRESENT | STOP;
    }
    let start = slot(ip);
    for k in 0..PROBES {
        let i = (start + k) & (TABLE_SIZE - 1);
        let key = KEYS[i].load(Acquire);
        if key == ip {
            let r = RULES[i].load(Acquire);
            if r != 0 {
                return r;
            }
            break; // being inserted by another thread: compute it ourselves
        }
        if key == 0 {
            let r = compute(ip);
            if KEYS[i].compare_exchange(0, ip, AcqRel, Acquire).is_ok() {
                RULES[i].store(r, Release);
            }
            return r;
        }
    }
    compute(ip) // table region full: correct, just uncached
}

/// Where `ip`'s module keeps its `.eh_frame_hdr`, and the end of the loaded segment holding it.
#[derive(Default)]
struct Module {
    eh_frame_hdr: u64,
    segments: [(u64, u64); 16],
    nsegments: usize,
    found: bool,
}

unsafe extern "C" fn find_module(
    info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    data: *mut libc::c_void,
) -> libc::c_int {
    // SAFETY: dl_iterate_phdr passes a valid info pointer; `data` is the `(u64, Module)` that
    // `module_of` passed in, exclusively borrowed for the duration of the iteration.
    let (ip, m) = unsafe { &mut *(data as *mut (u64, Module)) };
    // SAFETY: as above.
    let info = unsafe { &*info };
    let base = info.dlpi_addr;
    let mut hit = false;
    let mut hdr = 0;
    let mut segs = [(0u64, 0u64); 16];
    let mut nsegs = 0;
    for i in 0..info.dlpi_phnum as usize {
        // SAFETY: dlpi_phdr points to dlpi_phnum program headers.
        let ph = unsafe { &*info.dlpi_phdr.add(i) };
        let start = base.wrapping_add(ph.p_vaddr);
        let end = start.wrapping_add(ph.p_memsz);
        if ph.p_type == libc::PT_LOAD {
            if (start..end).contains(ip) {
                hit = true;
            }
            if nsegs < segs.len() {
                segs[nsegs] = (start, end);
                nsegs += 1;
            }
        } else if ph.p_type == libc::PT_GNU_EH_FRAME {
            hdr = start;
        }
    }
    if hit {
        m.eh_frame_hdr = hdr;
        m.segments = segs;
        m.nsegments = nsegs;
        m.found = true;
        1
    } else {
        0
    }
}

fn module_of(ip: u64) -> Option<Module> {
    let mut data = (ip, Module::default());
    // SAFETY: `find_module` matches the callback signature and only reads loader-provided data and
    // writes into `data`, which outlives the call.
    unsafe {
        libc::dl_iterate_phdr(
            Some(find_module),
            &mut data as *mut (u64, Module) as *mut libc::c_void,
        )
    };
    let m = data.1;
    (m.found && m.eh_frame_hdr != 0).then_some(m)
}

impl Module {
    /// The loaded bytes from `addr` to the end of its segment.
    fn bytes_from(&self, addr: u64) -> Option<&'static [u8]> {
        let &(_, end) = self.segments[..self.nsegments]
            .iter()
            .find(|(s, e)| (*s..*e).contains(&addr))?;
        // SAFETY: [addr, end) lies inside a PT_LOAD segment of a loaded module, which stays mapped
        // (readable: it holds .eh_frame_hdr / .eh_frame) while the module is loaded.
        Some(unsafe { core::slice::from_raw_parts(addr as *const u8, (end - addr) as usize) })
    }
}

/// Evaluates the CFI of `ip` into a packed rule (STOP when it cannot be used).
fn compute(ip: u64) -> u64 {
    compute_inner(ip).unwrap_or(PRESENT | STOP)
}

/// `.eh_frame` of one module, read in place.
type Section = EhFrame<EndianSlice<'static, NativeEndian>>;

/// The parsed `.eh_frame_hdr` (with its binary-search table) and `.eh_frame` of the module containing
/// `addr`, with the base addresses their pointers are relative to.
fn frame_sections(
    addr: u64,
) -> Option<(
    ParsedEhFrameHdr<EndianSlice<'static, NativeEndian>>,
    Section,
    BaseAddresses,
)> {
    let m = module_of(addr)?;
    let hdr_bytes = m.bytes_from(m.eh_frame_hdr)?;
    let bases = BaseAddresses::default().set_eh_frame_hdr(m.eh_frame_hdr);
    let hdr = EhFrameHdr::new(hdr_bytes, NativeEndian)
        .parse(&bases, 8)
        .ok()?;
    let Pointer::Direct(eh_addr) = hdr.eh_frame_ptr() else {
        return None;
    };
    let eh_frame = EhFrame::new(m.bytes_from(eh_addr)?, NativeEndian);
    Some((hdr, eh_frame, bases.set_eh_frame(eh_addr)))
}

/// The address range `[start, end)` of the function containing `addr`, from its FDE.
pub(crate) fn function_range(addr: u64) -> Option<(u64, u64)> {
    let (hdr, eh_frame, bases) = frame_sections(addr)?;
    let fde = hdr
        .table()?
        .fde_for_address(&eh_frame, &bases, addr, Section::cie_from_offset)
        .ok()?;
    let start = fde.initial_address();
    Some((start, start.checked_add(fde.len())?))
}

fn compute_inner(ip: u64) -> Option<u64> {
    let (hdr, eh_frame, bases) = frame_sections(ip)?;
    let table = hdr.table()?;
    let mut ctx = UnwindContext::<usize, StoreOnStack>::new_in();
    let row = table
        .unwind_info_for_address(&eh_frame, &bases, &mut ctx, ip, Section::cie_from_offset)
        .ok()?;
    let mut rule = PRESENT;
    match *row.cfa() {
        CfaRule::RegisterAndOffset { register, offset } => {
            if register == X86_64::RBP {
                rule |= CFA_RBP;
            } else if register != X86_64::RSP {
                return None;
            }
            rule |= u64::from(i32::try_from(offset).ok()? as u32);
        }
        _ => return None,
    }
    match row.register(X86_64::RA) {
        Some(RegisterRule::Offset(-8)) => {}
        _ => return None, // undefined (outermost frame) or unusual: stop
    }
    match row.register(X86_64::RBP) {
        None | Some(RegisterRule::SameValue) | Some(RegisterRule::Undefined) => {}
        Some(RegisterRule::Offset(o)) => {
            rule |= RBP_SAVED | (u64::from(i16::try_from(o).ok()? as u16) << 32);
        }
        _ => return None,
    }
    Some(rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn level3(out: &mut [u64]) -> Option<usize> {
        std::hint::black_box(unwind(out))
    }

    #[inline(never)]
    fn level2(out: &mut [u64]) -> Option<usize> {
        std::hint::black_box(level3(out))
    }

    #[inline(never)]
    fn level1(out: &mut [u64]) -> Option<usize> {
        std::hint::black_box(level2(out))
    }

    fn name_of(ip: u64) -> String {
        let mut name = String::new();
        backtrace::resolve((ip - 1) as *mut core::ffi::c_void, |s| {
            if name.is_empty() {
                if let Some(n) = s.name() {
                    name = n.to_string();
                }
            }
        });
        name
    }

    #[test]
    fn walks_known_frames_and_matches_the_platform_unwinder() {
        let mut out = [0u64; 32];
        let n = level1(&mut out).expect("on the thread's own stack");
        assert!(n >= 4, "only {n} frames");
        let names: Vec<String> = out[..3].iter().map(|&ip| name_of(ip)).collect();
        assert!(names[0].contains("level3"), "{names:?}");
        assert!(names[1].contains("level2"), "{names:?}");
        assert!(names[2].contains("level1"), "{names:?}");
        // The cached second walk gives the same addresses (but for this test's own call site).
        let mut again = [0u64; 32];
        let m = level1(&mut again).expect("on the thread's own stack");
        assert_eq!(n, m);
        assert_eq!(out[..3], again[..3]);
        assert_eq!(out[4..n], again[4..m]);
        // Every address the platform unwinder reports past our frames appears in ours too.
        let mut platform = Vec::new();
        backtrace::trace(|f| {
            platform.push(f.ip() as u64);
            true
        });
        let ours: std::collections::HashSet<u64> = out[..n].iter().copied().collect();
        let common = platform.iter().filter(|ip| ours.contains(ip)).count();
        // Only level3, level2, level1 and this test's own call site differ.
        assert!(
            common + 4 >= n,
            "ours {:?}\nplatform {platform:?}",
            &out[..n]
        );
    }

    #[test]
    fn stack_bounds_accept_only_this_threads_stack() {
        let local = 0u64;
        let on_stack = std::hint::black_box(&local) as *const u64 as u64;
        assert!(stack_top(on_stack).is_some_and(|top| top > on_stack));
        let heap = Box::new(0u64);
        assert_eq!(stack_top(&*heap as *const u64 as u64), None);
    }

    #[test]
    fn unwinds_on_a_spawned_thread() {
        let n = std::thread::spawn(|| {
            let mut out = [0u64; 32];
            level1(&mut out)
        })
        .join()
        .expect("thread");
        assert!(n.expect("on the thread's own stack") >= 4);
    }
}
