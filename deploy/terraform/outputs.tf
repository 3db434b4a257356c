locals {
  public_host = var.domain_name != "" ? var.domain_name : aws_lb.this.dns_name
}

output "remote_write_url" {
  description = "The one line for prometheus.yml: remote_write url (send the operator token as a bearer token)."
  value       = "https://${local.public_host}/api/v1/write"
}

output "read_api_url" {
  description = "The read API: GET /api/v1/series/{series_id}/scores."
  value       = "https://${local.public_host}/api/v1/series/"
}

output "operator_token_secret_arn" {
  description = "Secrets Manager secret holding the operator's bearer token (aws secretsmanager get-secret-value)."
  value       = aws_secretsmanager_secret.this["operator_token"].arn
}

output "telegram_bot_token_secret_arn" {
  description = "Put the bot token here, then apply with telegram_enabled = true."
  value       = aws_secretsmanager_secret.this["telegram_bot_token"].arn
}

output "tenant_tokens_secret_arn" {
  description = "JSON map of tenant to token (AIDEVOPS_TENANT_TOKENS)."
  value       = aws_secretsmanager_secret.this["tenant_tokens"].arn
}

output "worker_metrics_dns" {
  description = "Prometheus inside the VPC: dns_sd_configs names [this], type A, port 6066."
  value       = "${aws_service_discovery_service.worker.name}.${aws_service_discovery_private_dns_namespace.this.name}"
}

output "kafka_bootstrap_servers" {
  description = "What the tasks connect to."
  value       = local.kafka_bootstrap
}

output "snapshot_bucket" {
  description = "Detector snapshots."
  value       = aws_s3_bucket.snapshots.bucket
}

output "dynamodb_tables" {
  description = "The platform's tables."
  value       = [aws_dynamodb_table.scores.name, aws_dynamodb_table.alerts.name, aws_dynamodb_table.alert_configs.name]
}
