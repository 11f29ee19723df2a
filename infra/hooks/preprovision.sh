#!/bin/sh
# azd preprovision hook: make sure the Entra ID app registration of App Service Authentication exists, with the
# app roles of infra/app-roles.json (approver, admin, auditor), and put its client id into the azd environment
# (AUTH_CLIENT_ID, read by infra/main.parameters.json). Idempotent: an existing AUTH_CLIENT_ID is kept and its
# roles are updated. Needs: az (signed in with rights to create app registrations), azd.
set -eu
here=$(dirname "$0")
roles="$here/../app-roles.json"
client_id=$(azd env get-value AUTH_CLIENT_ID 2>/dev/null || true)
env_name=$(azd env get-value AZURE_ENV_NAME)
if [ -z "$client_id" ] || ! az ad app show --id "$client_id" >/dev/null 2>&1; then
  client_id=$(az ad app create --display-name "case-workflow-$env_name" --sign-in-audience AzureADMyOrg \
    --enable-id-token-issuance true --app-roles "@$roles" --query appId -o tsv)
  az ad sp create --id "$client_id" >/dev/null
  az ad app update --id "$client_id" --identifier-uris "api://$client_id"
  azd env set AUTH_CLIENT_ID "$client_id"
  echo "created app registration $client_id with the roles of infra/app-roles.json"
else
  az ad app update --id "$client_id" --app-roles "@$roles"
  echo "app registration $client_id: app roles updated from infra/app-roles.json"
fi
