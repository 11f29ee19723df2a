#!/bin/sh
# azd postprovision hook: finish App Service Authentication once the app and the Key Vault exist.
# 1. the app's sign-in redirect URI on the app registration;
# 2. a client secret for the registration, stored in Key Vault as auth-client-secret (the app setting
#    MICROSOFT_PROVIDER_AUTHENTICATION_SECRET references it) unless one is there already;
# 3. a reminder of the app secrets the operator sets (docs/deploy.md, "Secrets").
# Needs: az signed in with "Key Vault Secrets Officer" on the vault.
set -eu
client_id=$(azd env get-value AUTH_CLIENT_ID)
url=$(azd env get-value AZURE_FUNCTION_APP_URL)
vault=$(azd env get-value AZURE_KEY_VAULT_NAME)
az ad app update --id "$client_id" --web-redirect-uris "$url/.auth/login/aad/callback"
if ! az keyvault secret show --vault-name "$vault" --name auth-client-secret >/dev/null 2>&1; then
  secret=$(az ad app credential reset --id "$client_id" --append --display-name easy-auth --years 1 \
    --query password -o tsv)
  az keyvault secret set --vault-name "$vault" --name auth-client-secret --value "$secret" --output none
  echo "stored a new App Service Authentication client secret in $vault/auth-client-secret"
fi
for name in github-webhook-secret github-token case-decision-signing-key; do
  if ! az keyvault secret show --vault-name "$vault" --name "$name" >/dev/null 2>&1; then
    echo "warning: Key Vault secret $name is not set yet (docs/deploy.md, Secrets)"
  fi
done
