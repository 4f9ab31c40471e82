"""Static checks of the user pool's app clients (issue 14), read from the template.

Run by `make infra-lint`. One test per rule:
  - access and ID tokens last at most 15 minutes: the API checks them offline, so this is how
    long a disabled or demoted user keeps their rights there (docs/adr/0004-auth.md);
  - every client can revoke its refresh tokens, hides whether a user exists, and has no secret
    (the portal is a public client);
  - no client enables a flow that sends the password itself (USER_PASSWORD_AUTH, or the
    server-side ADMIN_USER_PASSWORD_AUTH).
(The local pool, groups and table are built from this template and compared with it by
tests/integration/local_stack.rs.)
"""

from __future__ import annotations

import unittest
from pathlib import Path

from cfn import resources

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"
MINUTES = {"seconds": 1 / 60, "minutes": 1, "hours": 60, "days": 24 * 60}
# Cognito's defaults when TokenValidityUnits leaves a token out.
DEFAULT_UNITS = {"AccessToken": "hours", "IdToken": "hours", "RefreshToken": "days"}


class AppClients(unittest.TestCase):
    def setUp(self) -> None:
        self.clients = resources(TEMPLATE, "AWS::Cognito::UserPoolClient")
        self.assertTrue(self.clients, "the template defines no app client")

    def test_access_and_id_tokens_last_at_most_15_minutes(self) -> None:
        for name, client in self.clients.items():
            props = client["Properties"]
            units = props.get("TokenValidityUnits") or {}
            for token in ("AccessToken", "IdToken"):
                self.assertIn(f"{token}Validity", props, f"{name}: {token}Validity is Cognito's default (60 minutes)")
                minutes = props[f"{token}Validity"] * MINUTES[units.get(token, DEFAULT_UNITS[token])]
                self.assertLessEqual(minutes, 15, f"{name}: {token} lasts {minutes} minutes")

    def test_refresh_tokens_can_be_revoked_and_users_are_not_revealed(self) -> None:
        for name, client in self.clients.items():
            props = client["Properties"]
            self.assertIs(props.get("EnableTokenRevocation"), True, name)
            self.assertEqual(props.get("PreventUserExistenceErrors"), "ENABLED", name)
            self.assertIs(props.get("GenerateSecret"), False, name)

    def test_no_client_sends_the_password_itself(self) -> None:
        for name, client in self.clients.items():
            flows = set(client["Properties"].get("ExplicitAuthFlows") or [])
            self.assertFalse(flows & {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH"}, f"{name}: {sorted(flows)}")


if __name__ == "__main__":
    unittest.main()
