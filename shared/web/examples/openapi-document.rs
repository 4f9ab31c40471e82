//! Prints the OpenAPI document the API serves at `/v1/openapi.json` (the fragments in
//! `shared/web/openapi/`, merged and checked). The portal's build generates its API types
//! from it: `cargo run -q -p atelier-web --example openapi-document > openapi.json`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let document = atelier_web::openapi::document()?;
    println!("{}", serde_json::to_string_pretty(&document)?);
    Ok(())
}
