"""Foundations every layer uses: errors a user can act on, cooperative cancellation, progress. No torch."""
