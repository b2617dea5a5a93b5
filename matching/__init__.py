"""Pure matching code: tokenizer, ranker, planner. Imports nothing of the web or the database."""
