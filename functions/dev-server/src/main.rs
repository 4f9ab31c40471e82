//! dev-server: the whole product on localhost, never deployed (`make dev`). Everything it
//! does is `atelier_devstack::dev_server`.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    atelier_web::init_tracing();
    match atelier_devstack::dev_server::run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("dev-server: {err}");
            ExitCode::FAILURE
        }
    }
}
