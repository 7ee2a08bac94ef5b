"""Host-facts room: the platform vocabulary, ELF and ARM ABI reading, kernel/userland/CPU facts, the matrix."""
