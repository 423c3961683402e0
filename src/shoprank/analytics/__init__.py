"""Search analytics: impressions, click models, online experiments."""
