//! The engine worker on burn's wgpu backend through WebGPU (built with the `webgpu` feature).

fn main() {
    modnet_web::engine::run_worker(modnet_web::messages::EngineKind::Gpu);
}
