"""The core: tag protocol, stream lexer, article, events, engine, tool runner, agent, prompts, grammar, chart writer."""
