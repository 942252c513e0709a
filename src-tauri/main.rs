// No console window behind the app on Windows in release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> anyhow::Result<()> {
    software_rendering_without_gpu();
    image_time_capsule::run()
}

/// Without a GPU (no DRM render node: a VM, a remote desktop, Xvfb) WebKitGTK's accelerated
/// compositing runs on a software GL and holds about 95 MB of buffers for nothing, since
/// painting without it looks the same there. With a GPU, or when the person chose a mode
/// themselves, WebKit's default stays.
fn software_rendering_without_gpu() {
    #[cfg(target_os = "linux")]
    {
        const VAR: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";
        if std::env::var_os(VAR).is_some()
            || std::env::var_os("WEBKIT_DISABLE_DMABUF_RENDERER").is_some()
        {
            return;
        }
        let has_gpu = std::fs::read_dir("/dev/dri").is_ok_and(|entries| {
            entries
                .filter_map(Result::ok)
                .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
        });
        if !has_gpu {
            // SAFETY: the first thing main does, before any thread exists, so nothing reads
            // the environment concurrently. WebKit reads this when it starts, later.
            #[allow(unsafe_code)]
            unsafe {
                std::env::set_var(VAR, "1");
            }
        }
    }
}
