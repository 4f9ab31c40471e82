"""What SAM makes of the HTTP API: the template translated as `sam deploy` translates it.

`make sam-validate` runs this file in the deploy venv (which has the translator) with
ATELIER_SAM_TRANSLATE=1; `make infra-lint`, whose venv cannot hold the translator (checkov and
aws-sam-translator pin different pydantic releases), skips it. A property written in the
template is not enough: SAM rewrites `AWS::Serverless::HttpApi` into an OpenAPI body, and a
CORS configuration that is valid YAML can come out as something API Gateway ignores (an `If`
around the whole origin list became a list where an object belongs: no preflight would pass).
"""

from __future__ import annotations

import os
import unittest
from pathlib import Path

from cfn import load

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"
REQUIRED = os.environ.get("ATELIER_SAM_TRANSLATE") == "1"


def translated() -> dict:
    from samtranslator.translator.transform import transform

    template = load(TEMPLATE)
    for resource in template["Resources"].values():
        # The zips are uploaded by `sam deploy`; the translator wants an S3 URI in their place.
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://atelier-artifacts/function.zip"

    class NoManagedPolicies:
        def load(self) -> dict:
            return {}

    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-3")
    return transform(template, {"PortalOrigin": "https://atelier.example.org"}, NoManagedPolicies())


@unittest.skipUnless(REQUIRED, "run by make sam-validate, in the deploy venv")
class HttpApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.resources = translated()["Resources"]
        cls.body = cls.resources["HttpApi"]["Properties"]["Body"]

    def test_cors_is_an_object_naming_the_portal_origins(self) -> None:
        cors = self.body["x-amazon-apigateway-cors"]
        self.assertIsInstance(cors, dict, cors)
        self.assertEqual(
            cors["allowOrigins"],
            [{"Fn::Sub": "https://${PortalDistribution.DomainName}"}, {"Fn::If": ["HasPortalOrigin", "https://atelier.example.org", {"Ref": "AWS::NoValue"}]}],
        )
        self.assertEqual(cors["allowHeaders"], ["authorization", "content-type", "idempotency-key"])
        self.assertEqual(cors["allowMethods"], ["GET", "POST", "PUT", "DELETE"])
        # The finance download names its file (Content-Disposition); a 503 says when to retry.
        self.assertEqual(cors["exposeHeaders"], ["location", "content-disposition", "retry-after"])

    def test_the_execute_api_address_is_off(self) -> None:
        servers = self.body["servers"]
        self.assertEqual(servers, [{"x-amazon-apigateway-endpoint-configuration": {"disableExecuteApiEndpoint": True}}])

    def test_the_api_is_mapped_to_its_name_on_its_stage(self) -> None:
        mapping = self.resources["ApiDomainMapping"]["Properties"]
        stage = mapping["Stage"]["Ref"]
        self.assertEqual(self.resources[stage]["Type"], "AWS::ApiGatewayV2::Stage")
        self.assertEqual(self.resources[stage]["Properties"]["ApiId"], {"Ref": "HttpApi"})


if __name__ == "__main__":
    unittest.main()
