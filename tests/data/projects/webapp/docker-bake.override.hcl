# Local override: the worker is only tried on amd64 here.
target "worker" {
  platforms = ["linux/amd64"]
  output    = ["type=docker"]
}
