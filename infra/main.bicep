// The case workflow app in Azure: a Python 3.11 Function App on the Flex Consumption plan.
//
// Everything is declared here as plain resources (no registry modules) so checkov can see every property.
// Storage is reached only by managed identity (AzureWebJobsStorage__accountName, no keys), secrets are Key Vault
// references, and App Service Authentication (Microsoft Entra ID) guards every route except /api/events
// (function key + webhook signature) and /api/health. The durable backend is a parameter: Azure Storage
// (default) or the Durable Task Scheduler. docs/deploy.md explains each step; the app settings the code reads
// are listed in infra/app-settings.json (checked by tests/unit/infra/test_app_settings_json.py).
//
// Resource types and API versions: https://learn.microsoft.com/azure/templates/ (Microsoft.Web/sites with
// functionAppConfig for Flex Consumption, Microsoft.Web/sites/config authsettingsV2,
// Microsoft.DurableTask/schedulers and schedulers/taskHubs).

targetScope = 'resourceGroup'

@minLength(1)
@maxLength(64)
@description('azd environment name; used to derive resource names and the azd-env-name tag.')
param environmentName string

@description('Azure region of every resource.')
param location string = resourceGroup().location

@allowed([
  'AzureStorage'
  'DurableTaskScheduler'
])
@description('Durable Functions backend: the storage account (default) or the Durable Task Scheduler.')
param durableBackend string = 'AzureStorage'

@allowed([
  'Consumption'
  'Dedicated'
])
@description('Durable Task Scheduler SKU (only with durableBackend = DurableTaskScheduler).')
param schedulerSku string = 'Consumption'

@description('Client (application) id of the Entra ID app registration used by App Service Authentication (infra/hooks/preprovision.sh creates it with the app roles of infra/app-roles.json).')
param authClientId string

@description('Tenant of the app registration.')
param authTenantId string = subscription().tenantId

@description('Durable task hub name; the same as host.json extensions.durableTask.hubName.')
param taskHubName string = 'CaseWorkflowHub'

@description('Largest number of Flex Consumption instances.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory of one Flex Consumption instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Address ranges allowed to reach the Durable Task Scheduler (at least one entry; an empty list denies everything).')
param schedulerIpAllowlist array = [
  '0.0.0.0/0'
]

var token = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var tags = {
  'azd-env-name': environmentName
}
var useScheduler = durableBackend == 'DurableTaskScheduler'
var storageName = take('st${token}', 24)
var deploymentContainer = 'app-package-${take(token, 10)}'
var vaultName = take('kv-${token}', 24)
var appName = 'func-case-${token}'
var schedulerName = 'dts-case-${token}'

// Built-in role definition ids (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  durableTaskDataContributor: '0ad04412-c4d5-4796-b79c-f76d14c8d402'
}

// ---------------------------------------------------------------------------------------------- monitoring
resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-case-${token}'
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-case-${token}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logs.id
    DisableLocalAuth: true // ingestion only with Entra ID (APPLICATIONINSIGHTS_AUTHENTICATION_STRING below)
  }
}

