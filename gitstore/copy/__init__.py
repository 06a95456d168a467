"""Bulk copy and sync operations (types shared with the snapshot API)."""
