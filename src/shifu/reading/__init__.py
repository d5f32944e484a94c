"""Reading and scoring a reply: Signals (the one model of a good reply), the word lists, the readers, the rubric, the validity harness and the optional LLM judge."""
