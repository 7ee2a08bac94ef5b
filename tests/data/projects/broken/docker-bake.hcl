target "app" {
  platforms = ["linux/amd64",
  dockerfile = "Dockerfile"
}
