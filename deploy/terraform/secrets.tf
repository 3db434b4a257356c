# Secrets Manager: the operator's bearer token (the receiver, the read API and the workers'
# /metrics ask for it; Prometheus sends it), tenants' tokens, and the Telegram bot token.
# ECS injects them as environment variables at task start; they never appear in the task
# definition. Terraform generates the operator's token (so it is in the Terraform state:
# keep the state encrypted); put the bot token and tenant tokens in yourself:
#   aws secretsmanager put-secret-value --secret-id <name>-telegram-bot-token --secret-string ...

resource "random_password" "operator_token" {
  length  = 48
  special = false
}

locals {
  secrets_described = {
    operator_token     = "AIDEVOPS_AUTH_BEARER_TOKEN: what Prometheus sends with remote_write and scrapes"
    tenant_tokens      = "AIDEVOPS_TENANT_TOKENS: JSON map of tenant to bearer token"
    telegram_bot_token = "AIDEVOPS_TELEGRAM_BOT_TOKEN: the notifier's Telegram bot"
  }
}

resource "aws_secretsmanager_secret" "this" {
  #checkov:skip=CKV2_AWS_57:Static tokens held by Prometheus or issued by @BotFather; rotate by putting a new version, updating their holder and redeploying the services.
  for_each                = local.secrets_described
  name_prefix             = "${var.name}-${replace(each.key, "_", "-")}-"
  description             = each.value
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "operator_token" {
  secret_id     = aws_secretsmanager_secret.this["operator_token"].id
  secret_string = random_password.operator_token.result
}

# Yours to fill in (put-secret-value); Terraform writes a placeholder once and leaves it.
resource "aws_secretsmanager_secret_version" "tenant_tokens" {
  secret_id     = aws_secretsmanager_secret.this["tenant_tokens"].id
  secret_string = "{}"
  lifecycle {
    ignore_changes = [secret_string]
  }
}

resource "aws_secretsmanager_secret_version" "telegram_bot_token" {
  secret_id     = aws_secretsmanager_secret.this["telegram_bot_token"].id
  secret_string = "unset"
  lifecycle {
    ignore_changes = [secret_string]
  }
}
