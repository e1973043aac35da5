//! The engine worker on the CPU backend (Flex).

fn main() {
    modnet_web::engine::run_worker(modnet_web::messages::EngineKind::Cpu);
}
