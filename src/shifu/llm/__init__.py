"""LLM endpoints: configuration, the one client every caller goes through, and `shifu llm check`."""
