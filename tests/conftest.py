"""Shared test set-up: the tests import the installed package (pip install -e .), no sys.path edits."""
