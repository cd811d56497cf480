"""Functions that return component trees. No data access, no callbacks."""
