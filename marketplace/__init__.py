"""Mercado Abierto: the application and what every domain shares."""
