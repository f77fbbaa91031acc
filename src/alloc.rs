//! mimalloc's options: how soon freed memory goes back to the system.
//!
//! The binary allocates with mimalloc (`main.rs`) and purges freed pages at
//! once, which an idle daemon wants. Reading a large policy frees and
//! allocates tens of megabytes again and again (each piece's tokens, see
//! `policy/chunks.rs`): purged at once, every piece faulted its pages in
//! anew, a third of the time of reading 100,000 credentials.
//! [`lazily_purged`] keeps freed pages for the length of such a burst.
//! Where mimalloc is not the allocator (the library's tests), the options
//! are set and nothing reads them.

/// `mi_option_arena_eager_commit` and `mi_option_purge_delay` in mimalloc.h
/// (the Rust bindings name neither).
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long freed pages wait before a purge inside [`lazily_purged`], in
/// milliseconds (mimalloc's own default).
const BURST_PURGE_DELAY: libc::c_long = 10;

/// Arenas committed on demand and freed pages purged at once: for the idle
/// daemon (BENCHMARKS.md, "Idle daemon"). Called before `main`.
pub fn tune() {
    // SAFETY: setting options has no preconditions; they are read at use.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0);
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
    }
}

/// Runs `burst` with freed pages kept a moment for reuse, then purges what
/// it freed and restores the delay.
pub fn lazily_purged<T>(burst: impl FnOnce() -> T) -> T {
    // SAFETY: reading and setting options has no preconditions.
    let delay = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
    // SAFETY: as above.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, BURST_PURGE_DELAY) };
    let result = burst();
    // SAFETY: setting an option has no preconditions; mi_collect only frees
    // and purges memory nothing uses.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, delay);
        libmimalloc_sys::mi_collect(true);
    }
    result
}
