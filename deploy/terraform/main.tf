# The AI DevOps Platform on AWS: ECS Fargate services for the receiver, workers, sink,
# notifier and read API; Amazon MSK (or your Kafka); DynamoDB tables generated from the code
# (dynamodb.tf.json); an S3 bucket for detector snapshots; Secrets Manager for the tokens;
# an HTTPS load balancer in front of the receiver. See the README, "On AWS".

locals {
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition

  vpc_id             = var.create_vpc ? aws_vpc.this[0].id : var.vpc_id
  vpc_cidr           = var.create_vpc ? var.vpc_cidr : data.aws_vpc.existing[0].cidr_block
  public_subnet_ids  = var.create_vpc ? aws_subnet.public[*].id : var.public_subnet_ids
  private_subnet_ids = var.create_vpc ? aws_subnet.private[*].id : var.private_subnet_ids

  kafka_bootstrap   = var.create_msk ? aws_msk_cluster.this[0].bootstrap_brokers_sasl_iam : var.kafka_bootstrap_servers
  kafka_cluster_arn = var.create_msk ? aws_msk_cluster.this[0].arn : var.kafka_cluster_arn
  kafka_protocol    = var.create_msk ? "SASL_SSL" : var.kafka_security_protocol
  kafka_mechanism   = var.create_msk ? "OAUTHBEARER" : var.kafka_sasl_mechanism
  kafka_iam         = local.kafka_mechanism == "OAUTHBEARER" && local.kafka_cluster_arn != ""

  # What the processes are called in Kafka (the code's defaults, set explicitly below).
  topics = {
    samples    = "samples"
    scores     = "scores"
    alerts     = "alerts"
    checkpoint = "aidevops-detector-checkpoints"
  }
  groups = {
    worker   = "aidevops-worker"
    sink     = "aidevops-storage"
    notifier = "aidevops-notifier"
  }

  # Settings every process reads (see the README's configuration tables).
  common_environment = merge(
    {
      AIDEVOPS_KAFKA_BOOTSTRAP_SERVERS = local.kafka_bootstrap
      AIDEVOPS_KAFKA_SECURITY_PROTOCOL = local.kafka_protocol
      AIDEVOPS_SAMPLES_TOPIC           = local.topics.samples
      AIDEVOPS_SCORES_TOPIC            = local.topics.scores
      AIDEVOPS_ALERTS_TOPIC            = local.topics.alerts
      AIDEVOPS_SAMPLES_PARTITIONS      = tostring(var.samples_partitions)
      AIDEVOPS_DYNAMODB_TABLE_PREFIX   = var.table_prefix
      AIDEVOPS_DYNAMODB_REGION         = var.region
      # Terraform owns the tables: the tasks get no CreateTable permission.
      AIDEVOPS_DYNAMODB_CREATE_TABLES = "false"
    },
    local.kafka_mechanism == "" ? {} : { AIDEVOPS_KAFKA_SASL_MECHANISM = local.kafka_mechanism },
    local.kafka_mechanism == "OAUTHBEARER" ? { AIDEVOPS_KAFKA_SASL_AWS_REGION = var.region } : {},
  )

  log_groups = toset(["receiver", "worker", "sink", "notifier", "api"])
}

data "aws_vpc" "existing" {
  count = var.create_vpc ? 0 : 1
  id    = var.vpc_id
}

# One customer-managed key for logs, tables, the bucket, secrets and MSK storage.
resource "aws_kms_key" "this" {
  description             = "${var.name}: logs, DynamoDB, S3 snapshots, secrets, MSK"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "Account"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogs"
        Effect    = "Allow"
        Principal = { Service = "logs.${var.region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnLike = {
            "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${var.region}:${local.account}:log-group:*"
          }
        }
      },
    ]
  })
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}

resource "aws_cloudwatch_log_group" "service" {
  for_each          = local.log_groups
  name              = "/ecs/${var.name}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
}
