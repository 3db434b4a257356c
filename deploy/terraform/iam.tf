# Least privilege: one task role per process, each allowed only what that process's code
# does, on this stack's tables, bucket, topics and consumer groups. tests/unit/test_terraform.py
# checks these lists against the DynamoDB and S3 calls in the code.

locals {
  # DynamoDB: table (key of aws_dynamodb_table in dynamodb.tf.json) and actions per process.
  dynamodb_access = {
    sink = {
      tables  = ["scores", "alerts"]
      actions = ["dynamodb:DescribeTable", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"]
    }
    api = {
      tables  = ["scores", "alerts"]
      actions = ["dynamodb:DescribeTable", "dynamodb:Query"]
    }
    notifier = {
      tables  = ["alert_configs"]
      actions = ["dynamodb:DescribeTable", "dynamodb:Query"]
    }
    # The workers read every tenant's controls (thresholds, exclusions).
    worker = {
      tables  = ["alert_configs"]
      actions = ["dynamodb:Scan"]
    }
  }

  # DynamoDB writes besides the sink's, each on one table: the console (api) edits alert
  # routes; the notifier records each delivery's outcome beside its alert.
  dynamodb_writes = {
    api = {
      tables  = ["alert_configs"]
      actions = ["dynamodb:DescribeTable", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem"]
    }
    notifier = {
      tables  = ["alerts"]
      actions = ["dynamodb:BatchWriteItem"]
    }
  }

  # S3 (the workers' snapshots): ListBucket makes a missing snapshot a 404, not a 403.
  snapshot_actions = ["s3:GetObject", "s3:PutObject"]

  # Kafka (MSK IAM): topics each process reads, writes or creates, and its consumer group.
  kafka_access = {
    receiver = {
      read   = []
      write  = [local.topics.samples]
      create = [local.topics.samples]
      groups = []
    }
    worker = {
      read   = [local.topics.samples, local.topics.checkpoint, "${local.groups.worker}-*"]
      write  = [local.topics.scores, local.topics.alerts, local.topics.checkpoint, "${local.groups.worker}-*"]
      create = [local.topics.samples, local.topics.scores, local.topics.alerts, local.topics.checkpoint, "${local.groups.worker}-*"]
      groups = [local.groups.worker]
    }
    sink = {
      read   = [local.topics.scores, local.topics.alerts]
      write  = []
      create = []
      groups = [local.groups.sink]
    }
    notifier = {
      read   = [local.topics.alerts]
      write  = []
      create = []
      groups = [local.groups.notifier]
    }
    api = {
      read   = [local.topics.scores] # the console's live scores: no consumer group, no commit
      write  = []
      create = []
      groups = []
    }
  }

  # arn:...:cluster/<name>/<uuid> -> arn:...:topic/<name>/<uuid>/ and group/<name>/<uuid>/
  kafka_topic_arn_prefix = replace(local.kafka_cluster_arn, ":cluster/", ":topic/")
  kafka_group_arn_prefix = replace(local.kafka_cluster_arn, ":cluster/", ":group/")

  kafka_grants = {
    read   = { sid = "KafkaRead", actions = ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"], arn_prefix = local.kafka_topic_arn_prefix }
    write  = { sid = "KafkaWrite", actions = ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"], arn_prefix = local.kafka_topic_arn_prefix }
    create = { sid = "KafkaCreateTopics", actions = ["kafka-cluster:DescribeTopic", "kafka-cluster:CreateTopic"], arn_prefix = local.kafka_topic_arn_prefix }
    groups = { sid = "KafkaGroup", actions = ["kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"], arn_prefix = local.kafka_group_arn_prefix }
  }

  table_arns = {
    scores        = aws_dynamodb_table.scores.arn
    alerts        = aws_dynamodb_table.alerts.arn
    alert_configs = aws_dynamodb_table.alert_configs.arn
  }
  processes = toset(["receiver", "worker", "sink", "notifier", "api"])
}

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ecs:${var.region}:${local.account}:*"]
    }
  }
}

# The execution role: ECS pulls the image, writes the logs and reads the secrets at start.
resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "PullFromECR"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # this action has no resource-level permissions
  }
  statement {
    sid       = "PullImageLayers"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
    resources = ["arn:${local.partition}:ecr:${var.region}:${local.account}:repository/*"]
  }
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [for group in aws_cloudwatch_log_group.service : "${group.arn}:*"]
  }
  statement {
    sid     = "Secrets"
    actions = ["secretsmanager:GetSecretValue"]
    resources = [
      aws_secretsmanager_secret.this["operator_token"].arn,
      aws_secretsmanager_secret.this["tenant_tokens"].arn,
      aws_secretsmanager_secret.this["telegram_bot_token"].arn,
    ]
  }
  statement {
    sid       = "DecryptSecrets"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.this.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${var.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "pull-log-secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# One task role per process.
resource "aws_iam_role" "task" {
  for_each           = local.processes
  name               = "${var.name}-${each.key}"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "task" {
  for_each = local.processes

  dynamic "statement" {
    for_each = contains(keys(local.dynamodb_access), each.key) ? [local.dynamodb_access[each.key]] : []
    content {
      sid     = "Tables"
      actions = statement.value.actions
      resources = flatten([
        for table in statement.value.tables : [local.table_arns[table], "${local.table_arns[table]}/index/*"]
      ])
    }
  }

  dynamic "statement" {
    for_each = contains(keys(local.dynamodb_writes), each.key) ? [local.dynamodb_writes[each.key]] : []
    content {
      sid       = "TableWrites"
      actions   = statement.value.actions
      resources = [for table in statement.value.tables : local.table_arns[table]]
    }
  }

  dynamic "statement" {
    for_each = each.key == "worker" ? [1] : []
    content {
      sid       = "SnapshotObjects"
      actions   = local.snapshot_actions
      resources = ["${aws_s3_bucket.snapshots.arn}/snapshots/*"]
    }
  }

  dynamic "statement" {
    for_each = each.key == "worker" ? [1] : []
    # No s3:prefix condition: a GetObject of a missing key has no prefix to match, and
    # would get 403 instead of 404. The bucket holds nothing but snapshots.
    content {
      sid       = "SnapshotListing"
      actions   = ["s3:ListBucket"]
      resources = [aws_s3_bucket.snapshots.arn]
    }
  }

  # Tables, the bucket and MSK storage are encrypted with the stack's key.
  dynamic "statement" {
    for_each = contains(["worker", "sink", "api", "notifier"], each.key) ? [1] : []
    content {
      sid       = "UseTheStackKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [aws_kms_key.this.arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["dynamodb.${var.region}.amazonaws.com", "s3.${var.region}.amazonaws.com"]
      }
    }
  }

  dynamic "statement" {
    for_each = local.kafka_iam ? [1] : []
    content {
      sid       = "KafkaConnect"
      actions   = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"]
      resources = [local.kafka_cluster_arn]
    }
  }

  # Read, write, create on topics; describe and join the consumer group.
  dynamic "statement" {
    for_each = {
      for kind, grant in local.kafka_grants : kind => grant
      if local.kafka_iam && length(local.kafka_access[each.key][kind]) > 0
    }
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = [for name in local.kafka_access[each.key][statement.key] : "${statement.value.arn_prefix}/${name}"]
    }
  }

  # A policy document needs one statement: a stack without Kafka IAM or tables.
  statement {
    sid       = "DescribeOwnLogGroup"
    actions   = ["logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.service[each.key].arn}:*"]
  }
}

resource "aws_iam_role_policy" "task" {
  for_each = local.processes
  name     = "${each.key}-least-privilege"
  role     = aws_iam_role.task[each.key].id
  policy   = data.aws_iam_policy_document.task[each.key].json
}
