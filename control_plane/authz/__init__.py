"""Authorization: Cedar schema and policy loading, entity building, decide and explain."""
