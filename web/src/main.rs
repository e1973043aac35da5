//! The page: mounts the Leptos app. The model runs in an engine worker (see `bin/`).

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(modnet_web::app::App);
}
