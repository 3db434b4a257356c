# ECS Fargate: one service per process, in the private subnets. Workers scale on CPU between
# worker_min_count and worker_max_count; Prometheus finds them through Cloud Map DNS.

locals {
  healthcheck = "/usr/local/bin/aidevops-healthcheck"
  # Per process: command, CPU, memory, port, health check targets, extra settings.
  services = {
    receiver = {
      command = "receiver", cpu = 1024, memory = 2048, port = 9201, count = var.receiver_count
      health  = ["http://127.0.0.1:9201/readyz"]
      env     = { AIDEVOPS_RECEIVER_HOST = "0.0.0.0" }
    }
    worker = {
      command = "worker", cpu = 2048, memory = 4096, port = 6066, count = var.worker_min_count
      health  = ["http://127.0.0.1:6066/metrics"]
      env = {
        AIDEVOPS_WORKER_HOST              = "0.0.0.0"
        AIDEVOPS_WORKER_GROUP             = local.groups.worker
        AIDEVOPS_CHECKPOINT_TOPIC         = local.topics.checkpoint
        AIDEVOPS_TOPIC_REPLICATION_FACTOR = tostring(var.topic_replication_factor)
        AIDEVOPS_SNAPSHOT_URL             = "s3://${aws_s3_bucket.snapshots.bucket}/snapshots"
      }
    }
    sink = {
      command = "sink", cpu = 512, memory = 2048, port = null, count = 1
      health  = ["writable:/tmp"]
      env     = { AIDEVOPS_SINK_GROUP_ID = local.groups.sink }
    }
    notifier = {
      command = "notify", cpu = 256, memory = 512, port = null, count = 1
      health  = ["writable:/app/data"]
      env = merge(
        { AIDEVOPS_NOTIFY_GROUP_ID = local.groups.notifier },
        var.telegram_default_chat_id == "" ? {} : { AIDEVOPS_TELEGRAM_DEFAULT_CHAT_ID = var.telegram_default_chat_id },
        var.grafana_url_template == "" ? {} : { AIDEVOPS_GRAFANA_URL_TEMPLATE = var.grafana_url_template },
      )
    }
    api = {
      command = "api", cpu = 256, memory = 512, port = 9202, count = 1
      health  = ["http://127.0.0.1:9202/healthz"]
      env     = { AIDEVOPS_API_HOST = "0.0.0.0" }
    }
  }

  # Secrets ECS injects as environment variables, per process.
  secrets = {
    for name in keys(local.services) : name => concat(
      contains(["receiver", "worker", "api"], name) ? [
        { name = "AIDEVOPS_AUTH_BEARER_TOKEN", valueFrom = aws_secretsmanager_secret.this["operator_token"].arn },
      ] : [],
      contains(["receiver", "api"], name) ? [
        { name = "AIDEVOPS_TENANT_TOKENS", valueFrom = aws_secretsmanager_secret.this["tenant_tokens"].arn },
      ] : [],
      name == "notifier" && var.telegram_enabled ? [
        { name = "AIDEVOPS_TELEGRAM_BOT_TOKEN", valueFrom = aws_secretsmanager_secret.this["telegram_bot_token"].arn },
      ] : [],
    )
  }
}

resource "aws_ecs_cluster" "this" {
  name = var.name
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_service_discovery_private_dns_namespace" "this" {
  name        = "${var.name}.internal"
  description = "Workers' /metrics for Prometheus: dns_sd_configs worker.${var.name}.internal"
  vpc         = local.vpc_id
}

resource "aws_service_discovery_service" "worker" {
  name = "worker"
  dns_config {
    namespace_id   = aws_service_discovery_private_dns_namespace.this.id
    routing_policy = "MULTIVALUE"
    dns_records {
      type = "A"
      ttl  = 10
    }
  }
  health_check_custom_config {
    failure_threshold = 1
  }
}

resource "aws_ecs_task_definition" "service" {
  #checkov:skip=CKV_AWS_336:The worker (Faust's data directory) and the notifier (its sent log) write below /app; the image runs as an unprivileged user instead.
  for_each                 = local.services
  family                   = "${var.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task[each.key].arn
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
  container_definitions = jsonencode([{
    name        = each.key
    image       = var.image
    essential   = true
    command     = [each.value.command]
    environment = [for k, v in merge(local.common_environment, each.value.env) : { name = k, value = v }]
    secrets     = local.secrets[each.key]
    portMappings = each.value.port == null ? [] : [{
      containerPort = each.value.port
      protocol      = "tcp"
    }]
    healthCheck = {
      command     = concat(["CMD", "python", local.healthcheck], each.value.health)
      interval    = 15
      timeout     = 6
      retries     = 3
      startPeriod = each.key == "worker" ? 90 : 30
    }
    stopTimeout = each.key == "worker" ? 60 : 30
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.service[each.key].name
        awslogs-region        = var.region
        awslogs-stream-prefix = each.key
      }
    }
  }])
}

resource "aws_ecs_service" "service" {
  for_each               = local.services
  name                   = each.key
  cluster                = aws_ecs_cluster.this.id
  task_definition        = aws_ecs_task_definition.service[each.key].arn
  desired_count          = each.value.count
  launch_type            = "FARGATE"
  propagate_tags         = "SERVICE"
  enable_execute_command = false
  # A deploy starts the new tasks before stopping the old ones; the notifier never runs
  # twice (two notifiers would each send).
  deployment_minimum_healthy_percent = each.key == "notifier" ? 0 : 100
  deployment_maximum_percent         = each.key == "notifier" ? 100 : 200
  health_check_grace_period_seconds  = contains(["receiver", "api"], each.key) ? 60 : null

  network_configuration {
    subnets          = local.private_subnet_ids
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  dynamic "load_balancer" {
    for_each = contains(["receiver", "api"], each.key) ? [1] : []
    content {
      target_group_arn = aws_lb_target_group.service[each.key].arn
      container_name   = each.key
      container_port   = each.value.port
    }
  }

  dynamic "service_registries" {
    for_each = each.key == "worker" ? [1] : []
    content {
      registry_arn = aws_service_discovery_service.worker.arn
    }
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  lifecycle {
    ignore_changes = [desired_count] # autoscaling owns the workers' count
  }
}

resource "aws_appautoscaling_target" "worker" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.service["worker"].name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.worker_min_count
  max_capacity       = min(var.worker_max_count, var.samples_partitions)
}

resource "aws_appautoscaling_policy" "worker_cpu" {
  name               = "${var.name}-worker-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.worker.service_namespace
  resource_id        = aws_appautoscaling_target.worker.resource_id
  scalable_dimension = aws_appautoscaling_target.worker.scalable_dimension
  target_tracking_scaling_policy_configuration {
    target_value = var.worker_cpu_target
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
    # Each scale step rebalances the consumer group: do not flap.
    scale_in_cooldown  = 600
    scale_out_cooldown = 180
  }
}
