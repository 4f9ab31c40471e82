#!/usr/bin/env bash
# Writes the portal's config.json (shared/web/src/config.rs `PortalConfig`) from the platform
# stack's outputs and uploads it to the portal bucket. Run after every `sam deploy`.
#
#   infra/write-config.sh [stack-name]        (default: atelier; region from AWS_REGION or the CLI profile)
#
# Writes: {"apiUrl": …, "region": …, "userPoolId": …, "userPoolClientId": …}
set -euo pipefail

stack=${1:-atelier}
output() {
  aws cloudformation describe-stacks --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue | [0]" --output text
}

api_url=$(output ApiUrl)
region=$(output Region)
user_pool_id=$(output UserPoolId)
client_id=$(output UserPoolClientId)
bucket=$(output PortalBucketName)
distribution=$(output PortalDistributionId)

for v in "$api_url" "$region" "$user_pool_id" "$client_id" "$bucket"; do
  if [[ -z "$v" || "$v" == "None" ]]; then
    echo "stack $stack is missing an output (is it deployed, in this region?)" >&2
    exit 1
  fi
done

config=$(mktemp)
trap 'rm -f "$config"' EXIT
python3 - "$api_url" "$region" "$user_pool_id" "$client_id" > "$config" <<'PY'
import json, sys
api_url, region, pool, client = sys.argv[1:5]
print(json.dumps({"apiUrl": api_url, "region": region, "userPoolId": pool, "userPoolClientId": client}, indent=2))
PY

aws s3 cp "$config" "s3://$bucket/config.json" \
  --content-type application/json --cache-control "no-cache, no-store, must-revalidate"
aws cloudfront create-invalidation --distribution-id "$distribution" --paths /config.json > /dev/null
echo "wrote s3://$bucket/config.json:"
cat "$config"
