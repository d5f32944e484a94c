"""The role-play: a scenario, the buyer's rules and engine, its voices, transcripts and attempts, the chat widget."""