// ------------------------------------------------------------------------------------------------- storage
resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_43:The name is take('st'+uniqueString(...), 24): lower-case letters and digits, 3-24 characters; checkov cannot evaluate the expression.
  // checkov:skip=CKV_AZURE_59:Flex Consumption without a virtual network reaches its storage over the public endpoint; shared keys are disabled, so only RBAC-granted identities get in.
  name: storageName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_GRS'
  }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false // identity only: no account keys, no SAS
    defaultToOAuthAuthentication: true
    publicNetworkAccess: 'Enabled'
    sasPolicy: {
      expirationAction: 'Log'
      sasExpirationPeriod: '01.00:00:00'
    }
    networkAcls: {
      // checkov:skip=CKV_AZURE_35:Flex Consumption without a virtual network reaches storage over its public endpoint; access is RBAC-only (shared keys are disabled).
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource packageContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainer
  properties: {
    publicAccess: 'None'
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

// ----------------------------------------------------------------------------------------------- key vault
resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_189:Key Vault references of an app without a virtual network resolve over the public endpoint; RBAC-only access.
  name: vaultName
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      // checkov:skip=CKV_AZURE_109:App Service Key Vault references from an app without a virtual network need the public endpoint; access is RBAC-only (Key Vault Secrets User for the app identity).
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

// ---------------------------------------------------------------------------------- durable task scheduler
resource scheduler 'Microsoft.DurableTask/schedulers@2025-11-01' = if (useScheduler) {
  name: schedulerName
  location: location
  tags: tags
  properties: {
    sku: {
      name: schedulerSku
    }
    ipAllowlist: schedulerIpAllowlist
  }
}

resource schedulerHub 'Microsoft.DurableTask/schedulers/taskHubs@2025-11-01' = if (useScheduler) {
  parent: scheduler
  name: taskHubName
}

// ------------------------------------------------------------------------------------------- function app
resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225:Zone redundancy of Flex Consumption depends on the region; turn on properties.zoneRedundant where the region offers it (docs/deploy.md).
  name: 'plan-case-${token}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222:The app receives public webhooks (/api/events); every other route requires Entra ID sign-in (authsettingsV2 below).
  // checkov:skip=CKV_AZURE_212:Flex Consumption scales per function from zero; instance minimums (alwaysReady) are a cost choice, durable state survives instance loss.
  // checkov:skip=CKV_AZURE_213:App Service health check is not available on Flex Consumption; /api/health is the liveness route for external probes.
  name: appName
  location: location
  tags: union(tags, {
    'azd-service-name': 'app'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false // checkov:skip=CKV_AZURE_17:Callers authenticate with Entra ID (App Service Authentication) or the function key plus webhook signature, not client certificates.
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainer}'
          authentication: {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// Basic (publishing-profile) credentials off: no FTP, no SCM basic auth; deployment uses Entra ID.
resource ftpPolicy 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPolicy 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'scm'
  properties: {
    allow: false
  }
}

var secretRef = 'https://${vaultName}${environment().suffixes.keyvaultDns}/secrets'
var baseSettings = {
  // host storage by identity (no keys): https://learn.microsoft.com/azure/azure-functions/functions-reference#connecting-to-host-storage-with-an-identity
  AzureWebJobsStorage__accountName: storage.name
  AzureWebJobsStorage__credential: 'managedidentity'
  APPLICATIONINSIGHTS_CONNECTION_STRING: insights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD'
  OTEL_LOGS_EXPORTER: 'none' // logs reach Application Insights through the Functions host
  CASE_EVENTS_QUEUE: 'case-events'
  CASE_NOTIFICATIONS_QUEUE: 'case-notifications'
  CASE_AUDIT_CONTAINER: 'case-audit'
  CASE_LEDGER_TABLE: 'caseledger'
  CASE_MAINTENANCE_SCHEDULE: '0 */5 * * * *'
  CASE_RETENTION_DAYS: '30'
  CASE_MAX_EVENT_BYTES: '262144'
  CASE_HTTP_TIMEOUT_SECONDS: '10'
  GITHUB_API_URL: 'https://api.github.com'
  // secrets: Key Vault references (https://learn.microsoft.com/azure/app-service/app-service-key-vault-references)
  GITHUB_WEBHOOK_SECRET: '@Microsoft.KeyVault(SecretUri=${secretRef}/github-webhook-secret)'
  GITHUB_TOKEN: '@Microsoft.KeyVault(SecretUri=${secretRef}/github-token)'
  CASE_DECISION_SIGNING_KEY: '@Microsoft.KeyVault(SecretUri=${secretRef}/case-decision-signing-key)'
  CASE_CONSOLE_FORM_KEY: '@Microsoft.KeyVault(SecretUri=${secretRef}/case-console-form-key)' // one key for every instance (form tokens)
  MICROSOFT_PROVIDER_AUTHENTICATION_SECRET: '@Microsoft.KeyVault(SecretUri=${secretRef}/auth-client-secret)'
}
// Durable Task Scheduler: host.json's storageProvider is overridden by app settings (AzureFunctionsJobHost__ prefix,
// https://learn.microsoft.com/azure/azure-functions/functions-app-settings#azurefunctionsjobhost__), so the same
// host.json serves both backends. docs/deploy.md shows the equivalent host.json block.
var schedulerSettings = useScheduler ? {
  DURABLE_TASK_SCHEDULER_CONNECTION_STRING: 'Endpoint=${scheduler.properties.endpoint};Authentication=ManagedIdentity'
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__type: 'azureManaged'
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName: 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING'
  AzureFunctionsJobHost__extensions__durableTask__hubName: taskHubName
} : {}

resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov:skip=CKV_AZURE_13:Site-level check applied to a config child resource; authentication is configured in authsettingsV2.
  // checkov:skip=CKV_AZURE_63:Site-level check applied to a config child resource; Functions logs go to Application Insights.
  // checkov:skip=CKV_AZURE_65:Site-level check applied to a config child resource; Functions logs go to Application Insights.
  // checkov:skip=CKV_AZURE_66:Site-level check applied to a config child resource; Functions logs go to Application Insights.
  // checkov:skip=CKV_AZURE_80:Site-level check applied to a config child resource; the app runs Python, not .NET.
  // checkov:skip=CKV_AZURE_88:Site-level check applied to a config child resource; Flex Consumption does not mount Azure Files.
  // checkov:skip=CKV_AZURE_222:Site-level check applied to a config child resource; see the site's justification.
  parent: app
  name: 'appsettings'
  properties: union(baseSettings, schedulerSettings)
  dependsOn: [
    blobOwner
    queueContributor
    tableContributor
    secretsUser
  ]
}

// App Service Authentication (Easy Auth v2): sign-in required everywhere except the event ingress and health.
resource auth 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov:skip=CKV_AZURE_13:Site-level check applied to a config child resource; authentication is configured in authsettingsV2.
  // checkov:skip=CKV_AZURE_63:Site-level check applied to a config child resource; Functions logs go to Application Insights.
  // checkov:skip=CKV_AZURE_65:Site-level check applied to a config child resource; Functions logs go to Application Insights.
  // checkov:skip=CKV_AZURE_66:Site-level check applied to a config child resource; Functions logs go to Application Insights.
  // checkov:skip=CKV_AZURE_80:Site-level check applied to a config child resource; the app runs Python, not .NET.
  // checkov:skip=CKV_AZURE_88:Site-level check applied to a config child resource; Flex Consumption does not mount Azure Files.
  // checkov:skip=CKV_AZURE_222:Site-level check applied to a config child resource; see the site's justification.
  parent: app
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'RedirectToLoginPage'
      redirectToProvider: 'azureactivedirectory'
      excludedPaths: [
        '/api/events'
        '/api/health'
      ]
    }
    httpSettings: {
      requireHttps: true
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: authClientId
          clientSecretSettingName: 'MICROSOFT_PROVIDER_AUTHENTICATION_SECRET' // checkov:skip=CKV_SECRET_6:the name of an app setting (a Key Vault reference), not a secret
          openIdIssuer: 'https://sts.windows.net/${authTenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            'api://${authClientId}'
            authClientId
          ]
        }
      }
    }
    login: {
      tokenStore: {
        enabled: true
      }
    }
  }
  dependsOn: [
    appSettings
  ]
}

