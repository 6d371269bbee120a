"""LLM-I Studio: the domain (protocol, parser, article, engine) and the app around it."""
