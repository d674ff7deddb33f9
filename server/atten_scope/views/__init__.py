"""Views: what is read off an analysis for a user (attention at a token, heatmap, units, flow, ...)."""
