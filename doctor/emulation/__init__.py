"""Emulation room: binfmt_misc entries, QEMU interpreters and definitions, the execution probes."""
