#!/usr/bin/env bash
# Deploys Atelier into one AWS account and region from infra/deploy.env (docs/deploy.md).
#
#   infra/deploy.sh check     offline: the config, the tools, the artefacts of `make package`,
#                             the portal build, the gateway key, `sam validate --lint`
#   infra/deploy.sh deploy    check, then the AWS credentials, then in order: network.yaml,
#                             the gateway's signing-key secret, template.yaml (sam deploy),
#                             the portal and its config.json (write-config.sh), the agent binary,
#                             products/portfolio.yaml, data-lake.yaml per lake bucket, and the
#                             catalog import
#
# `make deploy-check` and `make deploy` run it with the deploy venv's tools (aws, sam) on PATH.
# ATELIER_DEPLOY_ENV names another config file (default infra/deploy.env). Every step is
# idempotent: after a failure, fix the cause and run it again.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-}
case "$mode" in check | deploy) ;; *) echo "usage: infra/deploy.sh check|deploy" >&2; exit 2 ;; esac

config=${ATELIER_DEPLOY_ENV:-infra/deploy.env}
say() { printf 'deploy: %s\n' "$*"; }
die() { printf 'deploy: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- configuration
[[ -f "$config" ]] || die "no $config: cp infra/deploy.env.example $config and fill it in (docs/deploy.md, step 1)"
set -a
# shellcheck disable=SC1090
. "$config"
set +a

: "${STACK:=atelier}" "${DEPLOY_NETWORK:=yes}" "${DEPLOY_DATA_LAKE:=yes}" "${GATEWAY_NAT_GATEWAYS:=one}"
: "${AGENT_ARTIFACT_KEY:=atelier/agent/atelier-agent}" "${GATEWAY_ARCHITECTURE:=x86_64}"
: "${GATEWAY_PUBLIC_KEY_FILE:=infra/gateway.pub}" "${GATEWAY_SIGNING_KEY_FILE:=infra/gateway.key}"
: "${CATALOG_FILE:=infra/catalog.json}"

# NAME|what it is (the template parameter it sets): every one must be non-empty.
required=(
  "AWS_REGION|the region to deploy into"
  "STACK|the platform stack's name"
  "COGNITO_DOMAIN_PREFIX|template.yaml CognitoDomainPrefix"
  "DATA_LAKE_BUCKETS|template.yaml DataLakeBuckets"
  "CODEARTIFACT_DOMAIN|template.yaml and portfolio.yaml CodeArtifactDomain"
  "CODEARTIFACT_REPOSITORY|template.yaml and portfolio.yaml CodeArtifactRepository"
  "AGENT_ARTIFACT_BUCKET|template.yaml and portfolio.yaml AgentArtifactBucket"
  "GATEWAY_IMAGE_URI|template.yaml GatewayImageUri"
  "GATEWAY_CERTIFICATE_ARN|template.yaml GatewayCertificateArn"
  "GATEWAY_DOMAIN_NAME|template.yaml GatewayDomainName"
  "API_CERTIFICATE_ARN|template.yaml ApiCertificateArn"
  "API_DOMAIN_NAME|template.yaml ApiDomainName"
  "TEMPLATE_BUCKET|portfolio.yaml TemplateBucketName"
  "GIT_REMOTE_URL|portfolio.yaml GitRemoteUrl"
)
[[ "$DEPLOY_NETWORK" == yes ]] && required+=(
  "CORPORATE_CIDR|network.yaml CorporateCidr"
  "S3_PREFIX_LIST_ID|network.yaml S3PrefixListId"
  "DYNAMODB_PREFIX_LIST_ID|network.yaml DynamoDbPrefixListId"
)
[[ "$DEPLOY_DATA_LAKE" == yes ]] && required+=("DATA_LAKE_EXEMPT_PRINCIPAL_ARNS|data-lake.yaml ExemptPrincipalArns")

problems=()
for entry in "${required[@]}"; do
  name=${entry%%|*}
  [[ -n "${!name:-}" ]] || problems+=("$config: $name is not set (${entry#*|})")
done
check_choice() { # NAME value allowed...
  local name=$1 value=$2; shift 2
  local ok
  for ok in "$@"; do [[ "$value" == "$ok" ]] && return 0; done
  problems+=("$config: $name must be one of: $* (not '$value')")
}
check_choice DEPLOY_NETWORK "$DEPLOY_NETWORK" yes no
check_choice DEPLOY_DATA_LAKE "$DEPLOY_DATA_LAKE" yes no
check_choice GATEWAY_ARCHITECTURE "$GATEWAY_ARCHITECTURE" x86_64 arm64
check_choice GATEWAY_NAT_GATEWAYS "$GATEWAY_NAT_GATEWAYS" one per-az
check_pattern() { # NAME regex what
  local name=$1 re=$2
  [[ -z "${!name:-}" || "${!name}" =~ $re ]] || problems+=("$config: $name='${!name}' is not $3")
}
check_pattern AWS_REGION '^[a-z]{2}(-[a-z]+)+-[0-9]$' "a region name (eu-west-1)"
check_pattern COGNITO_DOMAIN_PREFIX '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' "a hosted UI prefix (lower case letters, digits, -)"
check_pattern DATA_LAKE_BUCKETS '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](,[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])*$' "bucket names separated by commas"
check_pattern AGENT_ARTIFACT_BUCKET '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$' "a bucket name"
check_pattern TEMPLATE_BUCKET '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$' "a bucket name"
check_pattern GATEWAY_IMAGE_URI '^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})$' \
  "an image in ECR (<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>)"
check_pattern GATEWAY_CERTIFICATE_ARN '^arn:aws[a-z-]*:acm:' "an ACM certificate ARN"
check_pattern API_CERTIFICATE_ARN '^arn:aws[a-z-]*:acm:' "an ACM certificate ARN"
check_pattern CORPORATE_CIDR '^[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}$' "a CIDR range"
if [[ "${CORPORATE_CIDR:-}" == 0.0.0.0/0 ]]; then problems+=("$config: CORPORATE_CIDR must not be 0.0.0.0/0"); fi
if [[ -n "${AWS_REGION:-}" && -n "${GATEWAY_IMAGE_URI:-}" && "$GATEWAY_IMAGE_URI" != *".dkr.ecr.$AWS_REGION.amazonaws.com/"* ]]; then
  problems+=("$config: GATEWAY_IMAGE_URI must be in AWS_REGION's ECR ($AWS_REGION): the tasks reach no other registry")
fi

# ---------------------------------------------------------------- tools and artefacts
for tool in aws sam cargo python3; do
  command -v "$tool" > /dev/null || problems+=("$tool is not on PATH (make deploy puts .venv/deploy/bin first; run it through make)")
done

# The functions are the template's: every CodeUri ../build/lambda/<name>/bootstrap.zip.
mapfile -t functions < <(sed -n 's|^ *CodeUri: \.\./build/lambda/\([A-Za-z0-9_-]*\)/bootstrap\.zip *$|\1|p' infra/template.yaml)
((${#functions[@]})) || problems+=("infra/template.yaml names no ../build/lambda/<name>/bootstrap.zip CodeUri")
architecture=
for f in "${functions[@]}"; do
  zip=build/lambda/$f/bootstrap.zip
  if [[ ! -f "$zip" ]]; then problems+=("$zip is missing: run make package (ARCH=x86_64 or arm64)"); continue; fi
  arch=$(cat "build/lambda/$f/architecture" 2> /dev/null || true)
  if [[ -z "$architecture" ]]; then architecture=$arch
  elif [[ "$arch" != "$architecture" ]]; then problems+=("build/lambda/$f was built for '$arch', the others for '$architecture': run make package again for all of them"); fi
done
case "$architecture" in x86_64 | arm64 | "") ;; *) problems+=("build/lambda/*/architecture says '$architecture': run make package again") ;; esac
[[ -f build/agent/atelier-agent ]] || problems+=("build/agent/atelier-agent is missing: run make package")
[[ -f frontend/dist/index.html ]] || problems+=("frontend/dist/index.html is missing: run make portal")
[[ -s "$GATEWAY_PUBLIC_KEY_FILE" ]] || problems+=("GATEWAY_PUBLIC_KEY_FILE $GATEWAY_PUBLIC_KEY_FILE is missing: run make gateway-keys")
if [[ -z "${GATEWAY_SIGNING_KEY_SECRET_ARN:-}" && ! -s "$GATEWAY_SIGNING_KEY_FILE" ]]; then
  problems+=("GATEWAY_SIGNING_KEY_SECRET_ARN is empty and GATEWAY_SIGNING_KEY_FILE $GATEWAY_SIGNING_KEY_FILE is missing: run make gateway-keys, or name the existing secret")
fi
[[ -f "$CATALOG_FILE" ]] || problems+=("CATALOG_FILE $CATALOG_FILE is missing (the products catalog-import publishes; docs/deploy.md, step 4)")

if ((${#problems[@]})); then
  printf 'deploy: %s\n' "${problems[@]}" >&2
  die "${#problems[@]} problem(s) before anything was deployed; docs/deploy.md says what each value is"
fi

sam validate --lint --template-file infra/template.yaml --region "$AWS_REGION" > /dev/null \
  || die "sam validate --lint failed on infra/template.yaml"
say "check passed: $config complete, ${#functions[@]} function zips ($architecture), agent, portal, gateway key, template valid"
[[ "$mode" == check ]] && exit 0

# ---------------------------------------------------------------- AWS from here on
export AWS_DEFAULT_REGION=$AWS_REGION # the AWS CLI v1 reads this one, not AWS_REGION
if ! identity=$(aws sts get-caller-identity --query Arn --output text 2>&1); then
  die "no usable AWS credentials for $AWS_REGION (aws sts get-caller-identity: ${identity//$'\n'/ }).
  Configure them (aws configure, AWS_PROFILE=<profile>, aws sso login, or the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN variables) and run make deploy again. Nothing was deployed."
fi
say "deploying as $identity into $AWS_REGION"

# shellcheck disable=SC2034 # into is a nameref: it fills the caller's array
words() { local -n into=$1; read -r -a into <<< "${2:-}"; } # space-separated Name=value extras
output() { # stack key
  aws cloudformation describe-stacks --stack-name "$1" \
    --query "Stacks[0].Outputs[?OutputKey=='$2'].OutputValue | [0]" --output text
}
# Every stack Atelier deploys is tagged as the platform's: CloudFormation puts a stack's tags on
# each resource it creates that takes tags (the interface endpoints, NAT gateways, KMS keys, the
# table, the functions, the API, the gateway...). Activated as a cost allocation tag, it is
# the overhead line of the users report (docs/adr/0006-costs.md, "The whole bill"). Workspaces
# are never in these stacks: Service Catalog provisions them in their own, tagged by owner.
PLATFORM_TAG=atelier:component=platform
cfn_deploy() { # stack template capabilities-or-"" Name=value...
  local stack=$1 template=$2 caps=$3; shift 3
  say "stack $stack ($template)"
  aws cloudformation deploy --stack-name "$stack" --template-file "$template" \
    ${caps:+--capabilities "$caps"} --no-fail-on-empty-changeset --tags "$PLATFORM_TAG" --parameter-overrides "$@"
}

# 1. The network (infra/README.md: network -> platform -> portfolio -> data-lake).
if [[ "$DEPLOY_NETWORK" == yes ]]; then
  network=(CorporateCidr="$CORPORATE_CIDR" S3PrefixListId="$S3_PREFIX_LIST_ID"
    DynamoDbPrefixListId="$DYNAMODB_PREFIX_LIST_ID" GatewayNatGateways="$GATEWAY_NAT_GATEWAYS")
  [[ -n "${CODEARTIFACT_ASSETS_BUCKET:-}" ]] && network+=(CodeArtifactAssetsBucket="$CODEARTIFACT_ASSETS_BUCKET")
  [[ -n "${ORGANIZATION_ID:-}" ]] && network+=(OrganizationId="$ORGANIZATION_ID")
  cfn_deploy "$STACK-network" infra/network.yaml CAPABILITY_IAM "${network[@]}"
fi

# 2. The gateway's signing key, in Secrets Manager (ECS reads it at task start).
secret_arn=${GATEWAY_SIGNING_KEY_SECRET_ARN:-}
if [[ -z "$secret_arn" ]]; then
  secret_name=atelier/$STACK/gateway-signing-key
  if ! secret_arn=$(aws secretsmanager describe-secret --secret-id "$secret_name" --query ARN --output text 2> /dev/null); then
    say "secret $secret_name from $GATEWAY_SIGNING_KEY_FILE"
    secret_arn=$(aws secretsmanager create-secret --name "$secret_name" \
      --description "Atelier gateway signing key (stack $STACK)" \
      --secret-string "file://$GATEWAY_SIGNING_KEY_FILE" --query ARN --output text)
    say "stored; shred $GATEWAY_SIGNING_KEY_FILE once the deploy works (the secret is the copy that counts)"
  fi
fi

# 3. The platform. The zips are the ones make package built; their architecture is passed on.
platform=(FunctionArchitecture="$architecture" Architecture="$GATEWAY_ARCHITECTURE"
  CognitoDomainPrefix="$COGNITO_DOMAIN_PREFIX" DataLakeBuckets="$DATA_LAKE_BUCKETS"
  CodeArtifactDomain="$CODEARTIFACT_DOMAIN" CodeArtifactRepository="$CODEARTIFACT_REPOSITORY"
  AgentArtifactBucket="$AGENT_ARTIFACT_BUCKET" AgentArtifactKey="$AGENT_ARTIFACT_KEY"
  GatewayImageUri="$GATEWAY_IMAGE_URI" GatewaySigningKeySecretArn="$secret_arn"
  GatewayCertificateArn="$GATEWAY_CERTIFICATE_ARN" GatewayDomainName="$GATEWAY_DOMAIN_NAME")
[[ -n "${GATEWAY_HOSTED_ZONE_ID:-}" ]] && platform+=(GatewayHostedZoneId="$GATEWAY_HOSTED_ZONE_ID")
platform+=(ApiCertificateArn="$API_CERTIFICATE_ARN" ApiDomainName="$API_DOMAIN_NAME")
[[ -n "${API_HOSTED_ZONE_ID:-}" ]] && platform+=(ApiHostedZoneId="$API_HOSTED_ZONE_ID")
words extra "${PLATFORM_PARAMETERS:-}"
platform+=("${extra[@]}")
if [[ -n "${SAM_S3_BUCKET:-}" ]]; then uploads=(--s3-bucket "$SAM_S3_BUCKET" --s3-prefix "$STACK"); else uploads=(--resolve-s3); fi
say "stack $STACK (infra/template.yaml, functions $architecture)"
sam deploy --template-file infra/template.yaml --stack-name "$STACK" --region "$AWS_REGION" \
  --capabilities CAPABILITY_IAM "${uploads[@]}" --no-confirm-changeset --no-fail-on-empty-changeset \
  --tags "$PLATFORM_TAG" --parameter-overrides "${platform[@]}"

# 4. The portal's assets, then its config.json from the stack's outputs.
portal_bucket=$(output "$STACK" PortalBucketName)
say "portal assets to s3://$portal_bucket/"
aws s3 sync frontend/dist "s3://$portal_bucket/" --delete --exclude config.json
infra/write-config.sh "$STACK"

# 5. The workspace agent (workspaces install it at first boot; running ones keep their copy).
say "agent to s3://$AGENT_ARTIFACT_BUCKET/$AGENT_ARTIFACT_KEY"
aws s3 cp build/agent/atelier-agent "s3://$AGENT_ARTIFACT_BUCKET/$AGENT_ARTIFACT_KEY"

# 6. The products: their templates, then the portfolio (a fixed-name policy: CAPABILITY_NAMED_IAM).
for product in infra/products/workstation-*.yaml; do
  aws s3 cp "$product" "s3://$TEMPLATE_BUCKET/atelier/products/"
done
portfolio=(TemplateBucketName="$TEMPLATE_BUCKET"
  WorkspacesApiRoleArn="$(output "$STACK" WorkspacesApiRoleArn)" StateSyncRoleArn="$(output "$STACK" StateSyncRoleArn)"
  CatalogApiRoleArn="$(output "$STACK" CatalogApiRoleArn)"
  CodeArtifactDomain="$CODEARTIFACT_DOMAIN" CodeArtifactRepository="$CODEARTIFACT_REPOSITORY"
  AgentArtifactBucket="$AGENT_ARTIFACT_BUCKET" AgentArtifactKey="$AGENT_ARTIFACT_KEY"
  GitRemoteUrl="$GIT_REMOTE_URL" GatewayPublicKey="$(cat "$GATEWAY_PUBLIC_KEY_FILE")")
words extra "${PORTFOLIO_PARAMETERS:-}"
portfolio+=("${extra[@]}")
cfn_deploy "$STACK-products" infra/products/portfolio.yaml CAPABILITY_NAMED_IAM "${portfolio[@]}"

# 7. The data perimeter, once per lake bucket.
if [[ "$DEPLOY_DATA_LAKE" == yes ]]; then
  IFS=, read -r -a buckets <<< "$DATA_LAKE_BUCKETS"
  words extra "${DATA_LAKE_PARAMETERS:-}"
  for bucket in "${buckets[@]}"; do
    cfn_deploy "$STACK-lake-$bucket" infra/data-lake.yaml "" \
      BucketName="$bucket" ExemptPrincipalArns="$DATA_LAKE_EXEMPT_PRINCIPAL_ARNS" "${extra[@]}"
  done
fi

# 8. The catalog: the products the portal offers, through Atelier's admin use case.
table=$(output "$STACK" TableName)
say "catalog $CATALOG_FILE into $table"
# Publishing needs what the deployment's provisioner needs (the platform's Provisioner parameter).
provisioner=service-catalog
platform_words=()
words platform_words "${PLATFORM_PARAMETERS:-}"
for word in "${platform_words[@]}"; do
  [[ "$word" == Provisioner=* ]] && provisioner=${word#Provisioner=}
done
ATELIER_TABLE=$table ATELIER_PROVISIONER=$provisioner AWS_REGION=$AWS_REGION \
  cargo run --quiet --release -p catalog-import -- --file "$CATALOG_FILE"

say "done. Portal: $(output "$STACK" PortalUrl)  Gateway: $(output "$STACK" GatewayUrl)"
say "then, by hand (docs/deploy.md): the tool packages in CodeArtifact, the users and their groups"
