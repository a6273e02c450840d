"""What every domain shares. Imports no domain."""
