"""Agent Memory Mesh runtime: tenant-scoped credentials, memory stores, retrieval and summaries."""
