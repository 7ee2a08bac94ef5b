"""Inspection room: what ELF files, directory trees and local images really are (`mab-doctor inspect`)."""
