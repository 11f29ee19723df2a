#!/bin/sh
# azd postprovision hook: finish App Service Authentication once the app and the Key Vault exist.
# 1. the app's sign-in redirect URI on the app registration;
# 2. a client secret for the registration, stored in Key Vault as auth-client-secret (the app setting
#    MICROSOFT_PROVIDER_AUTHENTICATION_SECRET references it) unless one is there already;
# 3. the console's form-token key, stored as case-console-form-key (app setting CASE_CONSOLE_FORM_KEY) unless one
#    is there already: an app-internal HMAC key nobody else needs, so it is made here (384 random bits);
# 4. when 2. or 3. stored a secret, a refresh of the app's Key Vault references, so the new secret is used now
#    rather than after the platform's next refresh (an unresolved reference reads as "not set" in the app);
# 5. a reminder of the app secrets the operator sets (docs/deploy.md, "Secrets").
# Needs: az signed in with "Key Vault Secrets Officer" on the vault.
set -eu
client_id=$(azd env get-value AUTH_CLIENT_ID)
url=$(azd env get-value AZURE_FUNCTION_APP_URL)
vault=$(azd env get-value AZURE_KEY_VAULT_NAME)
app=$(azd env get-value AZURE_FUNCTION_APP_NAME)
group=$(azd env get-value AZURE_RESOURCE_GROUP)
stored=no
az ad app update --id "$client_id" --web-redirect-uris "$url/.auth/login/aad/callback"
if ! az keyvault secret show --vault-name "$vault" --name auth-client-secret >/dev/null 2>&1; then
  secret=$(az ad app credential reset --id "$client_id" --append --display-name easy-auth --years 1 \
    --query password -o tsv)
  az keyvault secret set --vault-name "$vault" --name auth-client-secret --value "$secret" --output none
  echo "stored a new App Service Authentication client secret in $vault/auth-client-secret"
  stored=yes
fi
if ! az keyvault secret show --vault-name "$vault" --name case-console-form-key >/dev/null 2>&1; then
  az keyvault secret set --vault-name "$vault" --name case-console-form-key \
    --value "$(openssl rand -base64 48)" --output none
  echo "stored a new console form key in $vault/case-console-form-key"
  stored=yes
fi
if [ "$stored" = yes ]; then
  # https://learn.microsoft.com/azure/app-service/app-service-key-vault-references (rotation, refresh)
  app_id=$(az functionapp show --name "$app" --resource-group "$group" --query id -o tsv)
  az rest --method POST --output none \
    --uri "$app_id/config/configreferences/appsettings/refresh?api-version=2022-03-01" ||
    echo "warning: could not refresh the Key Vault references of $app; restart it (az functionapp restart)"
fi
for name in github-webhook-secret github-token case-decision-signing-key; do
  if ! az keyvault secret show --vault-name "$vault" --name "$name" >/dev/null 2>&1; then
    echo "warning: Key Vault secret $name is not set yet (docs/deploy.md, Secrets)"
  fi
done
