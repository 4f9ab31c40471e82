//! What `make dev` prints once everything is up.

use crate::{Seeded, seed::USERS};

/// The start-up message: where the portal is, and who can sign in.
pub fn banner(url: &str, gateway: &str, moto: &str, seeded: &Seeded) -> String {
    let mut out = String::new();
    out.push_str("\nAtelier is running locally.\n\n");
    out.push_str(&format!("  Portal and API   {url}/\n"));
    out.push_str(&format!("  Portal config    {url}/config.json\n"));
    out.push_str(&format!("  Gateway          {gateway}/  (JupyterLab of each running workspace, from the portal)\n"));
    out.push_str(&format!(
        "  Local AWS (moto) {moto}  (user pool {}, app client {})\n\n",
        seeded.user_pool_id, seeded.client_id
    ));
    out.push_str(&format!("  Users (password: {}):\n", seeded.password));
    for user in USERS {
        out.push_str(&format!("    {:<6} {:<11} {}\n", user.username, user.group, user.cost_centre));
    }
    out.push_str("\n  Try it:\n");
    out.push_str(&format!(
        "    TOKEN=$(curl -s {moto}/ -H 'X-Amz-Target: AWSCognitoIdentityProviderService.InitiateAuth' \\\n      -H 'Content-Type: application/x-amz-json-1.1' \\\n      -d '{{\"AuthFlow\":\"USER_PASSWORD_AUTH\",\"ClientId\":\"{}\",\"AuthParameters\":{{\"USERNAME\":\"alice\",\"PASSWORD\":\"{}\"}}}}' \\\n      | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"AuthenticationResult\"][\"AccessToken\"])')\n",
        seeded.client_id, seeded.password
    ));
    out.push_str(&format!("    curl -s {url}/v1/products -H \"Authorization: Bearer $TOKEN\"\n\n"));
    out.push_str("  Stop with Ctrl-C (moto stops with it).\n");
    out
}
