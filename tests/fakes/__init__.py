"""Test doubles for the host: a binfmt_misc that follows the kernel's rules, files, commands, packages."""
