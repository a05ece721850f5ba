"""A procedural driving world written in the official SemanticKITTI formats (`occle synth`)."""
