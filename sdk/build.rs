//! Compiles the protocol definitions in the repository's `proto/` folder (shared with cm's Go
//! test fixtures) with protox, a pure-Rust protobuf compiler, so building the SDK needs no
//! `protoc` on the machine.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "../proto/token_store.proto",
        "../proto/grpc_controller.proto",
        "../proto/grpc_stdio.proto",
        "../proto/grpc_broker.proto",
    ];
    for p in &protos {
        println!("cargo:rerun-if-changed={p}");
    }
    let fds = protox::compile(protos, ["../proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
