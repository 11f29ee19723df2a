#!/bin/sh
# azd predeploy hook: the replay gate (docs/deploy.md, "Before every deployment"). Replays every open instance
# of the deployed app against the code about to be deployed; a non-zero exit stops `azd deploy`.
# The Durable HTTP API needs the durabletask_extension system key and, behind App Service Authentication, a
# bearer token for the app registration. Skipped only when the app has no deployment yet (first `azd up`).
set -eu
app=$(azd env get-value AZURE_FUNCTION_APP_NAME)
group=$(azd env get-value AZURE_RESOURCE_GROUP)
url=$(azd env get-value AZURE_FUNCTION_APP_URL)
client_id=$(azd env get-value AUTH_CLIENT_ID)
key=$(az functionapp keys list --name "$app" --resource-group "$group" \
  --query systemKeys.durabletask_extension -o tsv 2>/dev/null || true)
if [ -z "$key" ]; then
  echo "replay gate: $app has no Durable extension key yet (first deployment): nothing to replay"
  exit 0
fi
token=$(az account get-access-token --resource "api://$client_id" --query accessToken -o tsv)
python=${PYTHON:-.venv/bin/python}
exec "$python" -m tools.replay_gate --url "$url" --code "$key" --header "Authorization: Bearer $token"
