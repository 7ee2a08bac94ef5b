# Release images for the web app and its worker.
variable "TAG" {
  default = "dev"
}

variable "ARM_PLATFORMS" {
  default = "linux/arm64,linux/arm/v7"
}

variable "REGISTRY" {
  default = "ghcr.io/example"
}

group "default" {
  targets = ["app", "worker"]
}

group "release" {
  targets = ["default", "docs"]
}

target "_base" {
  context   = "."
  platforms = ["linux/amd64", "${ARM_PLATFORMS}"]
  output    = ["type=image,push=true"]
}

target "app" {
  inherits   = ["_base"]
  dockerfile = "docker/Dockerfile"
  tags       = ["${REGISTRY}/app:${TAG}"]
}

target "worker" {
  inherits   = ["app"]
  target     = "runtime"
  platforms  = ["linux/amd64", "arm64", "linux/riscv64"]
}

target "docs" {
  context = "docs"
  output  = ["type=docker"]
}
