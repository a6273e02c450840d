"""Agencies: the public buying organisations (entidades) and their officers."""
