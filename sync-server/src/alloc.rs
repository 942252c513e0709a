//! The process allocator, and how it is told to hand memory back.
//!
//! glibc's malloc spent a tenth of the sync path's CPU and kept its arenas' memory: the
//! flood benchmark's server reached 1.8 GB with it. mimalloc is faster, but two of its
//! defaults kept memory the server no longer used:
//! - it waits a second before purging freed memory, and then only on later activity of the
//!   same thread, so four concurrent log-ins left their 19 MiB argon2 buffers resident
//!   (131 MB; purging at once: 32 MB);
//! - it asks the kernel for transparent huge pages on its arenas, so touching one 64 KiB
//!   allocator page faulted in a 2 MiB page, and a purged 64 KiB piece of it could not be
//!   dropped. Under the flood benchmark the server peaked at 195–293 MB with them and
//!   142–150 MB without, and it rests at 30 MB instead of 45.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Numbers in mimalloc 3's option enum (`mi_option_e`; the sys crate names no constants).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
const MI_OPTION_ALLOW_THP: libmimalloc_sys::mi_option_t = 43;

/// Runs a binary's async `main` on a multi-threaded runtime, with the allocator told first
/// to hand memory back (before the runtime's threads start allocating).
pub fn block_on<F: std::future::Future>(main: F) -> std::io::Result<F::Output> {
    return_freed_memory_at_once();
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(main))
}

/// Makes freed memory go back to the OS at once, in small pieces.
fn return_freed_memory_at_once() {
    set_option(MI_OPTION_PURGE_DELAY, 0);
    set_option(MI_OPTION_ALLOW_THP, 0);
    // mimalloc reads its huge-page option when it starts, before `main`, and has already
    // asked for huge pages on its first arena; the process-wide switch covers those too.
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes one integer argument and only sets a flag on this
    // process's memory map; the other arguments must be zero.
    #[allow(unsafe_code)]
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

#[allow(unsafe_code)]
fn set_option(option: libmimalloc_sys::mi_option_t, value: std::os::raw::c_long) {
    // SAFETY: mi_option_set only stores an integer in mimalloc's option table, which
    // mimalloc reads atomically; it is valid to call at any time.
    unsafe { libmimalloc_sys::mi_option_set(option, value) }
}

#[cfg(test)]
#[allow(unsafe_code)]
// `c_long` is 32 bits on Windows, 64 on Linux.
#[allow(clippy::useless_conversion)]
fn option(option: libmimalloc_sys::mi_option_t) -> i64 {
    // SAFETY: reads an option value; no preconditions.
    i64::from(unsafe { libmimalloc_sys::mi_option_get(option) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_numbers_are_mimallocs_and_the_settings_take() {
        // mimalloc 3's defaults (options.c): purging after 1000 ms, huge pages allowed.
        // Were the numbers another option's, these would not hold.
        assert_eq!(option(MI_OPTION_PURGE_DELAY), 1000);
        assert_eq!(option(MI_OPTION_ALLOW_THP), 1);
        return_freed_memory_at_once();
        assert_eq!(option(MI_OPTION_PURGE_DELAY), 0);
        assert_eq!(option(MI_OPTION_ALLOW_THP), 0);
        #[cfg(target_os = "linux")]
        #[allow(unsafe_code)]
        // SAFETY: PR_GET_THP_DISABLE takes no argument and reads a flag.
        let disabled = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
        #[cfg(target_os = "linux")]
        assert_eq!(disabled, 1);
    }
}
