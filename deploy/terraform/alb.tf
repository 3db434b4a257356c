# HTTPS in front of the receiver (remote_write) and the read API; TLS ends here, the tasks
# listen in the private subnets only.

resource "aws_lb" "this" {
  #checkov:skip=CKV_AWS_91:Access logs need a log bucket of their own; the receiver counts every request by status on /metrics.
  #checkov:skip=CKV2_AWS_28:A WAF is for browsers' traffic; this listener takes authenticated remote_write from allowed_cidrs only. Attach one if your policy wants it.
  name                       = var.name
  load_balancer_type         = "application"
  internal                   = var.internal_load_balancer
  subnets                    = var.internal_load_balancer ? local.private_subnet_ids : local.public_subnet_ids
  security_groups            = [aws_security_group.alb.id]
  drop_invalid_header_fields = true
  enable_deletion_protection = true
  idle_timeout               = 60
}

resource "aws_lb_target_group" "service" {
  #checkov:skip=CKV_AWS_378:TLS ends at the load balancer; targets are tasks in private subnets that only its security group reaches.
  for_each    = { receiver = { port = 9201, path = "/readyz" }, api = { port = 9202, path = "/healthz" } }
  name        = "${var.name}-${each.key}"
  port        = each.value.port
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = local.vpc_id
  # SIGTERM lets in-flight remote-write requests finish (AIDEVOPS_SHUTDOWN_TIMEOUT_SECONDS).
  deregistration_delay = 15
  health_check {
    path                = each.value.path
    matcher             = "200"
    interval            = 15
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.service["receiver"].arn
  }
}

resource "aws_lb_listener_rule" "api" {
  listener_arn = aws_lb_listener.https.arn
  priority     = 10
  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.service["api"].arn
  }
  condition {
    path_pattern {
      values = ["/api/v1/series/*"]
    }
  }
}
