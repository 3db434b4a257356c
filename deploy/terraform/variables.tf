variable "name" {
  description = "Prefix of every resource name (ECS cluster, roles, log groups, load balancer)."
  type        = string
  default     = "aidevops"
}

variable "region" {
  description = "AWS region of the whole stack."
  type        = string
}

variable "tags" {
  description = "Extra tags on every resource."
  type        = map(string)
  default     = {}
}

variable "image" {
  description = "The platform's container image (built from the repository's Dockerfile), e.g. ghcr.io/org/ai-devops-platform:1.2.0."
  type        = string
}

# Network: a new VPC, or existing subnets.
variable "create_vpc" {
  description = "Create a VPC (two public subnets for the load balancer, two private ones for tasks and MSK, one NAT gateway). False: give vpc_id and the subnet ids."
  type        = bool
  default     = true
}

variable "vpc_cidr" {
  description = "CIDR of the VPC created when create_vpc is true."
  type        = string
  default     = "10.42.0.0/16"
}

variable "availability_zones" {
  description = "Two zones for the created VPC's subnets; default <region>a and <region>b."
  type        = list(string)
  default     = []
}

variable "vpc_id" {
  description = "Existing VPC (create_vpc = false)."
  type        = string
  default     = null
}

variable "public_subnet_ids" {
  description = "Existing subnets for the load balancer (create_vpc = false)."
  type        = list(string)
  default     = []
}

variable "private_subnet_ids" {
  description = "Existing subnets for the tasks and MSK, with a route to the internet or VPC endpoints (create_vpc = false)."
  type        = list(string)
  default     = []
}

# Kafka: an MSK cluster (IAM access control over TLS), or bring your own bootstrap string.
variable "create_msk" {
  description = "Create an Amazon MSK cluster with IAM access control. False: give kafka_bootstrap_servers (and kafka_cluster_arn for IAM)."
  type        = bool
  default     = true
}

variable "msk_kafka_version" {
  description = "Kafka version of the MSK cluster."
  type        = string
  default     = "3.6.0"
}

variable "msk_instance_type" {
  description = "Broker instance type of the MSK cluster."
  type        = string
  default     = "kafka.m7g.large"
}

variable "msk_broker_count" {
  description = "Brokers of the MSK cluster (a multiple of the private subnets)."
  type        = number
  default     = 2
}

variable "msk_volume_size" {
  description = "EBS volume per broker, GiB."
  type        = number
  default     = 100
}

variable "kafka_bootstrap_servers" {
  description = "Bring-your-own Kafka: bootstrap host:port list (create_msk = false)."
  type        = string
  default     = ""
}

variable "kafka_cluster_arn" {
  description = "Bring-your-own MSK cluster ARN, to grant IAM access to its topics and groups (create_msk = false, kafka_sasl_mechanism = OAUTHBEARER)."
  type        = string
  default     = ""
}

variable "kafka_security_protocol" {
  description = "AIDEVOPS_KAFKA_SECURITY_PROTOCOL for bring-your-own Kafka (MSK created here: SASL_SSL)."
  type        = string
  default     = "SASL_SSL"
}

variable "kafka_sasl_mechanism" {
  description = "AIDEVOPS_KAFKA_SASL_MECHANISM for bring-your-own Kafka (MSK created here: OAUTHBEARER, i.e. IAM). Empty for none."
  type        = string
  default     = "OAUTHBEARER"
}

variable "samples_partitions" {
  description = "Partitions of the samples topic: the most workers that can share the load."
  type        = number
  default     = 12
}

variable "topic_replication_factor" {
  description = "Replication of the topics the platform creates."
  type        = number
  default     = 2
}

# Services.
variable "worker_min_count" {
  description = "Fewest worker tasks."
  type        = number
  default     = 2
}

variable "worker_max_count" {
  description = "Most worker tasks (no more than samples_partitions is useful)."
  type        = number
  default     = 8
}

variable "worker_cpu_target" {
  description = "Average worker CPU utilisation (%) autoscaling keeps."
  type        = number
  default     = 60
}

variable "receiver_count" {
  description = "Receiver tasks behind the load balancer."
  type        = number
  default     = 2
}

variable "certificate_arn" {
  description = "ACM certificate for the load balancer's HTTPS listener (the receiver's remote_write URL and the read API)."
  type        = string
}

variable "domain_name" {
  description = "DNS name the certificate covers and that points at the load balancer (your DNS); empty: the load balancer's own name in outputs."
  type        = string
  default     = ""
}

variable "allowed_cidrs" {
  description = "Networks allowed to reach the load balancer (your Prometheus servers)."
  type        = list(string)
}

variable "internal_load_balancer" {
  description = "Put the load balancer in the private subnets (Prometheus inside the VPC or peered)."
  type        = bool
  default     = false
}

variable "metrics_cidrs" {
  description = "Networks whose Prometheus scrapes the workers' /metrics on port 6066 (inside the VPC); default the VPC."
  type        = list(string)
  default     = []
}

variable "table_prefix" {
  description = "AIDEVOPS_DYNAMODB_TABLE_PREFIX: tables are <prefix>-scores, -alerts, -alert-configs."
  type        = string
  default     = "ai-devops-platform"
}

variable "telegram_default_chat_id" {
  description = "AIDEVOPS_TELEGRAM_DEFAULT_CHAT_ID: chat that receives every alert (optional)."
  type        = string
  default     = ""
}

variable "grafana_url_template" {
  description = "AIDEVOPS_GRAFANA_URL_TEMPLATE for links in alerts (optional)."
  type        = string
  default     = ""
}

variable "log_retention_days" {
  description = "CloudWatch log retention."
  type        = number
  default     = 365
}

variable "snapshot_retention_days" {
  description = "Days a replaced detector snapshot version is kept."
  type        = number
  default     = 7
}

variable "telegram_enabled" {
  description = "Give the notifier the Telegram bot token secret (put the token in it first); false: alerts go to the notifier's log."
  type        = bool
  default     = false
}