// ------------------------------------------------------------------------------------------ role assignments
resource blobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: storage
  name: guid(storage.id, app.id, roles.storageBlobDataOwner)
  properties: {
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
  }
}

resource queueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: storage
  name: guid(storage.id, app.id, roles.storageQueueDataContributor)
  properties: {
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
  }
}

resource tableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: storage
  name: guid(storage.id, app.id, roles.storageTableDataContributor)
  properties: {
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
  }
}

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: vault
  name: guid(vault.id, app.id, roles.keyVaultSecretsUser)
  properties: {
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
  }
}

resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: insights
  name: guid(insights.id, app.id, roles.monitoringMetricsPublisher)
  properties: {
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
  }
}

resource schedulerContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (useScheduler) {
  scope: scheduler
  name: guid(schedulerName, app.id, roles.durableTaskDataContributor)
  properties: {
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.durableTaskDataContributor)
  }
}

// ----------------------------------------------------------------------------------------------- outputs (azd)
output AZURE_LOCATION string = location
output AZURE_FUNCTION_APP_NAME string = app.name
output AZURE_FUNCTION_APP_URL string = 'https://${app.properties.defaultHostName}'
output AZURE_KEY_VAULT_NAME string = vault.name
output AZURE_STORAGE_ACCOUNT_NAME string = storage.name
output DURABLE_BACKEND string = durableBackend
