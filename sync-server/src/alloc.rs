//! The process allocator. glibc's malloc spent a tenth of the sync path's CPU and, like
//! mimalloc's defaults, kept the 19 MiB argon2 buffers of idle threads (four concurrent
//! log-ins left 131 MB resident, as mimalloc 3 waits a second and then only purges on later
//! activity of the same thread); told to purge at once, it keeps the speed and gives that
//! memory back (measured: 131 MB → 32 MB).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc's option enum (index 15 in both v2 and v3; the sys
/// crate names no constant).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Makes freed memory go back to the OS immediately. Call first thing in `main`.
#[allow(unsafe_code)]
pub fn return_freed_memory_at_once() {
    // SAFETY: mi_option_set only stores an integer in mimalloc's option table, which
    // mimalloc reads atomically; it is valid to call at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) }
}

/// The current purge delay in milliseconds.
#[allow(unsafe_code)]
// `c_long` is 32 bits on Windows, 64 on Linux.
#[allow(clippy::useless_conversion)]
pub fn purge_delay() -> i64 {
    // SAFETY: reads an option value; no preconditions.
    i64::from(unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_option_number_is_mimallocs_purge_delay() {
        // mimalloc 3's default purge delay is 1000 ms (options.c): the number names that option.
        assert_eq!(super::purge_delay(), 1000);
        super::return_freed_memory_at_once();
        assert_eq!(super::purge_delay(), 0);
    }
}
